"""A case's conversation rebuilt from its cassette: what the agent sent, each tool call and result, the final answer.

A cassette holds every model call of a case in order, the agent's and the graders' (a judge) alike, with
no label saying whose. The agent's calls are the ones that continue its first request: a chat request
whose messages start with the first request's messages, or a Responses request that does the same with
its input or names an earlier answer as `previous_response_id`. Every other call is shown apart.
Everything here is a pure function of the parsed cassette and never raises on an odd body.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

from replaygate.llm.wire import api_of, text_of, usage_of

Entry = dict[str, Any]


def _body(stored: Any) -> Any:
    """A stored body as JSON: vcrpy's {"json": ...} as the harness writes it, or a raw string that may parse."""
    if isinstance(stored, dict):
        if "json" in stored:
            return stored["json"]
        stored = stored.get("string")
    if isinstance(stored, (bytes, bytearray)):
        stored = bytes(stored).decode("utf-8", errors="replace")
    if isinstance(stored, str):
        try:
            return json.loads(stored)
        except ValueError:
            return None
    return None


def _path_of(uri: Any) -> str:
    if not isinstance(uri, str):
        return ""
    rest = uri.split("://", 1)[-1]
    return "/" + rest.split("/", 1)[1] if "/" in rest else "/"


def _calls(cassette: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = []
    interactions = cassette.get("interactions")
    for item in interactions if isinstance(interactions, list) else []:
        if not isinstance(item, dict):
            continue
        request = item.get("request") if isinstance(item.get("request"), dict) else {}
        response = item.get("response") if isinstance(item.get("response"), dict) else {}
        status = response.get("status", {}).get("code") if isinstance(response.get("status"), dict) else None
        found.append({"api": api_of(_path_of(request.get("uri"))), "request": _body(request.get("body")),
                      "response": _body(response.get("body")), "status": status if isinstance(status, int) else 0})
    return found


def _items(request: Any) -> list[Any]:
    """What a request says: chat's messages, or Responses' input (a bare string is one user message)."""
    if not isinstance(request, dict):
        return []
    if isinstance(request.get("messages"), list):
        return request["messages"]
    given = request.get("input")
    if isinstance(given, str):
        return [{"role": "user", "content": given}]
    return given if isinstance(given, list) else []


def _key(item: Any) -> str:
    # What identifies an item when one request repeats another's: its role, type and content, not its ids.
    if not isinstance(item, dict):
        return json.dumps(item, sort_keys=True, default=str)
    return json.dumps({k: item.get(k) for k in ("role", "type", "content", "name", "arguments", "output")},
                      sort_keys=True, default=str)


def _is_ok(call: Mapping[str, Any]) -> bool:
    return 200 <= call["status"] < 300 and isinstance(call["response"], dict)


def split_agent_calls(calls: Sequence[Mapping[str, Any]]) -> tuple[list[int], list[int]]:
    """(the agent's calls, every other call) by index: the agent's continue its first request."""
    first = next((i for i, c in enumerate(calls) if c["api"] and _items(c["request"])), None)
    if first is None:
        return [], list(range(len(calls)))
    prefix = [_key(item) for item in _items(calls[first]["request"])]
    agent, other, answer_ids = [], [], set()
    for i, call in enumerate(calls):
        request = call["request"] if isinstance(call["request"], dict) else {}
        keys = [_key(item) for item in _items(request)]
        previous = request.get("previous_response_id")
        continues = i >= first and call["api"] == calls[first]["api"] and (
            keys[:len(prefix)] == prefix or (isinstance(previous, str) and previous in answer_ids))
        (agent if continues else other).append(i)
        if continues and _is_ok(call) and isinstance(call["response"].get("id"), str):
            answer_ids.add(call["response"]["id"])
    return agent, other


def _text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: text, input_text, output_text
        texts = [p.get("text") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return "".join(texts) if texts else None
    return None


def _arguments(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def entries_of(items: Sequence[Any]) -> list[Entry]:
    """Transcript entries for chat messages or Responses input/output items, in order."""
    entries: list[Entry] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "function_call":
            entries.append({"type": "tool_call", "call_id": str(item.get("call_id") or ""),
                            "name": str(item.get("name") or ""), "arguments": _arguments(item.get("arguments"))})
        elif kind == "function_call_output":
            entries.append({"type": "tool_result", "call_id": str(item.get("call_id") or ""),
                            "output": _arguments(item.get("output"))})
        elif kind == "reasoning":
            summary = item.get("summary")
            text = _text(summary) if isinstance(summary, list) else None
            entries.append({"type": "reasoning", "text": text or "(reasoning withheld by the service)"})
        elif item.get("role") == "tool":
            entries.append({"type": "tool_result", "call_id": str(item.get("tool_call_id") or ""),
                            "output": _arguments(item.get("content"))})
        elif isinstance(item.get("role"), str):
            text = _text(item.get("content"))
            if text:
                entries.append({"type": "message", "role": item["role"], "text": text})
            for call in item.get("tool_calls") or []:
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict):
                    entries.append({"type": "tool_call", "call_id": str(call.get("id") or ""),
                                    "name": str(function.get("name") or ""),
                                    "arguments": _arguments(function.get("arguments"))})
        elif kind:
            entries.append({"type": "other", "text": f"{kind} item"})
    return entries


def _answer_items(response: Any) -> list[Any]:
    """The model's answer as items: chat's message, or Responses' output list."""
    if not isinstance(response, dict):
        return []
    choices = response.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        return [{**message, "role": "assistant"}] if isinstance(message, dict) else []
    output = response.get("output")
    return [item if "role" in item or item.get("type") != "message" else {**item, "role": "assistant"}
            for item in output if isinstance(item, dict)] if isinstance(output, list) else []


def _conversation(calls: Sequence[Mapping[str, Any]], agent: Sequence[int]) -> list[Any]:
    """The items of the agent's last answered call: what it sent (stitched through previous_response_id) and got."""
    answered = [i for i in agent if _is_ok(calls[i])] or list(agent)
    by_answer = {calls[i]["response"]["id"]: i for i in agent
                 if _is_ok(calls[i]) and isinstance(calls[i]["response"].get("id"), str)}
    chain = [answered[-1]]  # the last answered call, then each earlier answer it names, back to the first
    while True:
        request = calls[chain[0]]["request"] if isinstance(calls[chain[0]]["request"], dict) else {}
        previous = request.get("previous_response_id")
        before = by_answer.get(previous) if isinstance(previous, str) else None
        if before is None or before >= chain[0]:  # only an earlier answer: no cycle
            break
        chain.insert(0, before)
    items: list[Any] = []
    shown = None
    for i in chain:
        request = calls[i]["request"] if isinstance(calls[i]["request"], dict) else {}
        instructions = request.get("instructions")
        if isinstance(instructions, str) and instructions and instructions != shown:
            items.append({"role": "system", "content": instructions})  # Responses' system prompt, where it was given
            shown = instructions
        items += list(_items(request)) + _answer_items(calls[i]["response"])
    return items


def _usage(call: Mapping[str, Any]) -> list[int] | None:
    used = usage_of(call["response"])
    return list(used) if used else None


def transcript(cassette: Mapping[str, Any]) -> dict[str, Any]:
    """The case as a conversation, plus one line per model call and the calls that were not the agent's."""
    calls = _calls(cassette)
    agent, other = split_agent_calls(calls)
    entries = entries_of(_conversation(calls, agent)) if agent else []
    names = {e["call_id"]: e["name"] for e in entries if e["type"] == "tool_call" and e["call_id"]}
    for entry in entries:
        if entry["type"] == "tool_result":
            entry["name"] = names.get(entry["call_id"], "")
    final = None
    if agent:
        last = calls[[i for i in agent if _is_ok(calls[i])][-1]] if any(_is_ok(calls[i]) for i in agent) else None
        final = text_of(last["response"]) if last else None
    return {
        "api": calls[agent[0]]["api"] if agent else None,
        "entries": entries,
        "final": final,
        "calls": [{"by": "agent" if i in agent else "other", "api": c["api"], "status": c["status"], "tokens": _usage(c)}
                  for i, c in enumerate(calls)],
        "other": [{"api": calls[i]["api"], "sent": entries_of(_items(calls[i]["request"])),
                   "answer": text_of(calls[i]["response"]) if _is_ok(calls[i]) else None, "status": calls[i]["status"]}
                  for i in other],
    }
