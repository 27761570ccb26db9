"""Run cases concurrently: one rollout and its grading per (task, repeat)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from contextlib import AbstractContextManager, nullcontext
from typing import Awaitable, Callable, Mapping, Sequence

from replaygate.core.rollout import Rollout
from replaygate.core.score import Grader, Score, composite, grade
from replaygate.core.task import Task

Solver = Callable[[Task, int], Awaitable[Rollout]]


@dataclass
class CaseResult:
    task: Task
    repeat: int
    rollout: Rollout | None = None
    scores: dict[str, Score] = field(default_factory=dict)
    score: Score | None = None
    # An exception that stopped the case before it could be scored (a cassette miss, a bug).
    failure: Exception | None = None

    @property
    def value(self) -> float:
        return self.score.value if self.score else 0.0

    def passed(self, threshold: float) -> bool:
        return self.failure is None and self.score is not None and self.score.value >= threshold


async def run_case(
    task: Task, repeat: int, solver: Solver, graders: Mapping[str, Grader], weights: Mapping[str, float]
) -> CaseResult:
    result = CaseResult(task=task, repeat=repeat)
    try:
        result.rollout = await solver(task, repeat)
        for name, grader in graders.items():
            result.scores[name] = await grade(grader, task, result.rollout)
        result.score = composite(result.scores, weights)
    except Exception as exc:  # one broken case must not stop the others
        result.failure = exc
    return result


async def evaluate(
    cases: Sequence[tuple[Task, int]],
    solver: Solver,
    graders: Mapping[str, Grader],
    weights: Mapping[str, float],
    concurrency: int,
    on_result: Callable[[CaseResult], None] | None = None,
    scope: Callable[[Task, int], AbstractContextManager] | None = None,
) -> list[CaseResult]:
    """Results come back in the order of `cases`, whatever order they finish in.

    `scope(task, repeat)` is entered around each case, in the case's own asyncio task.
    """
    gate = asyncio.Semaphore(concurrency)

    async def one(task: Task, repeat: int) -> CaseResult:
        async with gate:
            with scope(task, repeat) if scope is not None else nullcontext():
                result = await run_case(task, repeat, solver, graders, weights)
        if on_result is not None:
            try:
                on_result(result)
            except Exception as exc:  # e.g. a refused cassette write: this case fails, the batch goes on
                result.failure = result.failure or exc
        return result

    return list(await asyncio.gather(*(one(task, repeat) for task, repeat in cases)))
