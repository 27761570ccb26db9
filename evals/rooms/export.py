"""Generated edge-case tasks as a JSONL file in the suite's task format, balanced over categories."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as fixed_seed

from replaygate import write_text_atomic
from replaygate import Task
from evals.rooms.strategies import edge_tasks, reachable_categories
from evals.rooms.world import World

__all__ = ["task_line", "generate_tasks", "write_tasks"]


def task_line(task: Task) -> str:
    """One JSONL line `{"id", "task_input", "expected_choice", "tags"}`, keys in the suite file's order."""
    return json.dumps(
        {"id": task.id, "task_input": dict(task.input), "expected_choice": task.expected, "tags": list(task.tags)},
        ensure_ascii=False,
    )


def _draw(world: World, category: str, wanted: int, seed: int) -> list[Task]:
    """Up to `wanted` distinct tasks of one category, in the order a seeded Hypothesis run generates them."""
    found: dict[str, Task] = {}

    @fixed_seed(seed)
    @settings(database=None, derandomize=False, max_examples=2 * wanted + 5, phases=[Phase.generate],
              deadline=None, suppress_health_check=list(HealthCheck))
    @given(edge_tasks(world, category))
    def collect(task: Task) -> None:
        if len(found) < wanted:
            found.setdefault(task.id, task)

    collect()
    return list(found.values())


def generate_tasks(world: World, count: int, seed: int) -> tuple[list[Task], dict[str, int]]:
    """`count` distinct tasks spread evenly over the categories the office can produce; same seed, same tasks.

    Returns the tasks and how many were drawn for each category (a task usually carries more tags).
    """
    reachable = reachable_categories(world)
    share, extra = divmod(count, len(reachable))
    quota = {category: share + (index < extra) for index, category in enumerate(reachable)}
    # A few spare tasks per category, so tasks another category already gave can be skipped.
    pools = {category: iter(_draw(world, category, quota[category] + 3, seed)) for category in reachable}
    chosen: dict[str, Task] = {}
    drawn_for: Counter[str] = Counter()
    # Round-robin, so every prefix of the file is balanced too.
    while len(chosen) < count and pools:
        for category in list(pools):
            if drawn_for[category] >= quota[category] and any(drawn_for[c] < quota[c] for c in pools):
                continue
            task = next((t for t in pools[category] if t.id not in chosen), None)
            if task is None:
                del pools[category]  # this office has no more distinct tasks of the category
                continue
            chosen[task.id] = task
            drawn_for[category] += 1
            if len(chosen) == count:
                break
    return list(chosen.values()), dict(drawn_for)


def write_tasks(path: str | Path, tasks: list[Task]) -> None:
    """Write the tasks atomically: a reader sees the old file or the whole new one."""
    write_text_atomic(path, "".join(task_line(task) + "\n" for task in tasks))
