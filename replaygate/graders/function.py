"""Any user function (task, rollout) -> Score | float | bool | (value, reason), as a grader."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from replaygate.core.rollout import Rollout
from replaygate.core.score import Score
from replaygate.core.task import Task
from replaygate.graders.answer import Ungradable

__all__ = ["Function", "grader"]


@dataclass(frozen=True)
class Function:
    """Wraps `fn` (sync or async); its result is read by Score.of, its name defaults to the function's."""

    fn: Callable[[Task, Rollout], Any]
    name: str | None = None

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise TypeError(f"Function needs a callable (task, rollout) -> score, not {self.fn!r}")
        if self.name is None:
            object.__setattr__(self, "name", getattr(self.fn, "__name__", type(self.fn).__name__))

    def __call__(self, task: Task, rollout: Rollout) -> Score | Awaitable[Score]:
        if rollout.error:
            return Score(0.0, rollout.error)
        try:
            result = self.fn(task, rollout)
        except Ungradable as exc:  # read_answer / read_expected found nothing to grade
            return Score(0.0, str(exc))
        if inspect.isawaitable(result):
            return self._settle(result)
        return Score.of(result, str(self.name))

    async def _settle(self, pending: Awaitable[Any]) -> Score:
        try:
            result = await pending
        except Ungradable as exc:
            return Score(0.0, str(exc))
        return Score.of(result, str(self.name))


def grader(fn: Callable[[Task, Rollout], Any] | None = None, *, name: str | None = None) -> Any:
    """Decorator: `@grader` or `@grader(name="tone")` turns a function into a Function grader."""
    if fn is None:
        return lambda inner: Function(inner, name)
    return Function(fn, name)
