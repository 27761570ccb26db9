"""Answers as the OpenAI and Azure API references show them (tests/data/wire), read with every number checked.

The fixtures are written by hand from the published shapes: chat and Responses, streamed and not, reasoning and
cached-token usage, Azure's content-filter fields and 400 bodies. Each is read three ways that must agree: by the
harness's wire readers (through `replaygate.llm.stream` for a stream), by the openai SDK's own types, and through
a real SDK call recorded into a cassette and replayed, which must give back the very bytes the service sent.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass
from pathlib import Path

import httpx2
import openai
import pytest
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

from replaygate.cassettes.cassette import CaseKey, CassetteLibrary
from replaygate.core.rollout import Usage
from replaygate.llm.infra import REJECTED, api_failure
from replaygate.llm.pricing import estimated_cost, load_prices, price_for
from replaygate.llm.stream import assemble
from replaygate.llm.trace import Trace
from replaygate.llm.wire import call_usage, model_of, text_of, tool_calls_of

WIRE = Path(__file__).parent / "data" / "wire"
PRICES = load_prices().models


@dataclass(frozen=True)
class Expected:
    api: str
    model: str
    priced_as: str
    tokens: tuple[int, int, int, int]  # input, cached input, output, reasoning
    cost: float  # dollars, worked out by hand from prices.toml
    text: str | None
    calls: tuple[tuple[str, str], ...] = ()


FIXTURES = {
    # (2310 - 2048) * 2.50 + 2048 * 1.25 + 21 * 10.00 = 3425 dollars per million tokens
    "chat_cached_tool_call.json": Expected("chat", "gpt-4o-2024-08-06", "gpt-4o", (2310, 2048, 21, 0), 3425e-6, None,
                                           (("get_weather", '{"city":"Zürich","unit":"celsius"}'),)),
    # 412 * 1.10 + 530 * 4.40 = 2785.2: the reasoning tokens are output tokens, billed once
    "chat_reasoning.json": Expected("chat", "o3-mini-2025-01-31", "o3-mini", (412, 0, 530, 512), 2785.2e-6,
                                    "The meeting fits best in the small room on the second floor."),
    # (3072 - 2560) * 1.10 + 2560 * 0.275 + 640 * 4.40 = 4083.2
    "responses_reasoning_cached.json": Expected("responses", "o4-mini-2025-04-16", "o4-mini", (3072, 2560, 640, 576),
                                                4083.2e-6, "Looking up order 9012 first.",
                                                (("lookup_order", '{"order":"9012"}'),)),
    # (1337 - 1152) * 2.50 + 1152 * 1.25 + 14 * 10.00 = 2042.5
    "azure_chat_content_filter.json": Expected("chat", "gpt-4o-2024-11-20", "gpt-4o", (1337, 1152, 14, 0), 2042.5e-6,
                                               "Room B-204 is free at 14:30 and seats eight."),
    # (1536 - 1280) * 0.40 + 1280 * 0.10 + 9 * 1.60 = 244.8
    "chat_stream_usage.sse": Expected("chat", "gpt-4.1-mini-2025-04-14", "gpt-4.1-mini", (1536, 1280, 9, 0), 244.8e-6,
                                      "Book R-204, it is free."),
    # 812 * 2.50 + 27 * 10.00 = 2300
    "azure_chat_stream_tool_call.sse": Expected("chat", "gpt-4o-2024-08-06", "gpt-4o", (812, 0, 27, 0), 2300e-6, None,
                                                (("get_rooms_and_availability",
                                                  '{"date":"2026-03-02","time":"14:30"}'),)),
    # (1800 - 1024) * 0.25 + 1024 * 0.025 + 266 * 2.00 = 751.6
    "responses_stream_text.sse": Expected("responses", "gpt-5-mini-2025-08-07", "gpt-5-mini", (1800, 1024, 266, 256),
                                          751.6e-6, "No Room"),
}


def body_of(name: str) -> dict:
    raw = (WIRE / name).read_bytes()
    if name.endswith(".sse"):
        assembled = assemble(raw)
        assert assembled is not None, f"{name}: not read as a stream"
        return assembled
    return json.loads(raw)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_each_fixture_reads_every_number(name):
    expected, body = FIXTURES[name], body_of(name)
    usage = call_usage(body)
    tokens_in, cached, tokens_out, reasoning = expected.tokens
    assert (usage.input_tokens, usage.cached_input_tokens, usage.output_tokens, usage.reasoning_tokens, usage.calls) \
        == (tokens_in, cached, tokens_out, reasoning, 1)
    assert model_of(body) == expected.model
    assert usage.by_model == {expected.model: [tokens_in, cached, tokens_out]}
    assert text_of(body) == expected.text
    assert tuple(tool_calls_of(body)) == expected.calls
    assert price_for(expected.model, PRICES) == PRICES[expected.priced_as]
    assert math.isclose(estimated_cost(usage.by_model, PRICES), expected.cost, rel_tol=1e-12)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_the_sdk_reads_the_same_numbers(name):
    """The fixtures are valid to the SDK's own types, and it counts what the harness counts."""
    expected, body = FIXTURES[name], body_of(name)
    tokens_in, cached, tokens_out, reasoning = expected.tokens
    if expected.api == "chat":
        parsed = ChatCompletion.model_validate(body)
        details = parsed.usage.completion_tokens_details
        assert (parsed.usage.prompt_tokens, parsed.usage.prompt_tokens_details.cached_tokens,
                parsed.usage.completion_tokens, details.reasoning_tokens if details else 0) == expected.tokens
        assert parsed.usage.total_tokens == tokens_in + tokens_out
    else:
        parsed = Response.model_validate(body)
        assert (parsed.usage.input_tokens, parsed.usage.input_tokens_details.cached_tokens,
                parsed.usage.output_tokens, parsed.usage.output_tokens_details.reasoning_tokens) == expected.tokens
        assert parsed.output_text == expected.text
    assert parsed.model == expected.model


def test_azure_content_filter_fields_are_kept_and_do_not_disturb_the_answer():
    plain = body_of("azure_chat_content_filter.json")
    prompt = plain["prompt_filter_results"][0]
    assert prompt["prompt_index"] == 0
    assert prompt["content_filter_results"]["jailbreak"] == {"filtered": False, "detected": False}
    assert prompt["content_filter_results"]["violence"] == {"filtered": False, "severity": "low"}
    answer = plain["choices"][0]["content_filter_results"]
    assert answer["protected_material_code"] == {"filtered": False, "detected": False}
    assert all(not verdict["filtered"] for verdict in answer.values())

    # Streamed, the prompt's verdict comes first in a chunk with no choices and no model: kept, and not the model.
    streamed = body_of("azure_chat_stream_tool_call.sse")
    assert streamed["prompt_filter_results"][0]["content_filter_results"]["jailbreak"]["detected"] is False
    assert streamed["choices"][0]["content_filter_results"] == {}
    assert streamed["choices"][0]["finish_reason"] == "tool_calls"
    assert streamed["model"] == "gpt-4o-2024-08-06"


def test_a_case_sums_its_calls_and_keeps_each_model_apart():
    trace = Trace()
    for name in ("chat_cached_tool_call.json", "chat_reasoning.json", "responses_stream_text.sse",
                 "azure_chat_content_filter.json"):
        trace.observe(body_of(name))
    usage = trace.usage
    assert usage == Usage(input_tokens=2310 + 412 + 1800 + 1337, output_tokens=21 + 530 + 266 + 14, calls=4,
                          cached_input_tokens=2048 + 0 + 1024 + 1152, reasoning_tokens=512 + 256)
    assert usage.by_model == {"gpt-4o-2024-08-06": [2310, 2048, 21], "o3-mini-2025-01-31": [412, 0, 530],
                              "gpt-5-mini-2025-08-07": [1800, 1024, 266], "gpt-4o-2024-11-20": [1337, 1152, 14]}
    assert math.isclose(estimated_cost(usage.by_model, PRICES), (3425 + 2785.2 + 751.6 + 2042.5) / 1e6, rel_tol=1e-12)


# --- through the SDK, recorded and replayed ---------------------------------------------------------

JSON_FIXTURES = sorted(name for name in FIXTURES if name.endswith(".json")) + [
    "error_400_context_length.json", "azure_error_400_content_filter.json"]
KEY = CaseKey("wire", "m", "case")


def call(library: CassetteLibrary, api: str):
    """One raw SDK call through the cassette library: (status, the bytes the SDK got, the SDK's error if any)."""

    async def go():
        async with httpx2.AsyncClient(transport=library.transport()) as http:
            client = openai.AsyncOpenAI(api_key="sk-test-not-a-real-key", base_url="http://model.invalid/v1",
                                        http_client=http, max_retries=0)
            with library.case(KEY):
                try:
                    if api == "chat":
                        raw = await client.chat.completions.with_raw_response.create(
                            model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
                    else:
                        raw = await client.responses.with_raw_response.create(model="o4-mini", input="hi")
                except openai.APIStatusError as exc:
                    return exc.status_code, exc.response.content, exc
                raw.parse()  # the SDK reads the replayed bytes as it read the live ones
                return raw.status_code, raw.http_response.content, None

    return asyncio.run(go())


@pytest.mark.parametrize("name", JSON_FIXTURES)
def test_replay_gives_back_the_bytes_the_service_sent_and_the_cassette_stays_readable(tmp_path, name):
    sent = (WIRE / name).read_bytes()
    status = 400 if name.startswith(("error_", "azure_error_")) else 200
    api = "responses" if name.startswith("responses") else "chat"

    def service(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, headers={"content-type": "application/json"}, content=sent)

    recorder = CassetteLibrary(tmp_path, "once", httpx2.MockTransport(service))
    live = call(recorder, api)
    path = recorder.finish(KEY)
    assert path is not None, "the answer (a 400 too) is recorded by default"
    stored = json.loads(path.read_text(encoding="utf-8"))["interactions"][0]["response"]
    assert stored["status"]["code"] == status
    assert stored["body"]["json"] == json.loads(sent)  # readable in the file, not a string of bytes
    assert "string" not in stored["body"]  # the layout reproduces the bytes: no second copy

    replayed = call(CassetteLibrary(tmp_path, "none", None), api)
    assert replayed[:2] == (status, sent) == live[:2]
    if status == 400:
        error = replayed[2]
        assert isinstance(error, openai.BadRequestError)
        kind, reason = api_failure(error, openai.OpenAI(api_key="sk-test-not-a-real-key", base_url="http://m.invalid/v1"))
        assert kind == REJECTED and reason.startswith("API error 400: BadRequestError: ")
        assert error.code == json.loads(sent)["error"]["code"]


@pytest.mark.parametrize("name", sorted(name for name in FIXTURES if name.endswith(".sse")))
def test_a_streamed_fixture_counts_the_same_through_the_sdk_and_the_trace(name):
    """Streamed through the real SDK, the case's trace reads what the unstreamed answer would give."""
    from replaygate.llm.trace import TracingTransport, tracing

    expected, raw = FIXTURES[name], (WIRE / name).read_bytes()
    service = httpx2.MockTransport(lambda request: httpx2.Response(
        200, headers={"content-type": "text/event-stream"}, content=raw))

    async def go() -> Trace:
        trace = Trace()
        async with httpx2.AsyncClient(transport=TracingTransport(service)) as http:
            client = openai.AsyncOpenAI(api_key="sk-test-not-a-real-key", base_url="http://model.invalid/v1",
                                        http_client=http, max_retries=0)
            with tracing(trace):
                if expected.api == "chat":
                    stream = await client.chat.completions.create(
                        model="m", messages=[{"role": "user", "content": "hi"}], stream=True,
                        stream_options={"include_usage": True})
                else:
                    stream = await client.responses.create(model="m", input="hi", stream=True)
                async for _ in stream:
                    pass
        return trace

    trace = asyncio.run(go())
    tokens_in, cached, tokens_out, reasoning = expected.tokens
    assert trace.usage == Usage(tokens_in, tokens_out, 1, cached, reasoning)
    assert trace.usage.by_model == {expected.model: [tokens_in, cached, tokens_out]}
    assert trace.final_text == expected.text
    assert [(call.name, call.arguments) for call in trace.tool_calls] == list(expected.calls)
