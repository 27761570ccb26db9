"""Scores and graders: a grader turns (task, rollout) into a Score in [0, 1]."""

from __future__ import annotations

import inspect
import numbers
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, Union

from replaygate.core.errors import InputError
from replaygate.core.rollout import Rollout
from replaygate.core.task import Task

_RETURN = "return a Score, a float in [0, 1], a bool, or a (value, reason) tuple"


def _shown(value: Any) -> str:
    text = repr(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:59] + "…"


@dataclass(frozen=True)
class Score:
    value: float
    reason: str
    # The rule, as an instruction, that the grader says the prompt should have stated; optimizers mine it.
    hint: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.value <= 1.0:
            raise ValueError(f"score {self.value} is outside [0, 1]")

    @classmethod
    def of(cls, result: Any, grader: str = "grader") -> "Score":
        """The Score a grader's result stands for: a Score, a number in [0, 1], a bool, or a (value, reason) tuple."""
        if isinstance(result, Score):
            return result
        value, reason = result, None
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], str):
            value, reason = result
        if isinstance(value, bool):
            return cls(float(value), reason if reason is not None else ("passed" if value else "failed"))
        if isinstance(value, numbers.Real):
            try:
                number = float(value)
            except OverflowError:
                number = float("inf")
            if not 0.0 <= number <= 1.0:  # NaN fails this too
                raise ValueError(f"grader {grader!r} returned {_shown(value)}, outside [0, 1]; {_RETURN}")
            return cls(number, reason if reason is not None else f"scored {number:g}")
        raise TypeError(f"grader {grader!r} returned {_shown(result)} ({type(result).__name__}); {_RETURN}")


# `grade` also accepts what Score.of reads (a float, a bool, a (value, reason) tuple), so simple graders stay simple.
Grader = Callable[[Task, Rollout], Union[Score, Awaitable[Score]]]


def grader_name(grader: Grader) -> str:
    """The grader's `name` attribute, else its function or class name."""
    name = getattr(grader, "name", None)
    return name if isinstance(name, str) else getattr(grader, "__name__", type(grader).__name__)


async def grade(grader: Grader, task: Task, rollout: Rollout) -> Score:
    """Run a sync or async grader and read its result as a Score."""
    result = grader(task, rollout)
    if inspect.isawaitable(result):
        result = await result
    return Score.of(result, grader_name(grader))


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
