"""Who breeds and who is picked: GEPA's Pareto front of per-task scores, merge pairs, a length-penalized fitness,
and a confidence-aware final pick."""

from __future__ import annotations

import math
import random
import statistics
from typing import Collection, Mapping, Sequence

Scores = Mapping[str, Mapping[str, float]]  # candidate version -> task id -> score


def dominates(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    """`a` is at least as good as `b` on every task and better on one (tasks missing count as 0)."""
    tasks = set(a) | set(b)
    return all(a.get(t, 0.0) >= b.get(t, 0.0) for t in tasks) and any(a.get(t, 0.0) > b.get(t, 0.0) for t in tasks)


def task_wins(scores: Scores) -> dict[str, int]:
    """Per candidate, on how many tasks it has the best score (ties: every best one wins)."""
    wins = {version: 0 for version in scores}
    tasks = sorted({t for per_task in scores.values() for t in per_task})
    for task in tasks:
        top = max(per_task.get(task, 0.0) for per_task in scores.values())
        for version, per_task in scores.items():
            if per_task.get(task, 0.0) >= top:
                wins[version] += 1
    return wins


def pareto_front(scores: Scores, chars: Mapping[str, int] | None = None) -> list[str]:
    """Candidates best on some task and dominated by none; of equal score vectors only the shortest stays."""
    wins = task_wins(scores)
    chars = chars or {}
    any_task = any(scores.values())
    front = []
    for version in sorted(scores):
        mine = scores[version]
        if any_task and wins[version] == 0:
            continue
        if any(dominates(scores[other], mine) for other in scores if other != version):
            continue
        twins = [o for o in scores if o != version and dict(scores[o]) == dict(mine)]
        if any((chars.get(o, 0), o) < (chars.get(version, 0), version) for o in twins):
            continue
        front.append(version)
    return front


def pick_parent(front: Sequence[str], wins: Mapping[str, int], rng: random.Random) -> str:
    """A front member, with odds by the number of tasks it is best on (GEPA's sampling)."""
    if not front:
        raise ValueError("empty Pareto front")
    weights = [max(1, wins.get(version, 0)) for version in front]
    return rng.choices(list(front), weights=weights)[0]


def fitness(val_mean: float, chars: int, reference_chars: int, penalty: float) -> float:
    """Validation mean less `penalty` per 1000 characters grown beyond the reference prompt."""
    return val_mean - penalty * max(0, chars - reference_chars) / 1000.0


def merge_pair(scores: Scores, order: Sequence[str], tried: Collection[tuple[str, str]] = ()) -> tuple[str, str] | None:
    """GEPA's merge: the first of `order` that some other candidate beats on a task, and the one that beats it
    on the most tasks (ties: earlier in `order`); pairs in `tried` are skipped. None when no pair is left."""
    for base in order:
        best: tuple[int, int, str] | None = None
        for rank, other in enumerate(order):
            if other == base or (base, other) in tried:
                continue
            ahead = sum(1 for t, v in scores[other].items() if v > scores[base].get(t, 0.0))
            if ahead and (best is None or (-ahead, rank) < best[:2]):
                best = (-ahead, rank, other)
        if best is not None:
            return base, best[2]
    return None


def lower_bound(values: Sequence[float], z: float) -> float:
    """The mean of [0, 1] scores less `z` standard errors. The spread is never below that of a coin with the
    smoothed success rate, so a perfect score on a few tasks still has some doubt left."""
    if not values:
        return 0.0
    n = len(values)
    rate = (sum(values) + 0.5) / (n + 1)
    spread = math.sqrt(max(statistics.pvariance(values), rate * (1 - rate)))
    return statistics.fmean(values) - z * spread / math.sqrt(n)


def head_to_head(a: Mapping[str, float], b: Mapping[str, float]) -> int:
    """On how many tasks both were scored on `a` beats `b`."""
    return sum(1 for t, v in a.items() if t in b and v > b[t])


def confident_pick(scores: Scores, z: float, chars: Mapping[str, int] | None = None) -> str:
    """The candidate with the highest lower bound, unless another has both a higher mean and more head-to-head wins.

    Candidates scored on more tasks have tighter bounds, so a perfect score on a few tasks
    does not outrank a nearly perfect one on many.
    """
    if not scores:
        raise ValueError("no candidates to pick from")
    chars = chars or {}
    means = {v: statistics.fmean(s.values()) if s else 0.0 for v, s in scores.items()}
    order = sorted(scores, key=lambda v: (-lower_bound(list(scores[v].values()), z), -means[v], chars.get(v, 0), v))

    def beaten(v: str) -> bool:
        return any(means[o] > means[v] + 1e-12 and head_to_head(scores[o], scores[v]) > head_to_head(scores[v], scores[o])
                   for o in scores if o != v)

    # The highest mean is never beaten, so there is always a pick.
    return next(v for v in order if not beaten(v))
