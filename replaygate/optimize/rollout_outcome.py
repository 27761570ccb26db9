"""Outcomes: what one rollout of a candidate on a task scored, in a form the cache can keep."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from replaygate.run.runner import CaseResult
from replaygate.optimize.critic_traces import trace_body


@dataclass(frozen=True)
class Outcome:
    task_id: str
    repeat: int
    score: float  # the composite, under the weights of the run that produced it
    graders: Mapping[str, tuple[float, str]] = field(default_factory=dict)
    error_kind: str | None = None
    tokens: int = 0
    trace: str = ""  # the critic's view; shown only for train tasks
    # Per grader, the rule it says the prompt should have stated (see Score.hint); "" for none.
    hints: Mapping[str, str] = field(default_factory=dict)

    def metric(self, name: str) -> float:
        if name == "score":
            return self.score
        value = self.graders.get(name)
        return value[0] if value else 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["graders"] = {name: list(pair) for name, pair in self.graders.items()}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Outcome":
        graders = {name: (float(pair[0]), str(pair[1])) for name, pair in data.get("graders", {}).items()}
        return cls(**{**data, "graders": graders})


def outcome_of(result: CaseResult) -> Outcome:
    rollout = result.rollout
    tokens = 0
    if rollout is not None:
        tokens = sum(
            (rollout.usage.input_tokens, rollout.usage.output_tokens,
             rollout.grading_usage.input_tokens, rollout.grading_usage.output_tokens)
        )
    return Outcome(
        task_id=result.task.id,
        repeat=result.repeat,
        score=round(result.value, 6),
        graders={name: (round(score.value, 6), score.reason) for name, score in result.scores.items()},
        error_kind=("harness" if result.failure is not None else (rollout.error_kind if rollout else None)),
        tokens=tokens,
        trace=trace_body(result),
        hints={name: score.hint for name, score in result.scores.items() if score.hint},
    )
