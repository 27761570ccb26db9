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
    """Tokens of model calls as their answers report them, summed; cached input and reasoning are parts, not extras."""

    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    cached_input_tokens: int = 0  # of input_tokens: read from the service's prompt cache, billed at a lower rate
    reasoning_tokens: int = 0  # of output_tokens: spent reasoning before the answer, billed as output
    # Per model an answer named, [input, cached input, output]: what the service billed, for pricing. Calls whose
    # answer named no model are left out (the configured model prices them). Not part of equality: a count check
    # should not have to know which model answered.
    by_model: dict[str, list[int]] = field(default_factory=dict, compare=False)

    def add(self, other: "Usage") -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.calls += other.calls
        self.cached_input_tokens += other.cached_input_tokens
        self.reasoning_tokens += other.reasoning_tokens
        for model, counts in other.by_model.items():
            mine = self.by_model.setdefault(model, [0, 0, 0])
            for index, count in enumerate(counts):
                mine[index] += count


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
    ttft_s: float | None = None  # time to first token of the first streamed call; None when no call streamed
    retries: int = 0  # model calls asked again because the answer was unreadable
    error: str | None = None
    # infra, api, rejected, malformed, turn_limit, bad_tool_call: what kind of failure `error` describes. infra (no
    # model answered: unreachable, refused, out of retries) makes the case an error; the others are scored. rejected
    # (a 4xx about the request: context too long, an unsupported parameter) is the model's answer, kept as recorded.
    error_kind: str | None = None
    hint: str = ""  # what instruction would have avoided `error`, when the harness or suite can tell
    # Model requests the case sent through the harness (handed client, captured clients, the endpoint); None when
    # not counted. 0 means its calls, if it made any, escaped: never silently accepted into a baseline.
    model_calls: int | None = None

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
