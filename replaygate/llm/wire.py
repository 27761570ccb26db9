"""Readers of decoded OpenAI response bodies, Chat Completions and Responses alike, for token accounting and traces.

Each takes whatever JSON came back and never raises: an odd body reads as None or [].
"""

from __future__ import annotations

import json
from typing import Any, Literal

from replaygate.core.rollout import Usage

Api = Literal["chat", "responses"]


def api_of(path: str) -> Api | None:
    """Which API a request path calls, under any prefix (`/v1`, Azure's `/openai/deployments/<d>`); None for others."""
    if not isinstance(path, str):
        return None
    path = path.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    if path == "chat/completions" or path.endswith("/chat/completions"):
        return "chat"
    if path == "responses" or path.endswith("/responses"):
        return "responses"
    return None


def _count(value: Any) -> int | None:
    # bool is an int to Python, never a token count.
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def usage_of(body: Any) -> tuple[int, int] | None:
    """(input, output) tokens: chat's prompt/completion_tokens or Responses' input/output_tokens."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return None
    for names in (("prompt_tokens", "completion_tokens"), ("input_tokens", "output_tokens")):
        tokens_in, tokens_out = _count(usage.get(names[0])), _count(usage.get(names[1]))
        if tokens_in is not None and tokens_out is not None:
            return tokens_in, tokens_out
    return None


def _detail(usage: dict[str, Any], *names: str) -> int:
    """A count nested in usage (`prompt_tokens_details.cached_tokens`): 0 when absent or null, as services send it."""
    for group, name in zip(names[::2], names[1::2]):
        details = usage.get(group)
        if isinstance(details, dict) and (count := _count(details.get(name))) is not None:
            return count
    return 0


def model_of(body: Any) -> str:
    """The model an answer names (`gpt-4o-2024-08-06` for a `gpt-4o` deployment, say); "" when it names none."""
    model = body.get("model") if isinstance(body, dict) else None
    return model.strip() if isinstance(model, str) else ""


def call_usage(body: Any) -> Usage:
    """One call's usage from its answer: input, cached input, output and reasoning tokens, under the model it names.

    An answer with no readable usage still counts as a call, with no tokens."""
    used = usage_of(body)
    if used is None:
        return Usage(calls=1)
    usage = body["usage"]
    tokens_in, tokens_out = used
    # A part never exceeds its whole: an odd server must not make the uncached input negative.
    cached = min(tokens_in, _detail(usage, "prompt_tokens_details", "cached_tokens",
                                    "input_tokens_details", "cached_tokens"))
    reasoning = min(tokens_out, _detail(usage, "completion_tokens_details", "reasoning_tokens",
                                        "output_tokens_details", "reasoning_tokens"))
    model = model_of(body)
    return Usage(tokens_in, tokens_out, 1, cached, reasoning,
                 {model: [tokens_in, cached, tokens_out]} if model else {})


def _chat_message(body: dict[str, Any]) -> dict[str, Any] | None:
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message")
    return message if isinstance(message, dict) else None


def _output_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    output = body.get("output")
    return [item for item in output if isinstance(item, dict)] if isinstance(output, list) else []


def _arguments_text(arguments: Any) -> str:
    # The wire sends a JSON string; a server that sends the object itself still gets read.
    if isinstance(arguments, str):
        return arguments
    if arguments is None:
        return ""
    return json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))


def _function_calls(body: Any) -> list[tuple[str, str, str]]:
    """(call id, name, raw JSON arguments) of each function tool call, for either API."""
    if not isinstance(body, dict):
        return []
    message = _chat_message(body)
    if message is not None:
        calls = message.get("tool_calls")
        return [
            (str(call.get("id") or ""), call["function"]["name"], _arguments_text(call["function"].get("arguments")))
            for call in (calls if isinstance(calls, list) else [])
            if isinstance(call, dict)
            and isinstance(call.get("function"), dict)
            and isinstance(call["function"].get("name"), str)
        ]
    return [
        (str(item.get("call_id") or ""), item["name"], _arguments_text(item.get("arguments")))
        for item in _output_items(body)
        if item.get("type") == "function_call" and isinstance(item.get("name"), str)
    ]


def tool_calls_of(body: Any) -> list[tuple[str, str]]:
    """(name, raw JSON arguments) of each function tool call: chat's message.tool_calls, Responses' function_call items."""
    return [(name, arguments) for _, name, arguments in _function_calls(body)]


def text_of(body: Any) -> str | None:
    """The assistant's text: chat's message content, or the output_text of Responses' message items joined."""
    if not isinstance(body, dict):
        return None
    message = _chat_message(body)
    if message is not None:
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):  # some compatible servers send content parts
            texts = [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
            return "".join(texts) if texts else None
        return None
    texts = [
        part["text"]
        for item in _output_items(body)
        if item.get("type") == "message" and isinstance(item.get("content"), list)
        for part in item["content"]
        if isinstance(part, dict) and part.get("type") == "output_text" and isinstance(part.get("text"), str)
    ]
    return "".join(texts) if texts else None


def call_ids_of(body: Any) -> list[str]:
    """The ids of the tool calls `tool_calls_of` lists, in the same order ("" where a call has none)."""
    return [call_id for call_id, _, _ in _function_calls(body)]


def tool_results_of(body: Any) -> list[tuple[str, str]]:
    """(call id, output) of the tool results a request sends back: chat `tool` messages, Responses function_call_output items."""
    if not isinstance(body, dict):
        return []
    items = body.get("messages") if isinstance(body.get("messages"), list) else body.get("input")
    found = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        if item.get("role") == "tool" and isinstance(item.get("tool_call_id"), str):
            content = item.get("content")
            found.append((item["tool_call_id"], content if isinstance(content, str) else json.dumps(content)))
        elif item.get("type") == "function_call_output" and isinstance(item.get("call_id"), str):
            output = item.get("output")
            found.append((item["call_id"], output if isinstance(output, str) else json.dumps(output)))
    return found
