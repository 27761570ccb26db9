"""Who breeds and who survives: GEPA's Pareto front of per-task scores, and a length-penalized fitness."""

from __future__ import annotations

import random
from typing import Mapping, Sequence

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


def survivors(ranked: Sequence[str], front: Sequence[str], size: int, elitism: int) -> list[str]:
    """The next population: the `elitism` fittest, then front members, then the fittest of the rest."""
    keep = list(ranked[:elitism])
    for version in [*[v for v in ranked if v in front], *ranked]:
        if len(keep) >= size:
            break
        if version not in keep:
            keep.append(version)
    return keep
