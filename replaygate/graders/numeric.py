"""A grader comparing numbers within a tolerance, as math.isclose does."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from replaygate.core.rollout import Rollout
from replaygate.core.score import Score
from replaygate.core.task import Task
from replaygate.graders.answer import MISSING, Ungradable, about, check_field, guarded, read_answer, read_expected, shown

__all__ = ["Numeric", "close"]


def _number(value: Any, whose: str) -> int | float:
    # A bool is a yes/no, not a quantity, though Python counts it as an int.
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return value if isinstance(value, int) else float(value)
    if isinstance(value, str):
        for parse in (int, float):
            try:
                return parse(value.strip())
            except ValueError:
                pass
    raise Ungradable(f"{whose} {shown(value)} is not a number")


def close(a: int | float, b: int | float, rel_tol: float, abs_tol: float) -> bool:
    """math.isclose, also for ints too large for a float."""
    try:
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)
    except OverflowError:
        if any(isinstance(v, float) and not math.isfinite(v) for v in (a, b)):
            return a == b
        # Same rule as math.isclose, in exact rationals.
        x, y = Fraction(a), Fraction(b)
        return abs(x - y) <= max(Fraction(rel_tol) * max(abs(x), abs(y)), Fraction(abs_tol))


@dataclass(frozen=True)
class Numeric:
    """1 when the answer is a number close to the expected one (number strings are read as numbers)."""

    field: str | None = None
    abs_tol: float = 0.0
    rel_tol: float = 0.0
    expected: Any = MISSING

    def __post_init__(self) -> None:
        check_field(self.field)
        for label, tol in (("abs_tol", self.abs_tol), ("rel_tol", self.rel_tol)):
            if not (isinstance(tol, numbers.Real) and tol >= 0):
                raise ValueError(f"Numeric {label} must be a number >= 0, not {tol!r}")

    @property
    def name(self) -> str:
        return f"numeric:{self.field}" if self.field else "numeric"

    def __call__(self, task: Task, rollout: Rollout) -> Score:
        return guarded(rollout, lambda: self._score(task, rollout))

    def _score(self, task: Task, rollout: Rollout) -> Score:
        got = _number(read_answer(rollout, self.field), "answer")
        want = _number(read_expected(task, self.field, self.expected), "expected answer")
        if close(got, want, self.rel_tol, self.abs_tol):
            return Score(1.0, f"{about(self.field)}{shown(got)} is close to {shown(want)}")
        return Score(0.0, f"{about(self.field)}expected {shown(want)}, got {shown(got)}")
