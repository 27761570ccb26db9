"""Streamed answers: read back into the unstreamed body (laws over random chunkings), served by the FunctionModel
for both APIs, passed through the trace and the cassette unbuffered, recorded whole and replayed byte for byte."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st

from replaygate.cassettes.cassette import CaseKey, CassetteLibrary
from replaygate.core.errors import InputError
from replaygate.double import FunctionModel, Reply, ToolCall
from replaygate.double.reply import chat_chunks, chat_completion, response_events, response_object, sse_frames
from replaygate.double.request import parse_request
from replaygate.llm.stream import assemble, events_of
from replaygate.llm.trace import Trace, TracingTransport, tracing
from replaygate.llm.wire import call_ids_of, text_of, tool_calls_of, usage_of

BASE_URL = "http://double.invalid/v1"
CHAT_TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]
RESPONSES_TOOLS = [{"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}}]
FIXTURES = Path(__file__).parent / "data" / "streams"


def read(body: Any) -> tuple:
    """Everything the trace reads off an answer."""
    return text_of(body), tool_calls_of(body), call_ids_of(body), usage_of(body)


# --- laws of the assembler -------------------------------------------------------------------------

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
names = st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True)
arguments = st.dictionaries(names, st.one_of(st.integers(), texts, st.booleans()), max_size=3).map(
    lambda d: json.dumps(d, ensure_ascii=False))
counts = st.integers(0, 10**6)


def cut(draw, text: str) -> list[str]:
    """`text` cut at random places (empty pieces included): a stream may cut anywhere."""
    points = sorted(draw(st.lists(st.integers(0, len(text)), max_size=6)))
    edges = [0, *points, len(text)]
    return [text[a:b] for a, b in zip(edges, edges[1:])]


def frame(payload: dict[str, Any], name: str | None, newline: str) -> str:
    head = f"event: {name}{newline}" if name else ""
    return f"{head}data: {json.dumps(payload, ensure_ascii=False)}{newline}{newline}"


@st.composite
def chat_streams(draw) -> tuple[dict[str, Any], str]:
    """A chat completion and a random stream of it: text and arguments in random pieces, usage last or never."""
    text = draw(st.one_of(st.none(), texts))
    calls = [{"id": f"call_{i}_{draw(names)}", "type": "function", "function": {"name": draw(names), "arguments": draw(arguments)}}
             for i in range(draw(st.integers(0, 3)))]
    usage = {"prompt_tokens": draw(counts), "completion_tokens": draw(counts), "total_tokens": 0,
             "prompt_tokens_details": {"cached_tokens": draw(counts)},
             "completion_tokens_details": {"reasoning_tokens": draw(counts)}}
    with_usage = draw(st.booleans())
    message: dict[str, Any] = {"role": "assistant", "content": text if text is not None or calls else ""}
    if calls:
        message["tool_calls"] = calls
    body = {"id": "chatcmpl-1", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": usage if with_usage else None}
    head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": "" if text is not None else None})]
    chunks += [chunk({"content": piece}) for piece in (cut(draw, text) if text is not None else [])]
    for index, call in enumerate(calls):
        pieces = cut(draw, call["function"]["arguments"])
        chunks.append(chunk({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                             "function": {"name": call["function"]["name"], "arguments": pieces[0]}}]}))
        chunks += [chunk({"tool_calls": [{"index": index, "function": {"arguments": p}}]}) for p in pieces[1:]]
    chunks.append(chunk({}, body["choices"][0]["finish_reason"]))
    if with_usage:
        chunks.append({**head, "choices": [], "usage": usage})
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return body, "".join(frame(c, None, newline) for c in chunks) + f"data: [DONE]{newline}{newline}"


@given(chat_streams())
def test_a_chat_stream_reads_as_its_completion_however_it_is_chunked(case):
    body, stream = case
    assert read(assemble(stream)) == read(body)
    assert assemble(stream)["usage"] == body["usage"]  # cached and reasoning tokens ride along, as sent


@st.composite
def responses_streams(draw) -> tuple[dict[str, Any], str]:
    """A response and a random stream of it; the final event may leave the output out (the SDK allows it)."""
    items: list[dict[str, Any]] = []
    for at in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            items.append({"id": f"msg_{at}", "type": "message", "role": "assistant", "status": "completed",
                          "content": [{"type": "output_text", "text": draw(texts), "annotations": []}]})
        else:
            items.append({"id": f"fc_{at}", "type": "function_call", "status": "completed", "call_id": f"call_{at}",
                          "name": draw(names), "arguments": draw(arguments)})
    usage = {"input_tokens": draw(counts), "output_tokens": draw(counts), "total_tokens": 0,
             "input_tokens_details": {"cached_tokens": draw(counts)},
             "output_tokens_details": {"reasoning_tokens": draw(counts)}}
    body = {"id": "resp_1", "object": "response", "status": "completed", "model": "m", "output": items, "usage": usage}
    events: list[dict[str, Any]] = []

    def add(kind: str, **fields: Any) -> None:
        events.append({"type": kind, "sequence_number": len(events), **fields})

    add("response.created", response={**body, "status": "in_progress", "output": [], "usage": None})
    for at, item in enumerate(items):
        if item["type"] == "message":
            add("response.output_item.added", output_index=at, item={**item, "content": []})
            add("response.content_part.added", output_index=at, item_id=item["id"], content_index=0,
                part={"type": "output_text", "text": "", "annotations": []})
            for piece in cut(draw, item["content"][0]["text"]):
                add("response.output_text.delta", output_index=at, item_id=item["id"], content_index=0, delta=piece)
        else:
            add("response.output_item.added", output_index=at, item={**item, "arguments": ""})
            for piece in cut(draw, item["arguments"]):
                add("response.function_call_arguments.delta", output_index=at, item_id=item["id"], delta=piece)
        if draw(st.booleans()):
            add("response.output_item.done", output_index=at, item=item)
    final = draw(st.sampled_from(["whole", "no output", "null output"]))
    completed = body if final == "whole" else {**body, "output": [] if final == "no output" else None}
    add("response.completed", response=completed)
    return body, "".join(frame(e, e["type"], "\n") for e in events)


@given(responses_streams())
def test_a_responses_stream_reads_as_its_response_however_it_is_chunked(case):
    body, stream = case
    assembled = assemble(stream)
    assert read(assembled) == read(body)
    assert assembled["usage"] == body["usage"]


@given(texts, st.lists(st.tuples(names, st.dictionaries(names, st.integers(), max_size=2)), max_size=2),
       st.booleans())
def test_the_double_streams_what_it_would_answer_unstreamed(text, calls, include_usage):
    reply = Reply(text or None, [ToolCall(name, args) for name, args in calls])
    chat = parse_request("chat", {"model": "m", "messages": [{"role": "user", "content": "hi there"}]})
    completion = chat_completion(chat, reply)
    streamed = assemble(b"".join(sse_frames(chat_chunks(completion, include_usage), named=False)))
    assert read(streamed)[:3] == read(completion)[:3]
    assert streamed["usage"] == (completion["usage"] if include_usage else None)
    responses = parse_request("responses", {"model": "m", "input": "hi there"})
    response = response_object(responses, reply)
    streamed = assemble(b"".join(sse_frames(response_events(response), named=True)))
    assert read(streamed) == read(response) and streamed == response


def test_events_are_split_on_blank_lines_whatever_the_line_ends():
    body = b": keep-alive\r\n\r\nevent: a\r\ndata: {\"x\":\r\ndata: 1}\r\n\r\ndata: [DONE]\n\ndata: tail"
    assert events_of(body) == [("a", '{"x":\n1}'), (None, "[DONE]"), (None, "tail")]
    assert assemble(b"data: [DONE]\n\n") is None and assemble(b"data: not json\n\n") is None


# --- wire fixtures, written from the API references ----------------------------------------------


def test_an_azure_chat_stream_with_content_filters_reasoning_and_cached_tokens_is_read():
    body = assemble((FIXTURES / "azure_chat_tool_call.sse").read_bytes())
    assert body["prompt_filter_results"][0]["content_filter_results"]["hate"]["filtered"] is False
    assert body["choices"][0]["content_filter_results"]["violence"]["severity"] == "safe"
    assert tool_calls_of(body) == [("get_weather", '{"city":"Paris","unit":"celsius"}')]
    assert call_ids_of(body) == ["call_TdVlc2rBkP0fKxJW2UjH7mQn"]
    assert text_of(body) is None and body["choices"][0]["finish_reason"] == "tool_calls"
    assert usage_of(body) == (1249, 92)
    usage = body["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 1024
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 64
    assert body["model"] == "o4-mini-2025-04-16"


def test_a_responses_stream_with_reasoning_and_cached_tokens_is_read():
    body = assemble((FIXTURES / "responses_text.sse").read_bytes())
    assert text_of(body) == "Paris is sunny, 21 °C."
    assert [item["type"] for item in body["output"]] == ["reasoning", "message"]
    assert usage_of(body) == (2306, 188)
    assert body["usage"]["input_tokens_details"]["cached_tokens"] == 2048
    assert body["usage"]["output_tokens_details"]["reasoning_tokens"] == 128
    assert body["model"] == "gpt-5-mini-2025-08-07"


# --- through the SDK, the trace and the cassette ---------------------------------------------------


def lookup_then_answer(request) -> Any:
    if not request.tool_results:
        return Reply("Checking.", [ToolCall("lookup", {"who": "ann"})])
    return "You are on the gold plan."


def harness(tmp_path: Path, inner: httpx2.AsyncBaseTransport, mode: str = "all") -> tuple[CassetteLibrary, CaseKey, openai.AsyncOpenAI]:
    """The harness's stack for one case (trace over cassette over `inner`) under the async SDK."""
    library = CassetteLibrary(tmp_path / "tapes", mode, inner)
    key = CaseKey("s", "m", "case")
    client = openai.AsyncOpenAI(base_url=BASE_URL, api_key="none", max_retries=0,
                                http_client=httpx2.AsyncClient(transport=TracingTransport(library.transport())))
    return library, key, client


class Gated(httpx2.AsyncBaseTransport):
    """A model whose stream cannot go past its first event until the test says so."""

    def __init__(self, frames: list[bytes]):
        self.frames, self.go, self.produced = frames, asyncio.Event(), []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        async def body():
            for index, chunk in enumerate(self.frames):
                if index == 1:
                    await self.go.wait()
                self.produced.append(time.perf_counter())
                yield chunk

        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body())


def test_the_first_event_reaches_the_sdk_before_the_model_produces_the_last(tmp_path):
    request = parse_request("chat", {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    frames = sse_frames(chat_chunks(chat_completion(request, Reply("one two three")), True), named=False)
    model = Gated(frames)
    library, key, client = harness(tmp_path, model)
    trace = Trace()

    async def run() -> list[str]:
        with library.case(key), tracing(trace):
            stream = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}],
                                                          stream=True, stream_options={"include_usage": True})
            # Were anything between here and the model buffering, this would wait for `go` forever.
            first = await asyncio.wait_for(stream.__anext__(), timeout=5)
            seen = time.perf_counter()
            assert len(model.produced) == 1 and seen < time.perf_counter()
            model.go.set()
            rest = [chunk async for chunk in stream]
            assert model.produced[-1] > seen  # the last event was made after the SDK had the first
            return [c.choices[0].delta.content for c in [first, *rest] if c.choices and c.choices[0].delta.content]

    assert "".join(asyncio.run(run())) == "one two three"
    assert trace.final_text == "one two three" and trace.usage.calls == 1 and trace.usage.output_tokens == 3
    assert len(trace.ttfts) == 1 and 0 < trace.ttft_s < 5
    path = library.finish(key)
    recorded = json.loads(path.read_text())["interactions"][0]["response"]
    assert recorded["body"]["string"].encode() == b"".join(frames)  # teed whole into the cassette at the close


def test_a_recorded_stream_replays_the_same_bytes_and_reads_the_same(tmp_path):
    model = FunctionModel(lookup_then_answer)
    messages = [{"role": "user", "content": "my plan?"}]

    async def call(client) -> tuple[bytes, list[str]]:
        raw = await client.chat.completions.with_raw_response.create(
            model="m", messages=messages, tools=CHAT_TOOLS, stream=True, stream_options={"include_usage": True})
        return await raw.http_response.aread(), []

    library, key, client = harness(tmp_path, model())
    live_trace = Trace()

    async def record() -> bytes:
        with library.case(key), tracing(live_trace):
            return (await call(client))[0]

    live = asyncio.run(record())
    library.finish(key)
    library, key, client = harness(tmp_path, None, mode="none")  # replay only: nothing may be reached
    replay_trace = Trace()

    async def replay() -> bytes:
        with library.case(key), tracing(replay_trace):
            return (await call(client))[0]

    assert asyncio.run(replay()) == live
    assert [(c.name, c.arguments) for c in replay_trace.tool_calls] == [("lookup", '{"who":"ann"}')]
    assert replay_trace.usage == live_trace.usage and replay_trace.usage.input_tokens == 2
    assert replay_trace.final_text == "Checking."


def test_a_stream_the_solver_leaves_early_records_what_it_read(tmp_path):
    library, key, client = harness(tmp_path, FunctionModel(lambda request: "a b c d e f")())
    trace = Trace()

    async def run() -> None:
        with library.case(key), tracing(trace):
            stream = await client.responses.create(model="m", input="hi", stream=True)
            async for event in stream:
                if event.type == "response.output_text.delta":
                    break
            await stream.close()

    asyncio.run(run())
    body = json.loads(library.finish(key).read_text())["interactions"][0]["response"]["body"]["string"]
    kinds = [json.loads(data)["type"] for _, data in events_of(body)]
    assert kinds[-1] == "response.output_text.delta" and "response.completed" not in kinds
    assert trace.final_text == "a " and trace.usage.calls == 1 and trace.ttft_s is not None


def test_stream_delay_paces_each_event_and_a_bad_delay_is_refused():
    def client(delay: float) -> openai.OpenAI:
        model = FunctionModel(lambda request: "one two", stream_delay_s=delay)
        return openai.OpenAI(base_url=BASE_URL, api_key="none", http_client=httpx2.Client(transport=model()))

    started = time.perf_counter()
    stream = client(0.02).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True)
    first = next(iter(stream))
    to_first = time.perf_counter() - started
    chunks = [first, *stream]
    total = time.perf_counter() - started
    assert len(chunks) == 4  # role, "one ", "two", finish: [DONE] ends the stream
    assert 0.015 < to_first < total - 0.04  # the first event came while three more were still to be paced out
    with pytest.raises(InputError, match="stream_delay_s must be a number of seconds >= 0"):
        FunctionModel(lambda request: "x", stream_delay_s=-1)


def first_chunk_sync(inp, client, prompt) -> dict:
    started, first, text = time.perf_counter(), None, ""
    for chunk in client.chat.completions.create(**prompt.chat(), stream=True, stream_options={"include_usage": True}):
        first = first if first is not None else time.perf_counter() - started
        text += "".join(choice.delta.content or "" for choice in chunk.choices)
    return {"first": first, "total": time.perf_counter() - started, "text": text}


async def first_chunk_async(inp, client, prompt) -> dict:
    started, first, text = time.perf_counter(), None, ""
    async for chunk in await client.chat.completions.create(**prompt.chat(), stream=True, stream_options={"include_usage": True}):
        first = first if first is not None else time.perf_counter() - started
        text += "".join(choice.delta.content or "" for choice in chunk.choices)
    return {"first": first, "total": time.perf_counter() - started, "text": text}


def own_client_sync(inp, client, prompt) -> dict:
    """Builds its own client, pointed elsewhere: the harness captures it, streams included."""
    return first_chunk_sync(inp, openai.OpenAI(base_url="https://api.openai.com/v1", api_key="x", max_retries=0), prompt)


async def own_client_async(inp, client, prompt) -> dict:
    own = openai.AsyncOpenAI(base_url="https://api.openai.com/v1", api_key="x", max_retries=0)
    return await first_chunk_async(inp, own, prompt)


@pytest.mark.parametrize("solver", [first_chunk_async, first_chunk_sync, own_client_async, own_client_sync],
                         ids=["async", "sync", "own-async", "own-sync"])
@pytest.mark.parametrize("record_mode", ["none", "all"], ids=["live", "record"])
def test_a_solver_gets_the_first_event_through_the_harness_while_the_rest_is_still_coming(tmp_path, solver, record_mode):
    from replaygate import Suite, graders
    from replaygate.core.config import load_config
    from replaygate.run.evaluation import Evaluation
    from replaygate.llm.backend import SIM_BASE_URL, Backend

    words = " ".join(f"w{i}" for i in range(12))
    (tmp_path / "prompt.md").write_text("say {n}\n", encoding="utf-8")
    suite = Suite("paced", solver=solver, tasks=[{"id": "one", "input": {"n": 1}}], prompt="prompt.md",
                  double=FunctionModel(lambda request: words, stream_delay_s=0.02),
                  graders=[graders.Function(lambda task, rollout: rollout.answer["text"] == words)])
    config = load_config(None, {"cassettes": "tapes"}, suite=suite.name, code=suite.code_settings())
    evaluation = Evaluation(suite, config, tmp_path, Backend("sim", "paced", base_url=SIM_BASE_URL), record_mode, {})
    (result,) = evaluation.run(list(evaluation.loaded.tasks))
    rollout = result.rollout
    assert result.value == 1.0 and rollout.usage.calls == 1 and rollout.usage.output_tokens == 12
    # 16 events 20 ms apart: the first came long before the last (a buffered stream would come all at once).
    assert rollout.answer["first"] < rollout.answer["total"] - 0.15, rollout.answer
    assert 0.015 < rollout.ttft_s < rollout.answer["total"] - 0.15
    assert (tmp_path / "tapes").exists() == (record_mode == "all")
