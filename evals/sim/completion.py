"""Building chat.completion response objects in the OpenAI wire shape."""

from __future__ import annotations

import json
import math
from typing import Any

from .conversation import message_text
from .draw import short_hash

MODEL_NAME = "sim-standin-1"
SYSTEM_FINGERPRINT = "fp_evals_sim_1"
SIMULATOR_HEADER = ("x-simulator", "evals.sim offline stand-in (not a real model)")


def canonical_json(value: Any) -> str:
    """Key-sorted compact JSON, so equal request bodies hash the same."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _approx_tokens(chars: int) -> int:
    # Roughly four characters per token, as OpenAI's own rule of thumb; not a tokenizer.
    return math.ceil(chars / 4)


def _request_chars(messages: Any) -> int:
    total = 0
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, dict):
            continue
        total += len(message_text(message.get("content")))
        for call in message.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                total += len(str(function.get("name", ""))) + len(str(function.get("arguments", "")))
    return total


def tool_call(request: dict[str, Any], name: str, arguments: str) -> dict[str, Any]:
    """One function tool call with JSON `arguments`; its id is derived from the request so it repeats exactly."""
    return {
        "id": f"call_{short_hash('tool:' + canonical_json(request))}",
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def completion(
    request: dict[str, Any], content: str | None = None, tool_calls: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A chat.completion dict; usage counts are approximate (characters / 4)."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    out_chars = len(content or "") + sum(
        len(c["function"]["name"]) + len(c["function"]["arguments"]) for c in tool_calls or []
    )
    prompt_tokens = _approx_tokens(_request_chars(request.get("messages")))
    completion_tokens = _approx_tokens(out_chars)
    return {
        "id": f"chatcmpl-sim-{short_hash(canonical_json(request), 24)}",
        "object": "chat.completion",
        "created": 0,
        "model": MODEL_NAME,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
