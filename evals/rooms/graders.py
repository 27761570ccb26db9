"""Graders for the room suite: exact match with the expected room, and partial credit per house rule kept."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

from replaygate import Rollout
from replaygate import Grader, Score
from replaygate import Task
from evals.rooms.oracle import CONSTRAINTS, LEVELS, NO_ROOM, choose, feasible_rooms, rank_key, violations
from evals.rooms.request import RoomRequest
from evals.rooms.world import World

__all__ = ["HINTS", "exact_choice", "make_constraint_grader", "make_exact_choice", "rule_hint"]

HINTS_FILE = Path(__file__).with_name("data") / "hints.toml"


@dataclass(frozen=True)
class Hints:
    constraints: Mapping[str, str]
    tiebreaks: Mapping[str, str]
    answers: Mapping[str, str]


def _load_hints(path: Path) -> Hints:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return Hints(data["constraints"], data["tiebreaks"], data["answers"])


HINTS = _load_hints(HINTS_FILE)


def _is_no_room(choice: str) -> bool:
    return choice.strip().casefold() == NO_ROOM.casefold()


def exact_choice(task: Task, rollout: Rollout) -> Score:
    """1.0 when the parsed choice is the expected room ("No Room" compared case-insensitively)."""
    if rollout.error:
        return Score(0.0, rollout.error)
    if rollout.answer is None:
        return Score(0.0, "no room chosen")
    if rollout.answer == task.expected or (_is_no_room(rollout.answer) and _is_no_room(task.expected)):
        return Score(1.0, f"chose {task.expected}")
    return Score(0.0, f"chose {rollout.answer}, expected {task.expected}")


def rule_hint(world: World, task: Task, rollout: Rollout) -> str:
    """The house rule the agent's answer broke, as an instruction; "" when the answer is right."""
    if rollout.error:
        return rollout.hint
    if rollout.answer is None:
        return HINTS.answers["format"]
    req = RoomRequest.from_task(task)
    best = choose(world, req)
    if _is_no_room(rollout.answer):
        return "" if best == NO_ROOM else HINTS.answers["no_room"]
    room = world.room(rollout.answer)
    if room is None:
        return HINTS.answers["format"]
    broken = violations(room, req)
    if broken:
        return HINTS.constraints[broken[0]]
    if best == NO_ROOM or best == room.id:
        return HINTS.answers["no_room"] if best == NO_ROOM else ""
    # Both fit: the first tie-break level where the right room ranks better is the rule missed.
    winner = world.room(best)
    level = next(lv for lv, a, b in zip(LEVELS, rank_key(winner, req), rank_key(room, req)) if a != b)
    return HINTS.tiebreaks.get(level, "")


def make_exact_choice(world: World) -> Grader:
    """`exact_choice`, with the broken rule attached as a hint for prompt optimizers."""

    def exact(task: Task, rollout: Rollout) -> Score:
        score = exact_choice(task, rollout)
        return score if score.value == 1.0 else replace(score, hint=rule_hint(world, task, rollout))

    exact.__name__ = "exact_choice"
    return exact


def make_constraint_grader(world: World) -> Grader:
    """A grader giving 1 − (constraints the chosen room breaks for this task) / 4."""

    def constraints(task: Task, rollout: Rollout) -> Score:
        if rollout.error:
            return Score(0.0, rollout.error)
        if rollout.answer is None:
            return Score(0.0, "no room chosen")
        req = RoomRequest.from_task(task)
        if _is_no_room(rollout.answer):
            feasible = [r.id for r in feasible_rooms(world, req)]
            if not feasible:
                return Score(1.0, "said No Room and no room is feasible")
            verb = "is" if len(feasible) == 1 else "are"
            return Score(0.0, f"said No Room but {', '.join(feasible)} {verb} feasible")
        room = world.room(rollout.answer)
        if room is None:
            return Score(0.0, f"hallucinated room {rollout.answer!r}")
        broken = violations(room, req)
        if not broken:
            return Score(1.0, f"{room.id} meets every constraint")
        return Score(1.0 - len(broken) / len(CONSTRAINTS), f"{room.id} violates {', '.join(broken)}")

    return constraints
