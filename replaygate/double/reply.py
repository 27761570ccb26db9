"""What the test double's function returns, and its encoding as OpenAI Chat Completions and Responses JSON."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from replaygate.double.request import ModelRequest

RETURN_HINT = "return a str, a ToolCall, a list of ToolCall or a Reply"


class UnsupportedReply(TypeError):
    """The function returned something the double cannot send as a model answer."""


@dataclass(frozen=True)
class ToolCall:
    """The model calls function tool `name` with JSON-encodable `arguments`."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"ToolCall name must be a non-empty str, got {self.name!r}")
        if not isinstance(self.arguments, Mapping):
            raise TypeError(f"ToolCall {self.name} arguments must be a dict, got {type(self.arguments).__name__}")
        try:
            self.arguments_json  # noqa: B018 - fail here, in the user's function, not later on the wire
        except (TypeError, ValueError) as exc:  # ValueError: NaN or infinity, valid Python but not JSON
            raise TypeError(f"ToolCall {self.name} arguments are not JSON: {exc}") from None

    @property
    def arguments_json(self) -> str:
        """The arguments as the wire carries them: compact JSON text."""
        return json.dumps(dict(self.arguments), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class Reply:
    """An assistant turn: text, tool calls, or both (text first)."""

    text: str | None = None
    tool_calls: Sequence[ToolCall] = ()

    def __post_init__(self) -> None:
        if self.text is not None and not isinstance(self.text, str):
            raise TypeError(f"Reply text must be a str or None, got {type(self.text).__name__}")
        calls = tuple(self.tool_calls)
        strays = [type(call).__name__ for call in calls if not isinstance(call, ToolCall)]
        if strays:
            raise TypeError(f"Reply tool_calls must be ToolCall objects, got {', '.join(strays)}")
        object.__setattr__(self, "tool_calls", calls)


def as_reply(value: Any) -> Reply:
    """The function's return value as a Reply; UnsupportedReply names what to return instead."""
    if isinstance(value, Reply):
        return value
    if isinstance(value, str):
        return Reply(text=value)
    if isinstance(value, ToolCall):
        return Reply(tool_calls=(value,))
    if isinstance(value, (list, tuple)):
        strays = sorted({type(item).__name__ for item in value if not isinstance(item, ToolCall)})
        if not strays:
            return Reply(tool_calls=tuple(value))
        raise UnsupportedReply(f"returned a {type(value).__name__} holding {', '.join(strays)}; {RETURN_HINT}")
    raise UnsupportedReply(f"returned {type(value).__name__}; {RETURN_HINT}")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def body_digest(body: Any) -> str:
    """A hash of the request as JSON (key order aside): every id derives from it, so replies repeat exactly."""
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def _id(digest: str, what: str) -> str:
    return hashlib.sha256(f"{digest}:{what}".encode("utf-8")).hexdigest()[:24]


def _words(text: str) -> int:
    return len(text.split())


def prompt_words(request: ModelRequest) -> int:
    """The usage the double reports for a request: whitespace-separated words of its text, not real tokens."""
    total = 0
    for message in request.messages:
        total += _words(message["content"])
        for call in message.get("tool_calls", ()):
            arguments = call["arguments"]
            text = arguments if isinstance(arguments, str) else canonical_json(arguments)
            total += _words(call["name"]) + _words(text)
    return total


def reply_words(reply: Reply) -> int:
    return _words(reply.text or "") + sum(_words(call.name) + _words(call.arguments_json) for call in reply.tool_calls)


def _chat_tool_calls(digest: str, calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    """The assistant message's `tool_calls`: ids derive from the request, so a repeat gets the same ones."""
    return [
        {
            "id": f"call_{_id(digest, f'call{index}')}",
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments_json},
        }
        for index, call in enumerate(calls)
    ]


def _chat_usage(prompt: int, completion: int) -> dict[str, Any]:
    """Chat Completions `usage`: the double's word counts, with every detail the service reports set to zero."""
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def chat_completion(request: ModelRequest, reply: Reply) -> dict[str, Any]:
    """A `chat.completion` object with one choice."""
    digest = body_digest(request.body)
    message: dict[str, Any] = {
        "role": "assistant",
        # As the service does: no content beside tool calls unless there is text.
        "content": reply.text if reply.text is not None or reply.tool_calls else "",
        "refusal": None,
        "annotations": [],
    }
    if reply.tool_calls:
        message["tool_calls"] = _chat_tool_calls(digest, reply.tool_calls)
    return {
        "id": f"chatcmpl-{_id(digest, 'completion')}",
        "object": "chat.completion",
        "created": 0,
        "model": request.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": _chat_usage(prompt_words(request), reply_words(reply)),
    }


def _output_items(digest: str, reply: Reply) -> list[dict[str, Any]]:
    """A Responses `output`: a message item for text (or for an empty reply), then a function_call item per call."""
    output: list[dict[str, Any]] = []
    if reply.text is not None or not reply.tool_calls:
        output.append(
            {
                "id": f"msg_{_id(digest, 'message')}",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": reply.text or "", "annotations": [], "logprobs": []}],
            }
        )
    for index, call in enumerate(reply.tool_calls):
        output.append(
            {
                "id": f"fc_{_id(digest, f'item{index}')}",
                "type": "function_call",
                "status": "completed",
                "call_id": f"call_{_id(digest, f'call{index}')}",
                "name": call.name,
                "arguments": call.arguments_json,
            }
        )
    return output


def _response_usage(prompt: int, completion: int) -> dict[str, Any]:
    """Responses `usage`: the double's word counts, with every detail the service reports set to zero."""
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def response_object(request: ModelRequest, reply: Reply) -> dict[str, Any]:
    """A Responses API `response` object; the settings it echoes come from the request body, as the service's do."""
    digest = body_digest(request.body)
    body = request.body
    tools = body.get("tools")
    return {
        "id": f"resp_{_id(digest, 'response')}",
        "object": "response",
        "created_at": 0,
        "completed_at": 0,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": request.model,
        "output": _output_items(digest, reply),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": tools if isinstance(tools, list) else [],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "metadata": body.get("metadata") or {},
        "usage": _response_usage(prompt_words(request), reply_words(reply)),
    }


def error_body(message: str, kind: str = "invalid_request_error", param: str | None = None) -> dict[str, Any]:
    """An OpenAI-style error object."""
    return {"error": {"message": message, "type": kind, "param": param, "code": None}}


def encode(payload: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON; payloads are built in a fixed order, so equal payloads give equal bytes."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- streamed answers -----------------------------------------------------------------------------

# Text streams a word (with its trailing space) per event, arguments a fixed number of characters per event:
# enough events for a client to assemble, and to time, as a real stream.
ARGUMENT_PIECE = 16


def text_pieces(text: str) -> list[str]:
    """`text` cut where a model's stream might cut it; the pieces join back to `text` exactly."""
    return re.findall(r"\S+\s*|\s+", text)


def argument_pieces(arguments: str) -> list[str]:
    return [arguments[i:i + ARGUMENT_PIECE] for i in range(0, len(arguments), ARGUMENT_PIECE)] or [""]


def chat_chunks(completion: dict[str, Any], include_usage: bool) -> list[dict[str, Any]]:
    """The `chat.completion.chunk`s a service streams for `completion`; usage comes last, alone, when asked for."""
    choice = completion["choices"][0]
    message = choice["message"]
    head = {key: completion[key] for key in ("id", "created", "model")}
    extra = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {**head, "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}], **extra}

    text = message.get("content")
    chunks = [chunk({"role": "assistant", "content": "" if text is not None else None, "refusal": None})]
    chunks += [chunk({"content": piece}) for piece in text_pieces(text or "")]
    for index, call in enumerate(message.get("tool_calls", [])):
        function = call["function"]
        chunks.append(chunk({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                             "function": {"name": function["name"], "arguments": ""}}]}))
        chunks += [chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                   for piece in argument_pieces(function["arguments"])]
    chunks.append(chunk({}, choice["finish_reason"]))
    if include_usage:
        chunks.append({**head, "object": "chat.completion.chunk", "choices": [], "usage": completion["usage"]})
    return chunks


def response_events(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The Responses API's stream for `response`: created, each output item's events, then completed."""
    events: list[dict[str, Any]] = []

    def add(kind: str, **fields: Any) -> None:
        events.append({"type": kind, "sequence_number": len(events), **fields})

    started = {**response, "status": "in_progress", "output": [], "usage": None, "completed_at": None}
    add("response.created", response=started)
    add("response.in_progress", response=started)
    for at, item in enumerate(response["output"]):
        where = {"item_id": item["id"], "output_index": at}
        if item["type"] == "message":
            add("response.output_item.added", output_index=at, item={**item, "status": "in_progress", "content": []})
            for part_at, part in enumerate(item["content"]):
                add("response.content_part.added", **where, content_index=part_at, part={**part, "text": ""})
                for piece in text_pieces(part["text"]):
                    add("response.output_text.delta", **where, content_index=part_at, delta=piece, logprobs=[])
                add("response.output_text.done", **where, content_index=part_at, text=part["text"], logprobs=[])
                add("response.content_part.done", **where, content_index=part_at, part=part)
        else:
            add("response.output_item.added", output_index=at, item={**item, "status": "in_progress", "arguments": ""})
            for piece in argument_pieces(item["arguments"]):
                add("response.function_call_arguments.delta", **where, delta=piece)
            add("response.function_call_arguments.done", **where, name=item["name"], arguments=item["arguments"])
        add("response.output_item.done", output_index=at, item=item)
    add("response.completed", response=response)
    return events


def sse_frames(payloads: Sequence[dict[str, Any]], named: bool) -> list[bytes]:
    """One SSE event per payload: `event:` names it (the Responses API does), chat ends with `data: [DONE]`."""
    frames = [
        (f"event: {payload['type']}\n" if named else "").encode("utf-8") + b"data: " + encode(payload) + b"\n\n"
        for payload in payloads
    ]
    return frames if named else frames + [b"data: [DONE]\n\n"]
