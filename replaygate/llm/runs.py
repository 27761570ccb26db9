"""Readers of a hosted agent service's bodies (the threads API of the Foundry Agent Service and OpenAI Assistants).

A run is polled many times under one id and changes as it goes, so a trace counts each of its steps once: the
tool calls it asks for (`requires_action`) and, when it ends, the usage it reports for all its steps. The reply
itself is a thread message, read from a message list. Like `replaygate.llm.wire`, nothing here raises.
"""

from __future__ import annotations

import json
import re
from typing import Any

from replaygate.core.rollout import Usage
from replaygate.llm.wire import call_usage

# Runs (and their polls, tool outputs) and message lists: what a trace reads of an agent service.
AGENT_PATH = re.compile(r"/threads(?:/[^/]+)?/(?:runs|messages)(?:/[^/]+)?(?:/submit_tool_outputs)?$|/threads/runs$")
ENDED = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})


def is_agent_path(path: str) -> bool:
    return isinstance(path, str) and AGENT_PATH.search(path.rstrip("/")) is not None


def is_agent_body(body: Any) -> bool:
    """A thread, message, run or list of them: an agent service's answer, never a model call of its own."""
    kind = body.get("object") if isinstance(body, dict) else None
    return isinstance(kind, str) and (kind.startswith("thread") or kind == "list")


def is_run(body: Any) -> bool:
    return isinstance(body, dict) and body.get("object") == "thread.run" and isinstance(body.get("id"), str)


def run_step(body: dict[str, Any], seen: set[str]) -> tuple[Usage | None, list[tuple[str, str, str]]]:
    """(usage, [(call id, name, raw JSON arguments)]) of a run step not `seen` before, which it then is.

    A step that asks for tools counts as one model call; the end counts as one more, with the run's usage."""
    status = body.get("status")
    if status == "requires_action":
        action = body.get("required_action")
        outputs = action.get("submit_tool_outputs") if isinstance(action, dict) else None
        listed = outputs.get("tool_calls") if isinstance(outputs, dict) else None
        calls = [
            (str(call.get("id") or ""), call["function"]["name"], _arguments(call["function"].get("arguments")))
            for call in listed if isinstance(listed, list) and isinstance(call, dict)
            and isinstance(call.get("function"), dict) and isinstance(call["function"].get("name"), str)
        ] if isinstance(listed, list) else []
        key = f"{body['id']}:" + ",".join(call_id for call_id, _, _ in calls)
        if key in seen:
            return None, []
        seen.add(key)
        return Usage(calls=1), calls
    if status in ENDED:
        key = f"{body['id']}:end"
        if key in seen:
            return None, []
        seen.add(key)
        return call_usage(body), []
    return None, []


def tool_outputs_of(body: Any) -> list[tuple[str, str]]:
    """(call id, output) of a submit_tool_outputs request."""
    outputs = body.get("tool_outputs") if isinstance(body, dict) else None
    return [
        (item["tool_call_id"], item.get("output") if isinstance(item.get("output"), str) else json.dumps(item.get("output")))
        for item in outputs if isinstance(item, dict) and isinstance(item.get("tool_call_id"), str)
    ] if isinstance(outputs, list) else []


def thread_text_of(body: Any) -> str | None:
    """The newest assistant message's text in a list of thread messages; None for any other body."""
    data = body.get("data") if isinstance(body, dict) and body.get("object") == "list" else None
    messages = [item for item in data if isinstance(item, dict) and item.get("object") == "thread.message"
                and item.get("role") == "assistant"] if isinstance(data, list) else []
    if not messages:
        return None
    newest = max(messages, key=lambda item: item.get("created_at") if isinstance(item.get("created_at"), int) else 0)
    content = newest.get("content")
    texts = [block["text"]["value"] for block in content if isinstance(block, dict) and block.get("type") == "text"
             and isinstance(block.get("text"), dict) and isinstance(block["text"].get("value"), str)] \
        if isinstance(content, list) else []
    return "".join(texts) if texts else None


def _arguments(arguments: Any) -> str:
    if isinstance(arguments, str):
        return arguments
    return "" if arguments is None else json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
