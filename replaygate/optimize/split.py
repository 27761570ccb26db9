"""Train, validation and holdout in exact proportions, by a stable hash of the task id (and the recorded
`split_salt`, never the search seed), so every run holds out the same tasks; a task's own `split` wins.

Tasks are ordered by their hash and cut at the proportions (largest remainders), so 24 tasks at 50/25/25 are
12/6/6, not whatever a threshold per task happens to give. Adding k tasks moves at most k existing tasks across
each cut.
"""

from __future__ import annotations

import hashlib
import math
from typing import Mapping, Sequence

from replaygate.core.task import SPLITS, Task


def unit_hash(text: str) -> float:
    """A number in [0, 1) that depends only on `text`."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") / 2**64


def split_sizes(count: int, ratios: Mapping[str, float]) -> dict[str, int]:
    """How many of `count` tasks each split gets: the proportions, rounded by largest remainder (ties in split order)."""
    total = math.fsum(ratios[name] for name in SPLITS)
    quotas = {name: count * ratios[name] / total for name in SPLITS}
    sizes = {name: math.floor(quota) for name, quota in quotas.items()}
    by_remainder = sorted(SPLITS, key=lambda name: (-(quotas[name] - sizes[name]), SPLITS.index(name)))
    for name in by_remainder[: count - sum(sizes.values())]:
        sizes[name] += 1
    return sizes


def assign_splits(tasks: Sequence[Task], ratios: Mapping[str, float], salt: str = "") -> dict[str, list[Task]]:
    """Every task in exactly one split, in the tasks' own order within each."""
    free = sorted((task for task in tasks if not task.split), key=lambda task: (unit_hash(f"{salt}:{task.id}"), task.id))
    placed: dict[str, str] = {}
    start = 0
    for name, size in split_sizes(len(free), ratios).items():
        placed.update((task.id, name) for task in free[start:start + size])
        start += size
    splits: dict[str, list[Task]] = {name: [] for name in SPLITS}
    for task in tasks:
        splits[task.split or placed[task.id]].append(task)
    return splits
