"""Rollouts: what one run of the agent on one task produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The error kind of a case no model answered (`replaygate.llm.infra` decides): an error, never a score.
INFRA = "infra"


@dataclass
class ToolCall:
    name: str
    arguments: str  # raw JSON text, exactly as the model sent it
    result: str | None = None
    error: str | None = None


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0

    def add(self, other: "Usage") -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.calls += other.calls


@dataclass
class Rollout:
    """The trace of one attempt: messages, the tool calls the model asked for, final text and the answer.

    `answer` is what the suite's solver returned (a string, a dict, a pydantic model...);
    graders read it, or `final_text`, `tool_calls` and `messages`.

    `error` is set when the attempt ended without a usable answer (API error,
    turn limit, bad tool call); graders then score it 0 with that reason.
    """

    task_id: str
    repeat: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    final_text: str | None = None
    answer: Any = None
    usage: Usage = field(default_factory=Usage)
    grading_usage: Usage = field(default_factory=Usage)  # model-graded scoring, e.g. the judge
    latency_s: float = 0.0
    retries: int = 0  # model calls asked again because the answer was unreadable
    error: str | None = None
    # infra, api, malformed, turn_limit, bad_tool_call: what kind of failure `error` describes. infra (no model
    # answered: unreachable, refused, out of retries) makes the case an error; the others are scored.
    error_kind: str | None = None
    hint: str = ""  # what instruction would have avoided `error`, when the harness or suite can tell

    def fail(self, kind: str, reason: str, hint: str = "") -> None:
        self.error_kind, self.error, self.hint = kind, reason, hint

    @property
    def transport_failed(self) -> bool:
        """The service failed (not the model): such a run is never recorded as an answer."""
        return self.error_kind in ("infra", "api", "malformed")

    @property
    def infra_failed(self) -> bool:
        """No model answered (`replaygate.llm.infra`): the case is an error, never a score."""
        return self.error_kind == INFRA
