"""The generic tool loop, against a scripted model behind an httpx2.MockTransport."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2
import openai
import pytest

from replaygate.llm.agent import Decoding, Tool, run_tool_loop
from replaygate.core.rollout import ToolCall

LOOKUP_SPEC = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look a thing up.",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
    },
}


def lookup(q: str) -> dict[str, Any]:
    if q == "bad":
        raise ValueError("q must not be 'bad'")
    return {"found": q.upper()}


LOOKUP = Tool(LOOKUP_SPEC, lookup)
USER = [{"role": "user", "content": "find it"}]


def tool_call(name: str, arguments: str, call_id: str = "call_1") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def reply(content: str | None = None, calls: list[dict[str, Any]] | None = None, usage=(10, 2)) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    body: dict[str, Any] = {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 0,
        "model": "scripted",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
    }
    if usage is not None:
        body["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}
    return body


class ScriptedModel:
    """Answers each chat-completions call with the next scripted response, and keeps the bodies it got."""

    def __init__(self, *answers: Any):
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(json.loads(request.content))
        self.headers.append(dict(request.headers))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, httpx2.Response):
            return answer
        return httpx2.Response(200, json=answer)


def run(model: ScriptedModel, tools=(LOOKUP,), decoding: Decoding | None = None, **kwargs):
    async def go():
        async with httpx2.AsyncClient(transport=httpx2.MockTransport(model)) as http:
            client = openai.AsyncOpenAI(api_key="k", base_url="http://scripted.invalid/v1", http_client=http, max_retries=0)
            return await run_tool_loop(client, decoding or Decoding(model="scripted-1"), USER, list(tools), task_id="t-1", **kwargs)

    return asyncio.run(go())


def test_tool_call_then_answer():
    model = ScriptedModel(
        reply(calls=[tool_call("lookup", '{"q": "room"}')], usage=(10, 3)),
        reply("the answer is ROOM", usage=(25, 4)),
    )
    rollout = run(model)

    assert rollout.error is None and rollout.error_kind is None
    assert rollout.final_text == "the answer is ROOM"
    assert rollout.task_id == "t-1" and rollout.repeat == 0
    assert rollout.tool_calls == [ToolCall(name="lookup", arguments='{"q": "room"}', result='{"found": "ROOM"}', error=None)]
    assert (rollout.usage.input_tokens, rollout.usage.output_tokens, rollout.usage.calls) == (35, 7, 2)
    assert rollout.messages == [
        {"role": "user", "content": "find it"},
        {"role": "assistant", "content": None, "tool_calls": [tool_call("lookup", '{"q": "room"}')]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"found": "ROOM"}'},
        {"role": "assistant", "content": "the answer is ROOM"},
    ]
    # The second request carried the tool result back to the model.
    assert len(model.requests) == 2
    assert model.requests[1]["messages"][2] == {"role": "tool", "tool_call_id": "call_1", "content": '{"found": "ROOM"}'}
    assert model.requests[0]["tools"] == [LOOKUP_SPEC]
    assert model.requests[0]["tool_choice"] == "auto"
    assert rollout.latency_s >= 0


def test_the_callers_messages_are_not_mutated():
    messages = [{"role": "user", "content": "hi"}]
    model = ScriptedModel(reply(calls=[tool_call("lookup", '{"q": "a"}')]), reply("done"))

    async def go():
        async with httpx2.AsyncClient(transport=httpx2.MockTransport(model)) as http:
            client = openai.AsyncOpenAI(api_key="k", base_url="http://s.invalid/v1", http_client=http, max_retries=0)
            return await run_tool_loop(client, Decoding("m"), messages, [LOOKUP], task_id="t")

    rollout = asyncio.run(go())
    assert messages == [{"role": "user", "content": "hi"}]
    assert len(rollout.messages) == 4


def test_answer_without_tools_and_missing_usage():
    model = ScriptedModel(reply("direct", usage=None))
    rollout = run(model)
    assert rollout.final_text == "direct"
    assert rollout.tool_calls == []
    assert rollout.error is None
    assert (rollout.usage.input_tokens, rollout.usage.output_tokens, rollout.usage.calls) == (0, 0, 1)


@pytest.mark.parametrize(
    "call, error_fragment",
    [
        pytest.param(tool_call("book_room", '{"q": "a"}'), "unknown tool 'book_room'", id="unknown-tool"),
        pytest.param(tool_call("lookup", '{"q": '), "arguments of lookup are not valid JSON", id="invalid-json"),
        pytest.param(tool_call("lookup", '["a"]'), "arguments of lookup must be a JSON object", id="not-an-object"),
        pytest.param(tool_call("lookup", '{"x": 1}'), "lookup:", id="wrong-argument"),
        pytest.param(tool_call("lookup", '{"q": "bad"}'), "lookup: q must not be 'bad'", id="tool-raises-valueerror"),
    ],
)
def test_bad_tool_calls_become_tool_errors_and_a_bad_tool_call_failure(call, error_fragment):
    model = ScriptedModel(reply(calls=[call]), reply("my answer"))
    rollout = run(model)

    assert len(rollout.tool_calls) == 1
    record = rollout.tool_calls[0]
    assert error_fragment in record.error
    assert json.loads(record.result) == {"error": record.error}
    # The model was told about the error in the tool message.
    assert json.loads(model.requests[1]["messages"][2]["content"]) == {"error": record.error}
    assert rollout.final_text == "my answer"
    assert rollout.error_kind == "bad_tool_call"
    assert error_fragment in rollout.error


def test_one_good_tool_call_among_bad_ones_is_not_a_bad_tool_call_failure():
    model = ScriptedModel(
        reply(calls=[tool_call("nope", "{}", "c1"), tool_call("lookup", '{"q": "x"}', "c2")]),
        reply("answer"),
    )
    rollout = run(model)
    assert [c.error is None for c in rollout.tool_calls] == [False, True]
    assert rollout.error is None
    assert [m["tool_call_id"] for m in rollout.messages if m["role"] == "tool"] == ["c1", "c2"]


def test_turn_limit():
    model = ScriptedModel(reply(calls=[tool_call("lookup", '{"q": "again"}')]))
    rollout = run(model, decoding=Decoding(model="m", max_turns=3))
    assert rollout.error_kind == "turn_limit"
    assert "no final answer within 3 turns" in rollout.error
    assert "lookup" in rollout.error
    assert len(model.requests) == 3
    assert rollout.final_text is None
    assert len(rollout.tool_calls) == 3
    assert not rollout.transport_failed


def test_http_500_is_an_infrastructure_failure_with_the_status():
    model = ScriptedModel(httpx2.Response(500, json={"error": {"message": "upstream broke", "type": "server_error"}}))
    rollout = run(model)
    # Past the SDK's retries (none here) a 5xx means no model answered: an error, not a score.
    assert rollout.error_kind == "infra"
    assert "answered 500 (InternalServerError: upstream broke" in rollout.error
    assert "\n" not in rollout.error
    assert len(model.requests) == 1  # max_retries=0: no retry
    assert rollout.transport_failed
    assert rollout.final_text is None


def test_api_error_after_a_tool_round_keeps_the_partial_trace():
    model = ScriptedModel(reply(calls=[tool_call("lookup", '{"q": "a"}')]), httpx2.Response(429, json={"error": {"message": "slow down"}}))
    rollout = run(model)
    assert rollout.error_kind == "infra" and "429" in rollout.error
    assert len(rollout.tool_calls) == 1 and rollout.tool_calls[0].error is None


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(httpx2.Response(200, content=b"not json", headers={"content-type": "application/json"}), id="not-json"),
        pytest.param(httpx2.Response(200, json={}), id="empty-object"),
        pytest.param(httpx2.Response(200, json={"choices": []}), id="no-choices"),
        pytest.param(httpx2.Response(200, json=[1, 2]), id="json-list"),
        pytest.param(httpx2.Response(200, json={"choices": "x"}), id="choices-not-a-list"),
        pytest.param(httpx2.Response(200, json={"choices": [{"message": 5}]}), id="message-not-an-object"),
        pytest.param(httpx2.Response(200, content=b"<html>gateway</html>", headers={"content-type": "text/html"}), id="html"),
        pytest.param(httpx2.Response(200, json={**reply("x"), "usage": "lots"}), id="usage-not-an-object"),
    ],
)
def test_malformed_response_ends_the_rollout_without_raising(response):
    rollout = run(ScriptedModel(response))
    assert rollout.error_kind in ("api", "malformed")
    assert rollout.error
    assert rollout.transport_failed


@pytest.mark.parametrize("seed, repeat", [(0, 0), (7, 0), (7, 3), (100, 1)])
def test_seed_sent_is_decoding_seed_plus_repeat(seed, repeat):
    model = ScriptedModel(reply(calls=[tool_call("lookup", '{"q": "a"}')]), reply("ok"))
    rollout = run(model, decoding=Decoding(model="scripted-9", temperature=0.3, seed=seed), repeat=repeat)
    assert rollout.repeat == repeat
    assert [r["seed"] for r in model.requests] == [seed + repeat] * 2
    assert all(r["model"] == "scripted-9" and r["temperature"] == 0.3 for r in model.requests)


def test_extra_headers_are_sent_on_every_call():
    model = ScriptedModel(reply(calls=[tool_call("lookup", '{"q": "a"}')]), reply("ok"))
    run(model, extra_headers={"x-evals-case": "suite/m/t-1.r0.json"})
    assert [h.get("x-evals-case") for h in model.headers] == ["suite/m/t-1.r0.json"] * 2
