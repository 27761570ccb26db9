"""Case records: the plain, serializable form of a scored case that reports and baselines are built from.

Records travel where results cannot: from xdist workers to the controller, and
from CI shards to the merge step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from replaygate.core.rollout import Rollout
from replaygate.run.runner import CaseResult


@dataclass(frozen=True)
class CaseRecord:
    task_id: str
    repeat: int
    expected: str
    chosen: str
    score: float
    passed: bool
    reason: str
    error_kind: str | None = None  # the rollout's failure kind, or "harness" when the case could not run
    tokens_in: int = 0
    tokens_out: int = 0
    retries: int = 0
    task_input: dict[str, Any] = field(default_factory=dict)
    grader_scores: dict[str, float] = field(default_factory=dict)
    grading_tokens_in: int = 0  # the part of tokens_in / tokens_out spent by model graders (the judge)
    grading_tokens_out: int = 0
    # Wall time of the rollout; in replay it measures the replay, not the model.
    latency_s: float = 0.0
    # Why the case is no test, when the prompt shows its input (a leaked example); kept out of the gate.
    contaminated: str = ""
    # Model requests the case sent through the harness; 0: its calls, if any, escaped (never accepted into a
    # baseline unnoticed). None: not counted (a case that did not run, an older record).
    model_calls: int | None = None
    # Time to first token of the case's first streamed call (None: no call streamed); in replay it measures the replay.
    ttft_s: float | None = None
    # Parts of tokens_in / tokens_out (agent and graders): input read from the prompt cache, output spent reasoning.
    tokens_cached: int = 0
    tokens_reasoning: int = 0
    # [input, cached input, output] per model the answers named, the agent's and the graders' apart; tokens that no
    # named model accounts for are priced under the configured model. Older records have none: all are.
    models: dict[str, list[int]] = field(default_factory=dict)
    grading_models: dict[str, list[int]] = field(default_factory=dict)

    def to_json(self) -> str:
        # vars, not asdict: the same JSON without asdict's deep copy of every field (one record per case).
        return json.dumps(vars(self), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "CaseRecord":
        return cls(**json.loads(text))


def expected_text(expected: Any) -> str:
    """The expected answer as a report cell: text as it is, any other JSON value compactly."""
    if expected is None:
        return "—"
    return expected if isinstance(expected, str) else json.dumps(expected, ensure_ascii=False, sort_keys=True)


def record_case(
    result: CaseResult, threshold: float, describe: Callable[[Rollout], str], with_input: bool = False,
    contaminated: str = "",
) -> CaseRecord:
    """`with_input` carries the task's input too (only a shrunk failure's report shows it); `contaminated` says
    what of the task the prompt shows (`replaygate.results.gate.task_leaks`), empty when nothing."""
    rollout = result.rollout
    reason, kind = _reason_and_kind(result)
    return CaseRecord(
        task_id=result.task.id,
        repeat=result.repeat,
        expected=expected_text(result.task.expected),
        chosen=describe(rollout) if rollout is not None else "—",
        score=round(result.value, 4),
        passed=result.passes(threshold),
        reason=reason,
        error_kind=kind,
        tokens_in=(rollout.usage.input_tokens + rollout.grading_usage.input_tokens) if rollout else 0,
        tokens_out=(rollout.usage.output_tokens + rollout.grading_usage.output_tokens) if rollout else 0,
        retries=rollout.retries if rollout else 0,
        task_input=dict(result.task.input) if with_input else {},
        grader_scores={name: round(score.value, 4) for name, score in sorted(result.scores.items())},
        grading_tokens_in=rollout.grading_usage.input_tokens if rollout else 0,
        grading_tokens_out=rollout.grading_usage.output_tokens if rollout else 0,
        latency_s=round(rollout.latency_s, 4) if rollout else 0.0,
        ttft_s=round(rollout.ttft_s, 4) if rollout is not None and rollout.ttft_s is not None else None,
        contaminated=contaminated,
        model_calls=rollout.model_calls if rollout is not None and result.failure is None else None,
        tokens_cached=(rollout.usage.cached_input_tokens + rollout.grading_usage.cached_input_tokens) if rollout else 0,
        tokens_reasoning=(rollout.usage.reasoning_tokens + rollout.grading_usage.reasoning_tokens) if rollout else 0,
        models=_sorted_models(rollout.usage.by_model) if rollout else {},
        grading_models=_sorted_models(rollout.grading_usage.by_model) if rollout else {},
    )


def _reason_and_kind(result: CaseResult) -> tuple[str, str | None]:
    """The case's one-line reason and its error kind: the harness's failure, else the model service's, else the graders'."""
    rollout = result.rollout
    if result.failure is not None:
        return " ".join(str(result.failure).split()), "harness"
    if rollout is not None and rollout.infra_failed:
        # No model answered: the error's own line is the reason, not the graders' zeros.
        return rollout.error or "", rollout.error_kind
    return (result.score.reason if result.score else ""), (rollout.error_kind if rollout else None)


def _sorted_models(by_model: dict[str, list[int]]) -> dict[str, list[int]]:
    return {model: list(counts) for model, counts in sorted(by_model.items())}
