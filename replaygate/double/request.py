"""What the test double's function receives: one OpenAI request, normalized across Chat Completions and Responses."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from typing import Any, Literal

Api = Literal["chat", "responses"]

# Content parts that carry text, in either API; images, audio and files have no text to show.
TEXT_PARTS = frozenset({"text", "input_text", "output_text"})


class RequestError(ValueError):
    """The request cannot be read; the double answers 400 with this message."""


@dataclass(frozen=True)
class ToolResult:
    """A tool's output sent back to the model; `name` is the called tool's when the request shows the call."""

    call_id: str
    output: str
    name: str | None = None

    @property
    def value(self) -> Any:
        """The output read as JSON, else as a Python literal (the Agents SDK sends str() of a dict), else as sent."""
        try:
            return json.loads(self.output)
        except (ValueError, RecursionError):
            pass
        try:
            return ast.literal_eval(self.output.strip())
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return self.output


@dataclass(frozen=True)
class ModelRequest:
    """One request as the function sees it; `body` is the raw JSON, the other fields read the same for both APIs."""

    api: Api
    model: str
    # {"role", "content"} dicts; assistant turns may add "tool_calls" [{"call_id", "name", "arguments"}],
    # tool results have role "tool" with "call_id" and "name".
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]  # {"name", "description", "parameters"} for each function tool
    tool_results: list[ToolResult]  # those after the last assistant turn: answers to the calls it just made
    response_format: dict[str, Any] | None
    body: dict[str, Any]


def parse_request(api: Api, body: Any, deployment: str = "") -> ModelRequest:
    """Read a decoded JSON body; `deployment` (Azure's path segment) names the model when the body does not."""
    if not isinstance(body, dict):
        raise RequestError(f"request body must be a JSON object, got {_kind(body)}")
    if api == "chat":
        messages = _chat_messages(body.get("messages"))
        tools = _tools(body.get("tools"), nested=True)
        response_format = body.get("response_format")
    else:
        messages = _responses_messages(body.get("instructions"), body.get("input"))
        tools = _tools(body.get("tools"), nested=False)
        text = body.get("text")
        response_format = text.get("format") if isinstance(text, dict) else None
    model = body.get("model")
    return ModelRequest(
        api=api,
        model=model if isinstance(model, str) and model else deployment,
        messages=messages,
        tools=tools,
        tool_results=_latest_tool_results(messages),
        response_format=response_format if isinstance(response_format, dict) else None,
        body=body,
    )


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list joined by newlines."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") in TEXT_PARTS and isinstance(part.get("text"), str)
        )
    return ""


def _arguments(raw: Any) -> Any:
    # Decoded when the model sent a JSON object, as ToolCall takes them; anything else stays as sent.
    if isinstance(raw, str):
        try:
            decoded = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return raw
        return decoded if isinstance(decoded, dict) else raw
    return raw if isinstance(raw, dict) else ""


def _call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    return {"call_id": str(call_id or ""), "name": str(name or ""), "arguments": _arguments(arguments)}


def _chat_messages(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list):
        raise RequestError(f"chat request needs a 'messages' list, got {_kind(messages)}")
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise RequestError(f"messages[{index}] must be an object with a 'role'")
        role = message["role"]
        if role == "tool":
            call_id = str(message.get("tool_call_id") or "")
            out.append({"role": "tool", "call_id": call_id, "name": names.get(call_id), "content": content_text(message.get("content"))})
            continue
        entry: dict[str, Any] = {"role": role, "content": content_text(message.get("content"))}
        calls = [
            _call(call.get("id"), call["function"].get("name"), call["function"].get("arguments"))
            for call in message.get("tool_calls") or []
            if isinstance(call, dict) and isinstance(call.get("function"), dict)
        ]
        if calls:
            entry["tool_calls"] = calls
            names.update((call["call_id"], call["name"]) for call in calls)
        out.append(entry)
    return out


def _responses_messages(instructions: Any, items: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if isinstance(instructions, str) and instructions:
        out.append({"role": "system", "content": instructions})
    if isinstance(items, str):
        return out + [{"role": "user", "content": items}]
    if items is None:
        return out
    if not isinstance(items, list):
        raise RequestError(f"'input' must be a string or a list of items, got {_kind(items)}")
    names: dict[str, str] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise RequestError(f"input[{index}] must be an object, got {_kind(item)}")
        kind = item.get("type", "message")
        if kind == "message" and isinstance(item.get("role"), str):
            out.append({"role": item["role"], "content": content_text(item.get("content"))})
        elif kind == "function_call":
            call = _call(item.get("call_id"), item.get("name"), item.get("arguments"))
            names[call["call_id"]] = call["name"]
            # A turn's calls join its assistant message, as Chat Completions sends them, so both APIs read alike.
            if not out or out[-1]["role"] != "assistant":
                out.append({"role": "assistant", "content": ""})
            out[-1].setdefault("tool_calls", []).append(call)
        elif kind == "function_call_output":
            call_id = str(item.get("call_id") or "")
            output = item.get("output")
            text = output if isinstance(output, str) else content_text(output)
            out.append({"role": "tool", "call_id": call_id, "name": names.get(call_id), "content": text})
        # Reasoning, built-in tool calls and other items carry nothing a function model reads.
    return out


def _tools(tools: Any, nested: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            continue
        spec = tool.get("function") if nested else tool
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            continue
        parameters = spec.get("parameters")
        out.append(
            {
                "name": spec["name"],
                "description": spec.get("description") if isinstance(spec.get("description"), str) else "",
                "parameters": parameters if isinstance(parameters, dict) else {},
            }
        )
    return out


def _latest_tool_results(messages: list[dict[str, Any]]) -> list[ToolResult]:
    last_assistant = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=-1)
    return [
        ToolResult(call_id=m["call_id"], output=m["content"], name=m["name"])
        for m in messages[last_assistant + 1 :]
        if m["role"] == "tool"
    ]
