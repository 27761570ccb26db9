"""Train, validation and holdout by a stable hash of the task id (and the recorded `split_salt`, never the
search seed), so every run holds out the same tasks; a task's own `split` wins."""

from __future__ import annotations

import hashlib
from typing import Mapping, Sequence

from replaygate.core.task import SPLITS, Task


def unit_hash(text: str) -> float:
    """A number in [0, 1) that depends only on `text`."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") / 2**64


def split_of(task_id: str, ratios: Mapping[str, float], salt: str = "") -> str:
    """Where a task falls: a threshold on its own hash, so adding tasks never moves the others."""
    total = sum(ratios[name] for name in SPLITS)
    point = unit_hash(f"{salt}:{task_id}") * total
    edge = 0.0
    for name in SPLITS:
        edge += ratios[name]
        if point < edge:
            return name
    return SPLITS[-1]


def assign_splits(tasks: Sequence[Task], ratios: Mapping[str, float], salt: str = "") -> dict[str, list[Task]]:
    """Every task in exactly one split, in the tasks' own order within each."""
    splits: dict[str, list[Task]] = {name: [] for name in SPLITS}
    for task in tasks:
        splits[task.split or split_of(task.id, ratios, salt)].append(task)
    return splits
