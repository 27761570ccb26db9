"""Generated tasks: each strategy hits its edge category, every category turns up, and tasks are valid suite tasks."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from replaygate.core.task import parse_task_line
from evals.rooms.export import task_line
from evals.rooms.oracle import choose
from evals.rooms.request import RoomRequest
from evals.rooms.strategies import (
    CATEGORIES, categories, edge_tasks, reachable_categories, scenarios, task_id, worlds,
)
from evals.rooms.world import World, load_world, parse_world

WORLD = load_world(Path(__file__).resolve().parents[1] / "evals" / "rooms" / "data" / "rooms.json")


def rooms_document(world: World) -> dict:
    """The rooms-file JSON for a world, to check that generated offices are files the suite would accept."""
    return {"rooms": [
        {"id": r.id, "capacity": r.capacity, "equipment": list(r.equipment), "accessible": r.accessible,
         "distance_m": r.distance_m, "bookings": [[b.date, b.start, b.duration_min] for b in r.bookings]}
        for r in world.rooms
    ]}


def assert_is_a_suite_task(task, world: World) -> None:
    """The task reads back from its JSONL line unchanged, and its answer and tags are the oracle's."""
    assert re.fullmatch(r"gen-[0-9a-f]{12}", task.id) and task.id == task_id(dict(task.input))
    assert parse_task_line(task_line(task), "generated:1") == task
    req = RoomRequest.from_task(task)
    assert task.expected == choose(world, req)
    assert task.tags == categories(world, req)


@pytest.mark.parametrize("category", CATEGORIES)
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_each_strategy_hits_the_category_it_is_built_for(category, data):
    scenario = data.draw(scenarios(category), label="office built for the category")
    assert category in scenario.task.tags, f"built for {category}, tagged {scenario.task.tags}"
    task = data.draw(edge_tasks(WORLD, category), label="task in the committed office")
    assert category in task.tags, f"drawn for {category}, tagged {task.tags}"


def test_every_category_appears_among_generated_tasks_of_both_kinds():
    # One draw per category-specific strategy per example: a mixture drawn at random would need
    # hundreds of examples before its rarest category turned up.
    seen = {"offices built around a request": Counter(), "the committed office": Counter()}

    @settings(derandomize=True, database=None, max_examples=3, deadline=None, phases=[Phase.generate])
    @given(st.tuples(*(scenarios(c) for c in CATEGORIES)), st.tuples(*(edge_tasks(WORLD, c) for c in CATEGORIES)))
    def tally(built, drawn):
        for scenario in built:
            seen["offices built around a request"].update(scenario.task.tags)
        for task in drawn:
            seen["the committed office"].update(task.tags)

    tally()
    for kind, counts in seen.items():
        missing = [c for c in CATEGORIES if not counts[c]]
        assert not missing, f"{kind}: no generated task hit {', '.join(missing)} (counts: {dict(counts)})"


def test_the_committed_office_can_produce_every_category():
    assert reachable_categories(WORLD) == CATEGORIES


@settings(max_examples=40, deadline=None)
@given(scenarios())
def test_generated_offices_are_valid_rooms_files_and_their_tasks_valid_suite_tasks(scenario):
    assert parse_world(rooms_document(scenario.world), "generated") == scenario.world
    assert_is_a_suite_task(scenario.task, scenario.world)


@settings(max_examples=40, deadline=None)
@given(edge_tasks(WORLD))
def test_tasks_drawn_against_the_committed_office_are_valid_suite_tasks(task):
    assert_is_a_suite_task(task, WORLD)


@settings(max_examples=40, deadline=None)
@given(worlds())
def test_any_generated_office_is_a_valid_rooms_file(world):
    assert parse_world(rooms_document(world), "generated") == world


# Each new office is searched once for the categories it can produce, so fewer examples here.
@settings(max_examples=10, deadline=None)
@given(worlds(), st.data())
def test_tasks_can_be_drawn_against_any_generated_office(world, data):
    category = data.draw(st.sampled_from(reachable_categories(world)), label="category")
    task = data.draw(edge_tasks(world, category), label="task")
    assert category in task.tags
    assert_is_a_suite_task(task, world)
