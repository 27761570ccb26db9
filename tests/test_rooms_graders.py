"""The room graders: exact match and partial credit per broken house rule."""

from __future__ import annotations

import pytest

from replaygate.core.rollout import Rollout
from replaygate.core.score import Score
from replaygate.core.task import Task
from evals.rooms.graders import exact_choice, make_constraint_grader
from evals.rooms.request import TaskInputError
from evals.rooms.world import Booking, Room, World

DAY = "2026-03-02"

WORLD = World(
    (
        Room("R-101", 6, ("projector",), True, 10, (Booking(DAY, "08:00", 60),)),
        Room("R-204", 4, ("tv",), False, 5, (Booking(DAY, "09:30", 60),)),
        Room("R-300", 30, ("projector", "tv"), True, 90, ()),
    )
)


def task(expected="R-101", attendees=6, needs=("projector",), accessible=True, time="09:00", tid="room-001"):
    data = {"date": DAY, "time": time, "duration_min": 60, "attendees": attendees,
            "needs": list(needs), "accessible_required": accessible}
    return Task(id=tid, input=data, expected=expected, source="tasks.jsonl:1")


def rollout(choice=None, error=None):
    return Rollout(task_id="room-001", answer=choice, error=error)


constraints = make_constraint_grader(WORLD)


@pytest.mark.parametrize(
    "expected, choice, error, score",
    [
        ("R-101", "R-101", None, Score(1.0, "chose R-101")),
        ("R-101", "R-204", None, Score(0.0, "chose R-204, expected R-101")),
        ("No Room", "No Room", None, Score(1.0, "chose No Room")),
        ("No Room", "no room", None, Score(1.0, "chose No Room")),
        ("No Room", "R-101", None, Score(0.0, "chose R-101, expected No Room")),
        ("R-101", "No Room", None, Score(0.0, "chose No Room, expected R-101")),
        ("R-101", "r-101", None, Score(0.0, "chose r-101, expected R-101")),  # ids match exactly; the parser maps case
        ("R-101", None, None, Score(0.0, "no room chosen")),
        ("R-101", "R-101", "turn limit reached", Score(0.0, "turn limit reached")),
    ],
)
def test_exact_choice(expected, choice, error, score):
    assert exact_choice(task(expected=expected), rollout(choice, error)) == score


@pytest.mark.parametrize(
    "choice, request_kwargs, score",
    [
        ("R-101", {}, Score(1.0, "R-101 meets every constraint")),
        # R-204 is booked 09:30-10:30, seats 4, has no projector and no step-free access: all four broken.
        ("R-204", {}, Score(0.0, "R-204 violates availability, capacity, equipment, accessibility")),
        ("R-204", {"attendees": 4, "needs": ("tv",), "time": "11:00"}, Score(0.75, "R-204 violates accessibility")),
        ("R-204", {"attendees": 4, "needs": ("tv",)}, Score(0.5, "R-204 violates availability, accessibility")),
        ("R-204", {"attendees": 5, "needs": (), "accessible": False, "time": "10:30"},
         Score(0.75, "R-204 violates capacity")),
        ("R-300", {"attendees": 6}, Score(1.0, "R-300 meets every constraint")),  # feasible, though not the best
        ("R-999", {}, Score(0.0, "hallucinated room 'R-999'")),
        ("No Room", {"attendees": 40}, Score(1.0, "said No Room and no room is feasible")),
        ("no room", {"attendees": 40}, Score(1.0, "said No Room and no room is feasible")),
        ("No Room", {"attendees": 20}, Score(0.0, "said No Room but R-300 is feasible")),
        ("No Room", {"attendees": 2, "needs": (), "accessible": False, "time": "11:00"},
         Score(0.0, "said No Room but R-101, R-204, R-300 are feasible")),
        (None, {}, Score(0.0, "no room chosen")),
    ],
)
def test_constraint_grader(choice, request_kwargs, score):
    assert constraints(task(**request_kwargs), rollout(choice)) == score


def test_constraint_grader_scores_a_failed_run_zero_with_its_error():
    assert constraints(task(), rollout("R-101", error="API error: 500")) == Score(0.0, "API error: 500")


def test_constraint_grader_is_named_for_the_grader_table():
    assert constraints.__name__ == "constraints"


def test_constraint_grader_reports_a_bad_task_as_input_error():
    bad = Task(id="room-009", input={"date": DAY}, expected="R-101", source="tasks.jsonl:9")
    with pytest.raises(TaskInputError, match=r"^tasks\.jsonl:9: task 'room-009': "):
        constraints(bad, rollout("R-101"))
