"""The function test double (`replaygate.double`), driven through the real openai SDK over httpx2; no sockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2
import openai
import pytest

from replaygate.cassettes.cassette import CaseKey, CassetteLibrary
from replaygate.double import FunctionModel, ModelRequest, Reply, ToolCall, ToolResult
from replaygate.double.request import parse_request
from replaygate.llm.backend import Backend
from replaygate.llm.wire import text_of, tool_calls_of, usage_of

BASE_URL = "http://double.invalid/v1"
PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
CHAT_TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather now", "parameters": PARAMETERS}}]
RESPONSES_TOOLS = [{"type": "function", "name": "get_weather", "description": "Weather now", "parameters": PARAMETERS}]
NORMALIZED_TOOLS = [{"name": "get_weather", "description": "Weather now", "parameters": PARAMETERS}]


class Weather:
    """A function model for a one-tool loop: call get_weather, then answer with its output; keeps what it saw."""

    def __init__(self) -> None:
        self.seen: list[ModelRequest] = []

    def __call__(self, request: ModelRequest) -> Any:
        self.seen.append(request)
        if not request.tool_results:
            return ToolCall("get_weather", {"city": "Paris"})
        return f"It is {request.tool_results[0].output} in Paris."


def async_client(model: FunctionModel, **kwargs: Any) -> openai.AsyncOpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=BASE_URL, api_key="none", http_client=httpx2.AsyncClient(transport=model()), **kwargs)


def sync_client(model: FunctionModel, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=BASE_URL, api_key="none", http_client=httpx2.Client(transport=model()), **kwargs)


def without_call_ids(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for message in messages:
        message = {k: v for k, v in message.items() if k != "call_id"}
        if "tool_calls" in message:
            message["tool_calls"] = [{k: v for k, v in c.items() if k != "call_id"} for c in message["tool_calls"]]
        out.append(message)
    return out


EXPECTED_SECOND_TURN = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
    {"role": "tool", "name": "get_weather", "content": "18 C"},
]


# --- tool loops through the SDK -------------------------------------------------------------------


async def chat_loop(client: openai.AsyncOpenAI, model: str = "gpt-test") -> tuple[Any, Any]:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
    ]
    first = await client.chat.completions.create(model=model, messages=messages, tools=CHAT_TOOLS)
    call = first.choices[0].message.tool_calls[0]
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "18 C"},
    ]
    second = await client.chat.completions.create(model=model, messages=messages, tools=CHAT_TOOLS)
    return first, second


async def responses_loop(client: openai.AsyncOpenAI, model: str = "gpt-test") -> tuple[Any, Any]:
    first = await client.responses.create(model=model, instructions="Be brief.", input="Weather in Paris?", tools=RESPONSES_TOOLS)
    call = first.output[0]
    items = [{"role": "user", "content": "Weather in Paris?"}, *first.output, {"type": "function_call_output", "call_id": call.call_id, "output": "18 C"}]
    second = await client.responses.create(model=model, instructions="Be brief.", input=items, tools=RESPONSES_TOOLS)
    return first, second


def test_chat_completions_tool_loop():
    fn = Weather()
    first, second = asyncio.run(chat_loop(async_client(FunctionModel(fn))))

    assert first.object == "chat.completion" and first.model == "gpt-test" and first.created == 0
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]
    assert call.type == "function" and call.id.startswith("call_")
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Paris"})
    assert first.choices[0].message.content is None
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "It is 18 C in Paris."
    assert second.choices[0].message.tool_calls is None
    assert first.id != second.id

    asked, answered = fn.seen
    assert asked.api == "chat" and asked.model == "gpt-test" and asked.tools == NORMALIZED_TOOLS
    assert asked.messages == EXPECTED_SECOND_TURN[:2] and asked.tool_results == []
    assert without_call_ids(answered.messages) == EXPECTED_SECOND_TURN
    assert answered.messages[2]["tool_calls"][0]["call_id"] == answered.messages[3]["call_id"] == call.id
    assert answered.tool_results == [ToolResult(call_id=call.id, output="18 C", name="get_weather")]
    assert answered.response_format is None
    assert answered.body["messages"][3] == {"role": "tool", "tool_call_id": call.id, "content": "18 C"}

    # Usage counts words: "Be brief." + "Weather in Paris?" = 5 in; the call's name and arguments = 2 out.
    assert (first.usage.prompt_tokens, first.usage.completion_tokens, first.usage.total_tokens) == (5, 2, 7)
    assert (second.usage.prompt_tokens, second.usage.completion_tokens) == (9, 6)


def test_responses_tool_loop_with_function_call_output():
    fn = Weather()
    first, second = asyncio.run(responses_loop(async_client(FunctionModel(fn))))

    assert first.object == "response" and first.status == "completed" and first.created_at == 0
    assert first.model == "gpt-test" and first.id.startswith("resp_")
    [call] = first.output
    assert call.type == "function_call" and call.status == "completed" and call.call_id.startswith("call_")
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
    assert first.output_text == ""
    [message] = second.output
    assert message.type == "message" and message.role == "assistant" and message.status == "completed"
    assert message.content[0].type == "output_text"
    assert second.output_text == "It is 18 C in Paris."

    asked, answered = fn.seen
    assert asked.api == "responses" and asked.model == "gpt-test" and asked.tools == NORMALIZED_TOOLS
    assert asked.messages == EXPECTED_SECOND_TURN[:2] and asked.tool_results == []
    # The same conversation reads the same in both APIs, only the call ids differ.
    assert without_call_ids(answered.messages) == EXPECTED_SECOND_TURN
    assert answered.tool_results == [ToolResult(call_id=call.call_id, output="18 C", name="get_weather")]

    usage = second.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (9, 6, 15)
    assert usage.input_tokens_details.cached_tokens == 0 and usage.output_tokens_details.reasoning_tokens == 0


def test_sync_clients_and_an_async_function():
    seen: list[ModelRequest] = []

    async def echo(request: ModelRequest) -> Reply:
        seen.append(request)
        await asyncio.sleep(0)
        return Reply(text=f"echo: {request.messages[-1]['content']}", tool_calls=[ToolCall("log", {"n": len(seen)})])

    client = sync_client(FunctionModel(echo))
    chat = client.chat.completions.create(model="m", messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    assert chat.choices[0].message.content == "echo: hi"
    assert chat.choices[0].message.tool_calls[0].function.arguments == '{"n":1}'
    assert chat.choices[0].finish_reason == "tool_calls"
    response = client.responses.create(model="m", input=[{"role": "user", "content": [{"type": "input_text", "text": "there"}]}])
    assert response.output_text == "echo: there"
    assert [item.type for item in response.output] == ["message", "function_call"]
    assert [r.api for r in seen] == ["chat", "responses"]


def test_async_function_on_the_sync_transport_inside_a_running_loop():
    async def hello(request: ModelRequest) -> str:
        return "hello"

    async def main() -> str:
        # A sync client called from a coroutine: the double cannot use this thread's loop.
        return sync_client(FunctionModel(hello)).responses.create(model="m", input="x").output_text

    assert asyncio.run(main()) == "hello"


def test_azure_client_reaches_both_apis():
    fn = Weather()
    http = httpx2.AsyncClient(transport=FunctionModel(fn)())
    client = openai.AsyncAzureOpenAI(
        azure_endpoint="http://double.invalid", api_version="2024-10-21", azure_deployment="agent", api_key="k", http_client=http, max_retries=0
    )
    _, chat = asyncio.run(chat_loop(client, model="gpt-4o"))
    _, response = asyncio.run(responses_loop(client, model="gpt-4o"))
    assert chat.choices[0].message.content == response.output_text == "It is 18 C in Paris."
    assert chat.model == response.model == "gpt-4o"
    assert [r.api for r in fn.seen] == ["chat", "chat", "responses", "responses"]


def test_structured_output_formats_are_shown_to_the_function():
    fn = Weather()
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    client = sync_client(FunctionModel(fn))
    chat_format = {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}], response_format=chat_format)
    responses_format = {"type": "json_schema", "name": "a", "schema": schema}
    client.responses.create(model="m", input="q", text={"format": responses_format})
    assert [r.response_format for r in fn.seen] == [chat_format, responses_format]


def test_models_list_and_headers():
    transport = FunctionModel(Weather())()
    with httpx2.Client(transport=transport, base_url=BASE_URL) as http:
        models = http.get("/models")
        missing = http.get("/nowhere")
    assert models.status_code == 200 and models.json()["object"] == "list"
    for response in (models, missing):
        assert response.headers["x-simulator"] == "function-double"
        assert response.headers["content-type"] == "application/json"
    assert sync_client(FunctionModel(Weather())).models.list().data == []


def test_label_names_the_function_and_reaches_the_backend():
    def triage(request: ModelRequest) -> str:
        return "ok"

    model = FunctionModel(triage)
    assert model.label == "function test double triage (in-process; not a real model)"
    assert model().label == model.label
    assert FunctionModel(triage, name="router").label == "function test double router (in-process; not a real model)"
    assert "not a real model" in FunctionModel.label
    backend = Backend("sim", "sim").with_double(model, "rooms")
    assert backend.label == model.label
    assert isinstance(backend.transport(1), httpx2.AsyncBaseTransport)


# --- errors --------------------------------------------------------------------------------------


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text
    return text


def test_body_that_is_not_json_is_a_400():
    with httpx2.Client(transport=FunctionModel(Weather())(), base_url=BASE_URL) as http:
        for content in (b"{not json", b"\xff\xfe", b"[1, 2]"):
            response = http.post("/chat/completions", content=content)
            assert response.status_code == 400, content
            assert response.headers["x-simulator"] == "function-double"
            assert response.json()["error"]["type"] == "invalid_request_error"


def test_streaming_is_served_and_reads_as_the_unstreamed_answer():
    # More in tests/test_streaming.py: both APIs, sync and async, the .stream() helpers, delays.
    client = sync_client(FunctionModel(Weather()))
    chunks = list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True))
    (call,) = [c for chunk in chunks for c in chunk.choices[0].delta.tool_calls or [] if c.function.name]
    assert call.function.name == "get_weather" and chunks[-1].choices[0].finish_reason == "tool_calls"
    events = list(client.responses.create(model="m", input="hi", stream=True))
    assert events[-1].type == "response.completed"
    assert events[-1].response.output[0].arguments == client.responses.create(model="m", input="hi").output[0].arguments


def test_unknown_path_is_not_found():
    with pytest.raises(openai.NotFoundError) as caught:
        sync_client(FunctionModel(Weather())).embeddings.create(model="m", input="hi")
    assert "no route for POST /v1/embeddings" in one_line(caught.value)


def test_a_failing_function_is_a_one_line_500_and_is_not_retried():
    calls = []

    def flaky(request: ModelRequest) -> str:
        calls.append(request)
        raise ValueError("no answer for\nthis prompt")

    # The SDK's default retries are on: the double's x-should-retry header turns them off.
    client = async_client(FunctionModel(flaky), max_retries=2)
    with pytest.raises(openai.InternalServerError) as caught:
        asyncio.run(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}]))
    assert one_line(caught.value) == "Error code: 500 - function test double flaky raised ValueError: no answer for this prompt"
    assert caught.value.status_code == 500 and caught.value.response.headers["x-simulator"] == "function-double"
    assert len(calls) == 1


@pytest.mark.parametrize(
    "value, shown",
    [(42, "returned int"), ({"text": "hi"}, "returned dict"), (["hi"], "returned a list holding str"), (None, "returned NoneType")],
)
def test_an_unsupported_reply_is_a_500_naming_what_to_return(value, shown):
    def odd(request: ModelRequest) -> Any:
        return value

    with pytest.raises(openai.InternalServerError) as caught:
        sync_client(FunctionModel(odd)).responses.create(model="m", input="hi")
    message = one_line(caught.value)
    assert f"function test double odd {shown}; return a str, a ToolCall, a list of ToolCall or a Reply" in message


def test_tool_call_arguments_that_are_not_json_fail_in_the_function():
    def bad(request: ModelRequest) -> ToolCall:
        return ToolCall("f", {"x": {1, 2}})

    with pytest.raises(openai.InternalServerError) as caught:
        sync_client(FunctionModel(bad)).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert "function test double bad raised TypeError: ToolCall f arguments are not JSON" in one_line(caught.value)


# --- determinism ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path, body", [
    ("/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": CHAT_TOOLS}),
    ("/responses", {"model": "m", "input": "hi", "tools": RESPONSES_TOOLS}),
])
def test_identical_requests_give_byte_identical_responses(path, body):
    def post(payload: dict[str, Any]) -> bytes:
        # A fresh transport each time: nothing is remembered between calls.
        with httpx2.Client(transport=FunctionModel(Weather())(), base_url=BASE_URL) as http:
            response = http.post(path, json=payload)
            assert response.status_code == 200
            return response.content

    first = post(body)
    assert post(dict(reversed(body.items()))) == first  # key order is not part of the request
    assert post({**body, "model": "other"}) != first
    assert json.loads(first).get("created", 0) == json.loads(first).get("created_at", 0) == 0


# --- normalization on raw bodies -----------------------------------------------------------------


def test_responses_items_normalize_like_chat_messages():
    body = {
        "model": "m",
        "instructions": "sys",
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "dev"}]},
            {"role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "input_image", "image_url": "x"}, {"type": "input_text", "text": "b"}]},
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "checking"}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{\"a\": 1}"},
            {"type": "function_call", "call_id": "c2", "name": "g", "arguments": ""},
            {"type": "function_call_output", "call_id": "c1", "output": "one"},
            {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "two"}]},
        ],
        "tools": [*RESPONSES_TOOLS, {"type": "web_search"}],
    }
    request = parse_request("responses", body)
    assert request.messages == [
        {"role": "system", "content": "sys"},
        {"role": "developer", "content": "dev"},
        {"role": "user", "content": "a\nb"},
        {"role": "assistant", "content": "checking", "tool_calls": [
            {"call_id": "c1", "name": "f", "arguments": {"a": 1}},
            {"call_id": "c2", "name": "g", "arguments": {}},
        ]},
        {"role": "tool", "call_id": "c1", "name": "f", "content": "one"},
        {"role": "tool", "call_id": "c2", "name": "g", "content": "two"},
    ]
    assert request.tools == NORMALIZED_TOOLS
    assert [(r.name, r.output) for r in request.tool_results] == [("f", "one"), ("g", "two")]


def test_azure_deployment_names_the_model_when_the_body_does_not():
    with httpx2.Client(transport=FunctionModel(lambda request: "hi")()) as http:
        response = http.post(
            "http://double.invalid/openai/deployments/agent/chat/completions?api-version=2024-10-21",
            json={"messages": [{"role": "user", "content": "x"}]},
        )
    assert response.json()["model"] == "agent"


# --- record, then replay offline through the cassette library ------------------------------------


def test_responses_calls_record_then_replay_offline(tmp_path):
    key = CaseKey("double", "gpt-test", "weather")

    async def run(library: CassetteLibrary) -> tuple[Any, Any]:
        async with httpx2.AsyncClient(transport=library.transport()) as http:
            client = openai.AsyncOpenAI(base_url=BASE_URL, api_key="sk-not-a-real-key", http_client=http, max_retries=0)
            headers = library.headers_for(key)
            first = await client.responses.create(
                model="gpt-test", instructions="Be brief.", input="Weather in Paris?", tools=RESPONSES_TOOLS, extra_headers=headers
            )
            items = [
                {"role": "user", "content": "Weather in Paris?"},
                *first.output,
                {"type": "function_call_output", "call_id": first.output[0].call_id, "output": "18 C"},
            ]
            second = await client.responses.create(
                model="gpt-test", instructions="Be brief.", input=items, tools=RESPONSES_TOOLS, extra_headers=headers
            )
            return first, second

    fn = Weather()
    recorder = CassetteLibrary(tmp_path, "once", FunctionModel(fn)())
    recorded = asyncio.run(run(recorder))
    path = recorder.finish(key)
    assert path is not None and len(fn.seen) == 2 and recorder.simulator_seen
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert [i["request"]["uri"] for i in stored["interactions"]] == [f"{BASE_URL}/responses"] * 2
    assert "sk-not-a-real-key" not in path.read_text(encoding="utf-8")
    assert stored["interactions"][0]["response"]["headers"]["x-simulator"] == ["function-double"]

    player = CassetteLibrary(tmp_path, "none", None)  # no inner transport: any miss would fail loudly
    replayed = asyncio.run(run(player))
    assert [r.model_dump() for r in replayed] == [r.model_dump() for r in recorded]
    assert replayed[1].output_text == "It is 18 C in Paris."
    assert len(fn.seen) == 2 and player.simulator_seen
    assert player.finish(key) is None


def test_wire_readers_agree_with_the_sdk_on_the_double_s_answers():
    fn = Weather()
    first, second = asyncio.run(responses_loop(async_client(FunctionModel(fn))))
    assert tool_calls_of(first.model_dump()) == [("get_weather", '{"city":"Paris"}')]
    assert text_of(second.model_dump()) == second.output_text
    assert usage_of(second.model_dump()) == (second.usage.input_tokens, second.usage.output_tokens)
