"""Streamed model answers (text/event-stream) read back into the body the same call would get unstreamed.

A chat completion stream becomes a `chat.completion` object and a Responses stream the `response` object,
so every reader in `replaygate.llm.wire` applies to streamed calls unchanged. Pure functions; an odd
stream reads as far as it goes, and one with nothing recognisable reads as None.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Iterable

DONE = "[DONE]"


def is_event_stream(content_type: str) -> bool:
    return "text/event-stream" in (content_type or "").lower()


def looks_like_event_stream(body: bytes) -> bool:
    """A body that starts as SSE does: a field or a comment line, never a JSON value."""
    head = body.lstrip()[:8]
    return head.startswith((b"data:", b"event:", b":", b"id:", b"retry:"))


def events_of(body: bytes | str) -> list[tuple[str | None, str]]:
    """The (event name, data) of each event in an SSE body, in order; comments and empty events are skipped."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, (bytes, bytearray)) else body
    events: list[tuple[str | None, str]] = []
    name: str | None = None
    data: list[str] = []
    # A blank line ends an event; CRLF and CR line ends are as valid as LF (the SSE spec allows all three).
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            if data:
                events.append((name, "\n".join(data)))
            name, data = None, []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    if data:  # a stream cut before its last blank line still has that event
        events.append((name, "\n".join(data)))
    return events


def _payloads(events: Iterable[tuple[str | None, str]]) -> list[dict[str, Any]]:
    found = []
    for _, data in events:
        if data.strip() == DONE:
            continue
        try:
            payload = json.loads(data)
        except ValueError:
            continue  # a line the SDK would also fail on: the solver sees that error, the trace skips it
        if isinstance(payload, dict):
            found.append(payload)
    return found


def assemble(body: bytes | str) -> dict[str, Any] | None:
    """The unstreamed body equal to a chat completion stream or a Responses event stream; None when it is neither."""
    payloads = _payloads(events_of(body))
    if any(isinstance(p.get("type"), str) and p["type"].startswith("response.") for p in payloads):
        return assemble_response(payloads)
    if any(p.get("object") == "chat.completion.chunk" or isinstance(p.get("choices"), list) for p in payloads):
        return assemble_chat(payloads)
    return None


# --- Chat Completions -----------------------------------------------------------------------------


def _merge_call(calls: dict[int, dict[str, Any]], fragment: dict[str, Any]) -> None:
    index = fragment.get("index", len(calls))
    index = index if isinstance(index, int) else len(calls)
    call = calls.setdefault(index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
    if isinstance(fragment.get("id"), str):
        call["id"] += fragment["id"]
    if isinstance(fragment.get("type"), str):
        call["type"] = fragment["type"]
    function = fragment.get("function")
    if isinstance(function, dict):
        # Strings are appended, as the SDK's own accumulator does: names come once, arguments in fragments.
        for key in ("name", "arguments"):
            if isinstance(function.get(key), str):
                call["function"][key] += function[key]


def _merge_top(top: dict[str, Any], chunk: dict[str, Any]) -> None:
    """The completion's own fields: the first chunk that carries each one names it."""
    for key in ("id", "created", "model", "system_fingerprint", "service_tier"):
        if chunk.get(key) is not None and not top.get(key):
            top[key] = chunk[key]
    if chunk.get("prompt_filter_results") is not None:  # Azure: its content filter's verdict on the prompt
        top["prompt_filter_results"] = chunk["prompt_filter_results"]


def _merge_choice(choices: dict[int, dict[str, Any]], choice: dict[str, Any]) -> None:
    """One chunk's choice delta added to what its index has streamed so far."""
    index = choice.get("index", 0)
    state = choices.setdefault(index if isinstance(index, int) else 0,
                               {"role": None, "texts": {}, "calls": {}, "finish_reason": None, "extra": {}})
    delta = choice.get("delta")
    if isinstance(delta, dict):
        if isinstance(delta.get("role"), str):
            state["role"] = delta["role"]
        # reasoning_content and reasoning: what compatible servers (and Azure's reasoning models) stream.
        for key in ("content", "refusal", "reasoning_content", "reasoning"):
            if isinstance(delta.get(key), str):
                state["texts"][key] = state["texts"].get(key, "") + delta[key]
        for fragment in delta.get("tool_calls") or []:
            if isinstance(fragment, dict):
                _merge_call(state["calls"], fragment)
    if choice.get("finish_reason") is not None:
        state["finish_reason"] = choice["finish_reason"]
    if choice.get("content_filter_results") is not None:
        state["extra"]["content_filter_results"] = choice["content_filter_results"]


def _finished_choice(index: int, state: dict[str, Any]) -> dict[str, Any]:
    """A choice's streamed state as the unstreamed answer's choice."""
    texts = state["texts"]
    message: dict[str, Any] = {
        "role": state["role"] or "assistant",
        "content": texts.get("content"),
        "refusal": texts.get("refusal"),
    }
    for key in ("reasoning_content", "reasoning"):
        if key in texts:
            message[key] = texts[key]
    if state["calls"]:
        message["tool_calls"] = [state["calls"][i] for i in sorted(state["calls"])]
    elif message["content"] is None:
        message["content"] = ""  # as an unstreamed answer with neither text nor calls
    return {"index": index, "message": message, "logprobs": None,
            "finish_reason": state["finish_reason"], **state["extra"]}


def assemble_chat(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """A `chat.completion` from its `chat.completion.chunk`s: content, refusal, reasoning and tool calls
    joined per choice, the last finish_reason, and the usage chunk (`stream_options.include_usage`)."""
    top: dict[str, Any] = {"id": "", "object": "chat.completion", "created": 0, "model": ""}
    choices: dict[int, dict[str, Any]] = {}
    usage: Any = None
    for chunk in chunks:
        _merge_top(top, chunk)
        if isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict):
                _merge_choice(choices, choice)
    out_choices = [_finished_choice(index, choices[index]) for index in sorted(choices)]
    return {**top, "choices": out_choices, "usage": usage}


# --- Responses ------------------------------------------------------------------------------------

# Events that carry the whole response object; the last one seen is the response's final state.
LIFECYCLE = ("response.created", "response.queued", "response.in_progress", "response.completed",
             "response.incomplete", "response.failed")


def _index(event: dict[str, Any], key: str) -> int | None:
    value = event.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def assemble_response(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The `response` object: the last lifecycle event's (response.completed carries usage), with its output
    rebuilt from the item events when that event leaves it out or the stream ended before it."""
    response: dict[str, Any] = {"object": "response", "output": []}
    items: dict[int, dict[str, Any]] = {}
    done: dict[int, dict[str, Any]] = {}
    for event in events:
        kind = event.get("type")
        at = _index(event, "output_index")
        if kind in LIFECYCLE and isinstance(event.get("response"), dict):
            response = event["response"]
        elif kind == "response.output_item.added" and at is not None and isinstance(event.get("item"), dict):
            items[at] = copy.deepcopy(event["item"])
        elif kind == "response.output_item.done" and at is not None and isinstance(event.get("item"), dict):
            done[at] = event["item"]
        elif at is not None and at in items:
            _apply(items[at], kind, event)
    output = response.get("output")
    if not isinstance(output, list) or (not output and (items or done)):
        # Finished items win over the ones built from deltas: the service's own final word on each.
        rebuilt = {**items, **done}
        response = {**response, "output": [rebuilt[i] for i in sorted(rebuilt)]}
    return response


def _apply(item: dict[str, Any], kind: Any, event: dict[str, Any]) -> None:
    """One content event applied to the output item it names."""
    content = item.setdefault("content", []) if item.get("type") == "message" else None
    part_at = _index(event, "content_index")
    if kind == "response.content_part.added" and content is not None and isinstance(event.get("part"), dict):
        content.append(copy.deepcopy(event["part"]))
    elif kind in ("response.output_text.delta", "response.output_text.done") and content is not None:
        while part_at is not None and len(content) <= part_at:
            content.append({"type": "output_text", "text": "", "annotations": []})
        if part_at is not None:
            part = content[part_at]
            if kind.endswith("delta") and isinstance(event.get("delta"), str):
                part["text"] = part.get("text", "") + event["delta"]
            elif isinstance(event.get("text"), str):
                part["text"] = event["text"]
    elif kind == "response.function_call_arguments.delta" and isinstance(event.get("delta"), str):
        item["arguments"] = (item.get("arguments") or "") + event["delta"]
    elif kind == "response.function_call_arguments.done" and isinstance(event.get("arguments"), str):
        item["arguments"] = event["arguments"]
