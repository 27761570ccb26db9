"""The get_rooms_and_availability tool: what it returns and how it refuses bad arguments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.rooms.oracle import is_free
from evals.rooms.request import RoomRequest
from evals.rooms.tool import TOOL_SPEC, ToolArgumentError, get_rooms_and_availability
from evals.rooms.world import Booking, Room, World, load_world

DAY = "2026-03-02"
ROOMS_FILE = Path(__file__).resolve().parents[1] / "evals" / "rooms" / "data" / "rooms.json"

WORLD = World(
    (
        Room("R-2", 4, ("tv", "whiteboard"), False, 30,
             (Booking(DAY, "09:00", 60), Booking("2026-03-03", "09:00", 60))),
        Room("R-1", 10, (), True, 5, ()),
    )
)


def test_spec_is_an_openai_function_tool_with_three_required_arguments():
    function = TOOL_SPEC["function"]
    assert TOOL_SPEC["type"] == "function"
    assert function["name"] == "get_rooms_and_availability"
    assert set(function["parameters"]["properties"]) == {"date", "time", "duration_min"}
    assert sorted(function["parameters"]["required"]) == ["date", "duration_min", "time"]
    assert function["parameters"]["properties"]["duration_min"]["type"] == "integer"
    for word in ("capacity", "equipment", "accessib", "distance", "bookings", "free"):
        assert word in function["description"]
    json.dumps(TOOL_SPEC)  # must be sendable as is


def test_returns_every_room_in_file_order_with_all_bookings():
    result = get_rooms_and_availability(WORLD, date=DAY, time="09:30", duration_min=30)
    assert result == {
        "rooms": [
            {"id": "R-2", "capacity": 4, "equipment": ["tv", "whiteboard"], "accessible": False, "distance_m": 30,
             "bookings": [[DAY, "09:00", 60], ["2026-03-03", "09:00", 60]], "free": False},
            {"id": "R-1", "capacity": 10, "equipment": [], "accessible": True, "distance_m": 5,
             "bookings": [], "free": True},
        ]
    }
    json.dumps(result)


@pytest.mark.parametrize(
    "time, duration, free",
    [
        ("10:00", 30, True),  # the booking ends exactly at the start
        ("08:00", 60, True),  # the meeting ends exactly when the booking starts
        ("08:00", 61, False),
        ("09:59", 1, False),
        ("08:30", 180, False),
    ],
)
def test_free_at_the_edges_of_a_booking(time, duration, free):
    rooms = get_rooms_and_availability(WORLD, date=DAY, time=time, duration_min=duration)["rooms"]
    assert rooms[0]["free"] is free
    assert rooms[1]["free"] is True


def test_bookings_on_other_dates_do_not_make_a_room_busy():
    rooms = get_rooms_and_availability(WORLD, date="2026-03-04", time="09:00", duration_min=60)["rooms"]
    assert [r["free"] for r in rooms] == [True, True]


def test_free_agrees_with_the_oracle_on_the_committed_office():
    world = load_world(ROOMS_FILE)
    for date in ("2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"):
        for time in ("08:00", "09:30", "11:00", "13:00", "15:30", "17:45"):
            listing = get_rooms_and_availability(world, date=date, time=time, duration_min=45)["rooms"]
            assert [r["id"] for r in listing] == list(world.ids)
            req = RoomRequest(date, time, 45, 1, (), False)
            assert [r["free"] for r in listing] == [is_free(room, req) for room in world.rooms]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"date": "2026-3-2", "time": "09:00", "duration_min": 30},
         "date \"2026-3-2\" is not a real date as YYYY-MM-DD; pass e.g. \"2026-03-02\""),
        ({"date": "2026-02-30", "time": "09:00", "duration_min": 30},
         "date \"2026-02-30\" is not a real date as YYYY-MM-DD; pass e.g. \"2026-03-02\""),
        ({"date": DAY, "time": "9am", "duration_min": 30},
         "time \"9am\" is not HH:MM on a 24-hour clock; pass e.g. \"09:00\" or \"14:30\""),
        ({"date": DAY, "time": "24:00", "duration_min": 30},
         "time \"24:00\" is not HH:MM on a 24-hour clock; pass e.g. \"09:00\" or \"14:30\""),
        ({"date": DAY, "time": "09:00", "duration_min": 0},
         "duration_min 0 is not a whole number of minutes ≥ 1; pass an integer such as 60"),
        ({"date": DAY, "time": "09:00", "duration_min": -30},
         "duration_min -30 is not a whole number of minutes ≥ 1; pass an integer such as 60"),
        ({"date": DAY, "time": "09:00", "duration_min": "60"},
         "duration_min \"60\" is not a whole number of minutes ≥ 1; pass an integer such as 60"),
        ({"date": DAY, "time": "09:00", "duration_min": 1.5},
         "duration_min 1.5 is not a whole number of minutes ≥ 1; pass an integer such as 60"),
        ({"date": DAY, "time": "09:00", "duration_min": True},
         "duration_min true is not a whole number of minutes ≥ 1; pass an integer such as 60"),
        ({"date": DAY, "time": "09:00"}, "missing argument(s) duration_min; pass date, time and duration_min"),
        ({}, "missing argument(s) date, time, duration_min; pass date, time and duration_min"),
        ({"date": DAY, "time": "09:00", "duration_min": 30, "room": "R-1"},
         "unknown argument(s) room; pass only date, time and duration_min"),
    ],
)
def test_bad_arguments_raise_an_actionable_tool_argument_error(kwargs, message):
    with pytest.raises(ToolArgumentError) as caught:
        get_rooms_and_availability(WORLD, **kwargs)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)
