"""Run cases concurrently: one rollout and its grading per (task, repeat)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from contextlib import AbstractContextManager, nullcontext
from typing import Awaitable, Callable, Mapping, Sequence

from replaygate.core.errors import CaseError
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
    # The suite's pass threshold, set where one is known (`eval_runner.run`), so `passed` can say.
    threshold: float | None = None

    @property
    def value(self) -> float:
        """The composite score, a number in [0, 1] (0 when the case could not be scored)."""
        return self.score.value if self.score else 0.0

    def passes(self, threshold: float) -> bool:
        return self.failure is None and self.score is not None and self.score.value >= threshold

    @property
    def passed(self) -> bool:
        """Whether the case reached its suite's threshold (results of `eval_runner.run` know it)."""
        if self.threshold is None:
            raise TypeError("this result does not know its suite's threshold; use result.passes(threshold)")
        return self.passes(self.threshold)


def unstorable(answer: object) -> str | None:
    """The type name of an answer that is no JSON value (pydantic models and dataclasses are), else None."""
    import dataclasses
    import json

    if hasattr(answer, "model_dump"):
        answer = answer.model_dump(mode="json")
    elif dataclasses.is_dataclass(answer) and not isinstance(answer, type):
        answer = dataclasses.asdict(answer)
    try:
        json.dumps(answer)
    except (TypeError, ValueError):
        return type(answer).__name__
    return None


async def run_case(
    task: Task, repeat: int, solver: Solver, graders: Mapping[str, Grader], weights: Mapping[str, float],
    timeout_s: float | None = None,
) -> CaseResult:
    result = CaseResult(task=task, repeat=repeat)
    try:
        try:
            result.rollout = await asyncio.wait_for(solver(task, repeat), timeout_s)
        except TimeoutError:
            # A solver that never returns must not hang the session (a sync one's thread is left to finish alone).
            raise CaseError(f"case {task.id}: the solver did not return within {timeout_s:g} s; fix the hang, or raise "
                            "case_timeout_s in [tool.replaygate] (or --set case_timeout_s=SECONDS)") from None
        kind = unstorable(result.rollout.answer)
        if kind:
            raise CaseError(f"case {task.id}: the solver returned a value of type {kind}, which the report and baseline cannot store; "
                            "return text, a number, a list, a dict, a dataclass or a pydantic model")
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
    timeout_s: float | None = None,
) -> list[CaseResult]:
    """Results come back in the order of `cases`, whatever order they finish in.

    `scope(task, repeat)` is entered around each case, in the case's own asyncio task.
    """
    gate = asyncio.Semaphore(concurrency)

    async def one(task: Task, repeat: int) -> CaseResult:
        async with gate:
            with scope(task, repeat) if scope is not None else nullcontext():
                result = await run_case(task, repeat, solver, graders, weights, timeout_s)
        if on_result is not None:
            try:
                on_result(result)
            except Exception as exc:  # e.g. a refused cassette write: this case fails, the batch goes on
                result.failure = result.failure or exc
        return result

    return list(await asyncio.gather(*(one(task, repeat) for task, repeat in cases)))
