"""Generated offices: one seed gives a rooms file and a balanced task set with the oracle's answers.

`python -m evals.rooms office --seed S --out DIR` writes DIR/rooms.json and DIR/tasks.jsonl; the
optimizer benchmark runs on the committed office and on offices made this way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as fixed_seed

from replaygate import Task, write_text_atomic
from evals.rooms.export import generate_tasks, task_line
from evals.rooms.strategies import TIE_STYLES, offices
from evals.rooms.world import World

__all__ = ["Office", "DEFAULT_TASKS", "tie_style", "draw_office", "make_office", "rooms_text", "tasks_text", "write_office"]

DEFAULT_TASKS = 80
# Hypothesis tries the simplest office first whatever the seed, so the seed picks among later draws.
_DRAWS = 8


@dataclass(frozen=True)
class Office:
    """A generated office, the tie structure it was built with, and tasks drawn against it."""

    seed: int
    tie: str
    world: World
    tasks: tuple[Task, ...]
    drawn_for: dict[str, int]


def tie_style(seed: int) -> str:
    """The tie structure of seed S's office: consecutive seeds get different ones."""
    return TIE_STYLES[seed % len(TIE_STYLES)]


def draw_office(seed: int, tie: str | None = None) -> World:
    """The office a seeded Hypothesis run draws last of its first few: same seed, same office."""
    found: list[World] = []

    @fixed_seed(seed)
    @settings(database=None, derandomize=False, max_examples=_DRAWS, phases=[Phase.generate],
              deadline=None, suppress_health_check=list(HealthCheck))
    @given(offices(tie_style(seed) if tie is None else tie))
    def collect(world: World) -> None:
        found.append(world)

    collect()
    return found[-1]


def make_office(seed: int, count: int = DEFAULT_TASKS, tie: str | None = None) -> Office:
    """Seed S's office and `count` tasks balanced over the categories it can produce (fewer if it has fewer)."""
    style = tie_style(seed) if tie is None else tie
    world = draw_office(seed, style)
    tasks, drawn_for = generate_tasks(world, count, seed)
    return Office(seed, style, world, tuple(tasks), drawn_for)


def rooms_text(world: World) -> str:
    """The rooms file for `world`, one room per line, in the committed file's shape."""
    lines = [
        json.dumps({"id": r.id, "capacity": r.capacity, "equipment": list(r.equipment), "accessible": r.accessible,
                    "distance_m": r.distance_m, "bookings": [[b.date, b.start, b.duration_min] for b in r.bookings]},
                   ensure_ascii=False)
        for r in world.rooms
    ]
    return '{\n  "rooms": [\n    ' + ",\n    ".join(lines) + "\n  ]\n}\n"


def tasks_text(tasks: tuple[Task, ...] | list[Task]) -> str:
    return "".join(task_line(task) + "\n" for task in tasks)


def write_office(out: str | Path, office: Office) -> tuple[Path, Path]:
    """Write out/rooms.json and out/tasks.jsonl, each atomically; returns their paths."""
    out = Path(out)
    rooms, tasks = out / "rooms.json", out / "tasks.jsonl"
    write_text_atomic(rooms, rooms_text(office.world))
    write_text_atomic(tasks, tasks_text(office.tasks))
    return rooms, tasks
