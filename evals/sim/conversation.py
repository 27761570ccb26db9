"""Validating a chat-completions request body and reading its conversation."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_INSTRUCTION_ROLES = {"system", "developer", "user"}


class SimRequestError(ValueError):
    """The request body is not a chat-completions request the simulator can answer."""


@dataclass(frozen=True)
class ToolCallMade:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Conversation:
    """The parts of a request the simulator reasons from."""

    instructions: str
    seed: Any
    offered_tools: tuple[str, ...] = ()
    tool_calls: tuple[ToolCallMade, ...] = ()
    tool_results: tuple[str, ...] = ()
    response_format: dict[str, Any] | None = None
    messages: tuple[dict[str, Any], ...] = field(default=(), repr=False)


def schema_properties(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    """The `properties` of a json_schema response format, or None when there are none."""
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    wrapper = response_format.get("json_schema")
    schema = wrapper.get("schema") if isinstance(wrapper, dict) else None
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return properties if isinstance(properties, dict) and properties else None


def message_text(content: Any) -> str:
    """Plain text of a message's content (a string, None, or a list of parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content
        )
    return str(content)


def _check_message(index: int, message: Any) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise SimRequestError(f"messages[{index}] must be an object with 'role' and 'content', got {type(message).__name__}")
    role = message.get("role")
    if role not in ROLES:
        raise SimRequestError(f"messages[{index}] has unknown role {role!r}; use one of {', '.join(ROLES)}")
    content = message.get("content")
    if content is not None and not isinstance(content, (str, list)):
        raise SimRequestError(f"messages[{index}].content must be a string, a list of parts or null")
    calls = message.get("tool_calls")
    if calls is not None and not (
        isinstance(calls, list) and all(isinstance(c, dict) and isinstance(c.get("function"), dict) for c in calls)
    ):
        raise SimRequestError(f"messages[{index}].tool_calls must be a list of {{id, type, function}} objects")
    return message


def _tool_calls(message: dict[str, Any]) -> list[ToolCallMade]:
    calls = []
    for call in message.get("tool_calls") or []:
        function = call["function"]
        arguments = function.get("arguments", "")
        # Replayed traces sometimes hold arguments as an object; the wire form is JSON text.
        text = arguments if isinstance(arguments, str) else json.dumps(arguments)
        calls.append(ToolCallMade(str(call.get("id", "")), str(function.get("name", "")), text))
    return calls


def _offered_tools(tools: Any) -> tuple[str, ...]:
    if tools is None:
        return ()
    if not isinstance(tools, list):
        raise SimRequestError(f"'tools' must be a list of tool objects, got {type(tools).__name__}")
    names = []
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise SimRequestError(f"tools[{index}] must be an object, got {type(tool).__name__}")
        function = tool.get("function")
        if tool.get("type", "function") == "function" and isinstance(function, dict):
            name = function.get("name")
            if not isinstance(name, str) or not name:
                raise SimRequestError(f"tools[{index}].function.name must be a non-empty string")
            names.append(name)
    return tuple(names)


def read_request(request: Any) -> Conversation:
    """Validate `request` and return its conversation; raises SimRequestError with the reason."""
    if not isinstance(request, dict):
        raise SimRequestError(f"request body must be a JSON object, got {type(request).__name__}")
    if "messages" not in request:
        raise SimRequestError("request has no 'messages'; send a non-empty list of chat messages")
    messages = request["messages"]
    if not isinstance(messages, list):
        raise SimRequestError(f"'messages' must be a list, got {type(messages).__name__}")
    if not messages:
        raise SimRequestError("'messages' is empty; send at least one user message")
    if request.get("stream"):
        raise SimRequestError("stream=true is not supported by the simulator; send stream=false or leave it out")
    response_format = request.get("response_format")
    if response_format is not None and not isinstance(response_format, dict):
        raise SimRequestError("'response_format' must be an object such as {\"type\": \"json_schema\", ...}")

    checked = [_check_message(i, m) for i, m in enumerate(messages)]
    instructions = "\n".join(message_text(m.get("content")) for m in checked if m["role"] in _INSTRUCTION_ROLES)
    calls = [c for m in checked if m["role"] == "assistant" for c in _tool_calls(m)]
    results = [message_text(m.get("content")) for m in checked if m["role"] in ("tool", "function")]
    seed = request.get("seed")
    return Conversation(
        instructions=instructions,
        seed=0 if seed is None else seed,
        offered_tools=_offered_tools(request.get("tools")),
        tool_calls=tuple(calls),
        tool_results=tuple(results),
        response_format=response_format,
        messages=tuple(checked),
    )
