"""Fault injection for the simulator's HTTP server: which request fails, how, and what the failure says.

The rule: a chat-completions request fails when `draw(seed, "fault", sha256(body), attempt) < rate`,
and its kind is `choose(kinds, seed, "fault-kind", sha256(body), attempt)`, where `attempt` counts
how often the server has seen this exact body before (0 the first time). So a run repeats exactly for
the same seed, however requests interleave, and a retry of the same body gets a fresh decision.
Everything here is a pure function; the server keeps the attempt counters and the fault counts.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .draw import choose, draw

# Faults the server produces on the wire instead of an answer.
TRANSPORT_KINDS = ("429", "500", "503", "hang", "malformed_json", "truncated")
# Faults that bend a normal answer: a broken tool call, an unoffered tool, a room that does not exist.
CONTENT_KINDS = ("bad_tool_args", "unknown_tool", "unknown_room")
KINDS = TRANSPORT_KINDS + CONTENT_KINDS

UNKNOWN_ROOM = "R-999"
UNKNOWN_TOOL = "search_rooms"
FAULT_HEADER = "x-simulator-fault"
# What a misbehaving gateway sends with a 200: a page of HTML where JSON was promised.
MALFORMED_BODY = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body>upstream sent an invalid response (evals.sim simulated fault)</body></html>"
)
_CHOICE_KEYS = ("final_choice", "choice", "room_id", "room")


@dataclass(frozen=True)
class FaultPlan:
    """How often and which faults to inject; rate 0 (the default) injects none."""

    rate: float = 0.0
    kinds: tuple[str, ...] = KINDS
    seed: int = 0
    retry_after_s: int = 1
    hang_s: float = 30.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate {self.rate} is outside 0..1; use e.g. 0.2 for one request in five")
        if not self.kinds:
            raise ValueError(f"no fault kinds given; use some of {','.join(KINDS)}")
        unknown = [kind for kind in self.kinds if kind not in KINDS]
        if unknown:
            raise ValueError(f"unknown fault kind {unknown[0]!r}; use some of {','.join(KINDS)}")
        if self.retry_after_s < 0:
            raise ValueError("retry-after must be 0 or more seconds")
        if self.hang_s <= 0:
            raise ValueError("hang time must be more than 0 seconds")
        # Canonical order, no repeats: "500,429" and "429,500,500" make the same run.
        object.__setattr__(self, "kinds", tuple(kind for kind in KINDS if kind in self.kinds))

    @property
    def active(self) -> bool:
        return self.rate > 0


def parse_kinds(text: str) -> tuple[str, ...]:
    """`"429,hang"` -> ("429", "hang"); raises ValueError naming an unknown kind."""
    kinds = tuple(part.strip() for part in text.split(",") if part.strip())
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use some of {','.join(KINDS)}")
    if not kinds:
        raise ValueError(f"no fault kinds given; use some of {','.join(KINDS)}")
    return kinds


def body_digest(body: bytes) -> str:
    """The sha256 hex of a raw request body: the identity retries share."""
    return hashlib.sha256(body).hexdigest()


def decide(plan: FaultPlan, digest: str, attempt: int) -> str | None:
    """The fault kind for this body's `attempt`-th sending (0 = first), or None for a normal answer."""
    if draw(plan.seed, "fault", digest, attempt) >= plan.rate:
        return None
    return choose(plan.kinds, plan.seed, "fault-kind", digest, attempt)


def error_reply(kind: str, plan: FaultPlan) -> tuple[int, dict[str, str], dict[str, Any]]:
    """(status, extra headers, OpenAI-style error body) for a 429, 500 or 503 fault."""
    note = " (evals.sim simulated fault)"
    if kind == "429":
        message = "Rate limit reached for requests. Please try again in a moment." + note
        return 429, {"retry-after": str(plan.retry_after_s)}, _error(message, "requests", "rate_limit_exceeded")
    if kind == "500":
        message = "The server had an error while processing your request. Sorry about that!" + note
        return 500, {}, _error(message, "server_error", None)
    if kind == "503":
        message = "The engine is currently overloaded, please try again later." + note
        return 503, {}, _error(message, "server_error", "service_unavailable")
    raise ValueError(f"{kind!r} is not an error-status fault")


def _error(message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def apply_content_fault(kind: str, request: Any, response: dict[str, Any]) -> dict[str, Any] | None:
    """A copy of `response` bent by `kind`, or None when the fault does not fit this request (it then passes through).

    bad_tool_args and unknown_tool bend replies that call a tool; unknown_room bends the reply to a
    request that already carries a tool result (the answering stage) into a final answer naming R-999.
    """
    choices = response.get("choices") or []
    if not choices or not isinstance(choices[0].get("message"), dict):
        return None
    bent = copy.deepcopy(response)
    message = bent["choices"][0]["message"]
    calls = message.get("tool_calls") or []
    if kind == "bad_tool_args":
        if not calls:
            return None
        calls[0]["function"]["arguments"] = _cut_short(calls[0]["function"]["arguments"])
        return bent
    if kind == "unknown_tool":
        if not calls:
            return None
        calls[0]["function"]["name"] = _unoffered_tool(request)
        return bent
    if kind == "unknown_room":
        if not _has_tool_result(request):
            return None
        message["content"] = _naming_unknown_room(message.get("content"))
        message.pop("tool_calls", None)
        bent["choices"][0]["finish_reason"] = "stop"
        return bent
    raise ValueError(f"{kind!r} is not a content fault")


def _cut_short(arguments: str) -> str:
    # A reply cut off mid-object, as a model out of tokens writes it: never valid JSON.
    text = arguments.rstrip()
    return text[:-1] if text.endswith("}") else "{"


def _offered(request: Any) -> set[str]:
    tools = request.get("tools") if isinstance(request, dict) else None
    names = set()
    for tool in tools if isinstance(tools, list) else []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict):
            names.add(str(function.get("name")))
    return names


def _unoffered_tool(request: Any) -> str:
    offered, name, suffix = _offered(request), UNKNOWN_TOOL, 1
    while name in offered:
        suffix += 1
        name = f"{UNKNOWN_TOOL}_{suffix}"
    return name


def _has_tool_result(request: Any) -> bool:
    messages = request.get("messages") if isinstance(request, dict) else None
    return any(isinstance(m, dict) and m.get("role") in ("tool", "function") for m in messages or [])


def _naming_unknown_room(content: Any) -> str:
    """The answer in the shape the model used (JSON object, final_choice line, bare text), naming R-999."""
    text = content if isinstance(content, str) else ""
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        keys = [key for key in parsed if str(key).lower() in _CHOICE_KEYS] or ["choice"]
        for key in keys:
            parsed[key] = UNKNOWN_ROOM
        return json.dumps(parsed)
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.lower().startswith("final_choice:"):
            lines[index] = f"final_choice: {UNKNOWN_ROOM}"
            return "\n".join(lines)
    return UNKNOWN_ROOM
