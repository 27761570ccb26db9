"""Scores and graders: a grader turns (task, rollout) into a Score in [0, 1]."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Awaitable, Callable, Mapping, Union

from replaygate.core.errors import InputError
from replaygate.core.rollout import Rollout
from replaygate.core.task import Task


@dataclass(frozen=True)
class Score:
    value: float
    reason: str
    # The rule, as an instruction, that the grader says the prompt should have stated; optimizers mine it.
    hint: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.value <= 1.0:
            raise ValueError(f"score {self.value} is outside [0, 1]")


Grader = Callable[[Task, Rollout], Union[Score, Awaitable[Score]]]


async def grade(grader: Grader, task: Task, rollout: Rollout) -> Score:
    """Run a sync or async grader."""
    result = grader(task, rollout)
    if inspect.isawaitable(result):
        result = await result
    return result


def composite(scores: Mapping[str, Score], weights: Mapping[str, float]) -> Score:
    """Weighted mean of the named scores; the reason joins the imperfect ones."""
    total = sum(weights[name] for name in scores)
    if total <= 0:
        raise InputError("grader weights sum to 0; give at least one grader a positive weight")
    value = sum(weights[name] * score.value for name, score in scores.items()) / total
    # Graders that fail for one shared reason (an API error, say) are listed once.
    by_reason: dict[str, list[str]] = {}
    for name, score in scores.items():
        if score.value < 1.0:
            by_reason.setdefault(score.reason, []).append(name)
    reasons = [f"{', '.join(names)}: {reason}" for reason, names in by_reason.items()]
    return Score(value=min(1.0, max(0.0, value)), reason="; ".join(reasons) or "all graders satisfied")
