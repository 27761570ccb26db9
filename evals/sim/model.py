"""The simulator's entry point (an offline stand-in, not a real model): one request body in,
one chat.completion dict out, as a pure function of the body."""

from __future__ import annotations

from typing import Any

from . import judge, selector
from .completion import completion
from .conversation import SimRequestError, read_request

GENERIC_REPLY = "I am a simulator and only answer room-selection and grading requests."

__all__ = ["GENERIC_REPLY", "SimRequestError", "respond"]


def respond(request: dict[str, Any]) -> dict[str, Any]:
    """Answer `request` as the agent, the judge, or with a generic reply; raises SimRequestError."""
    convo = read_request(request)
    if convo.offered_tools:
        return selector.act(request, convo)
    if judge.is_judge_request(convo):
        return judge.act(request, convo)
    return completion(request, GENERIC_REPLY)
