"""A task's outcome over its repeats: mean, spread, passes and the k-of-n verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

from replaygate.results.record import CaseRecord
from replaygate.results.stats import pass_at_k

# Records of cases that got no answer: a cassette miss or a bug ("harness"), an unreachable or refusing service ("infra").
UNANSWERED = ("harness", "infra")


@dataclass(frozen=True)
class TaskOutcome:
    records: tuple[CaseRecord, ...]  # one per repeat, in repeat order
    min_passes: int | None = None  # a task passes when this many of its repeats pass; None: all of them

    @property
    def task_id(self) -> str:
        return self.records[0].task_id

    @property
    def repeats(self) -> int:
        return len(self.records)

    @property
    def scores(self) -> list[float]:
        return [r.score for r in self.records]

    @property
    def comparable_scores(self) -> list[float]:
        """Scores of the repeats that ran: a case that got no answer (a cassette miss, a dead service) says nothing about the prompt."""
        return [r.score for r in self.records if r.error_kind not in UNANSWERED]

    @property
    def mean(self) -> float:
        return math.fsum(self.scores) / self.repeats

    @property
    def spread(self) -> float:
        """Sample standard deviation over repeats; 0 for one repeat."""
        if self.repeats < 2:
            return 0.0
        mean = self.mean
        return math.sqrt(math.fsum((s - mean) ** 2 for s in self.scores) / (self.repeats - 1))

    @property
    def passes(self) -> int:
        return sum(r.passed for r in self.records)

    @property
    def passed(self) -> bool:
        needed = self.repeats if self.min_passes is None else min(self.min_passes, self.repeats)
        return self.passes >= needed

    def pass_at(self, k: int) -> float:
        return pass_at_k(self.repeats, self.passes, min(k, self.repeats))

    @property
    def worst(self) -> CaseRecord:
        """The repeat that speaks for the task in a one-line row: the lowest score, then the first."""
        return min(self.records, key=lambda r: (r.score, r.repeat))


def task_outcomes(records: Iterable[CaseRecord], min_passes: int | None = None) -> dict[str, TaskOutcome]:
    """Group records by task, in task id order."""
    by_task: dict[str, list[CaseRecord]] = {}
    for record in records:
        by_task.setdefault(record.task_id, []).append(record)
    return {
        task: TaskOutcome(tuple(sorted(group, key=lambda r: r.repeat)), min_passes)
        for task, group in sorted(by_task.items())
    }
