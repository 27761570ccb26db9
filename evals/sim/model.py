"""The simulator's entry point (an offline stand-in, not a real model): one request body in,
one chat.completion dict out, as a pure function of the body."""

from __future__ import annotations

from typing import Any

from . import critic, editor, judge, selector
from .completion import completion
from .conversation import SimRequestError, read_request

GENERIC_REPLY = "I am a simulator and only answer room-selection, grading, critique and prompt-editing requests."

__all__ = ["GENERIC_REPLY", "SimRequestError", "respond"]


def respond(request: dict[str, Any]) -> dict[str, Any]:
    """Answer `request` as the agent, judge, editor, critic, or with a generic reply; raises SimRequestError."""
    convo = read_request(request)
    if convo.offered_tools:
        return selector.act(request, convo)
    if judge.is_judge_request(convo):
        return judge.act(request, convo)
    # The editor before the critic: an edit request quotes a critique, which may say anything.
    if editor.is_edit_request(convo):
        return editor.act(request, convo)
    if critic.is_critique_request(convo):
        return critic.act(request, convo)
    return completion(request, GENERIC_REPLY)
