"""Graders for the room suite: exact match with the expected room, and partial credit per house rule kept."""

from __future__ import annotations

from evals.harness.rollout import Rollout
from evals.harness.score import Grader, Score
from evals.harness.task import Task
from evals.rooms.oracle import CONSTRAINTS, NO_ROOM, feasible_rooms, violations
from evals.rooms.request import RoomRequest
from evals.rooms.world import World

__all__ = ["exact_choice", "make_constraint_grader"]


def _is_no_room(choice: str) -> bool:
    return choice.strip().casefold() == NO_ROOM.casefold()


def exact_choice(task: Task, rollout: Rollout) -> Score:
    """1.0 when the parsed choice is the expected room ("No Room" compared case-insensitively)."""
    if rollout.error:
        return Score(0.0, rollout.error)
    if rollout.choice is None:
        return Score(0.0, "no room chosen")
    if rollout.choice == task.expected or (_is_no_room(rollout.choice) and _is_no_room(task.expected)):
        return Score(1.0, f"chose {task.expected}")
    return Score(0.0, f"chose {rollout.choice}, expected {task.expected}")


def make_constraint_grader(world: World) -> Grader:
    """A grader giving 1 − (constraints the chosen room breaks for this task) / 4."""

    def constraints(task: Task, rollout: Rollout) -> Score:
        if rollout.error:
            return Score(0.0, rollout.error)
        if rollout.choice is None:
            return Score(0.0, "no room chosen")
        req = RoomRequest.from_task(task)
        if _is_no_room(rollout.choice):
            feasible = [r.id for r in feasible_rooms(world, req)]
            if not feasible:
                return Score(1.0, "said No Room and no room is feasible")
            verb = "is" if len(feasible) == 1 else "are"
            return Score(0.0, f"said No Room but {', '.join(feasible)} {verb} feasible")
        room = world.room(rollout.choice)
        if room is None:
            return Score(0.0, f"hallucinated room {rollout.choice!r}")
        broken = violations(room, req)
        if not broken:
            return Score(1.0, f"{room.id} meets every constraint")
        return Score(1.0 - len(broken) / len(CONSTRAINTS), f"{room.id} violates {', '.join(broken)}")

    return constraints
