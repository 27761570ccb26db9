"""Reading rooms files and room tasks: accepted shapes, and one clear line for every bad input."""

from __future__ import annotations

import json

import pytest

from replaygate.core.errors import InputError
from replaygate.core.task import Task
from evals.rooms.request import RoomRequest, TaskInputError
from evals.rooms.world import Booking, RoomsFileError, load_world


def good_room(**changes):
    room = {"id": "R-101", "capacity": 6, "equipment": ["projector"], "accessible": True, "distance_m": 20,
            "bookings": [["2026-03-02", "09:00", 60]]}
    room.update(changes)
    return {k: v for k, v in room.items() if v is not DROP}


DROP = object()


def write(tmp_path, content) -> str:
    path = tmp_path / "rooms.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return str(path)


# --- rooms files that load ------------------------------------------------------------------


def test_loads_rooms_in_file_order_with_their_bookings(tmp_path):
    world = load_world(write(tmp_path, {"rooms": [good_room(id="R-2"), good_room(id="R-1", bookings=[])]}))
    assert world.ids == ("R-2", "R-1")
    assert world.room("R-2").bookings == (Booking("2026-03-02", "09:00", 60),)
    assert world.room("R-1").bookings == ()
    assert world.room("R-3") is None


def test_booked_is_accepted_as_an_alias_of_bookings(tmp_path):
    room = good_room(bookings=DROP, booked=[["2026-03-02", "23:00", 120]])
    world = load_world(write(tmp_path, {"rooms": [room]}))
    assert world.rooms[0].bookings == (Booking("2026-03-02", "23:00", 120),)


def test_bookings_may_be_objects(tmp_path):
    room = good_room(bookings=[{"date": "2026-03-03", "start": "13:30", "duration_min": 45}])
    assert load_world(write(tmp_path, {"rooms": [room]})).rooms[0].bookings == (Booking("2026-03-03", "13:30", 45),)


def test_equipment_names_are_lowercased_so_matching_ignores_case(tmp_path):
    room = good_room(equipment=["Projector", " TV "])
    assert load_world(write(tmp_path, {"rooms": [room]})).rooms[0].equipment == ("projector", "tv")


def test_back_to_back_bookings_are_not_an_overlap(tmp_path):
    room = good_room(bookings=[["2026-03-02", "09:00", 60], ["2026-03-02", "10:00", 30]])
    assert len(load_world(write(tmp_path, {"rooms": [room]})).rooms[0].bookings) == 2


# --- rooms files that do not ----------------------------------------------------------------

FIX = "fix the rooms file"

BAD_ROOMS = [
    ("[]", f'expected a JSON object with a "rooms" list, got []; {FIX}'),
    ({"room": []}, f'expected a JSON object with a "rooms" list, got {{"room": []}}; {FIX}'),
    ({"rooms": {}}, f'"rooms" must be a list of room objects, got {{}}; {FIX}'),
    ({"rooms": []}, '"rooms" is empty; add at least one room'),
    ({"rooms": ["R-101"]}, f'room #1: expected a room object, got "R-101"; {FIX}'),
    ({"rooms": [good_room(id=DROP)]}, f'room #1: "id" must be a non-empty string without surrounding spaces, got null; {FIX}'),
    ({"rooms": [good_room(id=101)]}, f'room #1: "id" must be a non-empty string without surrounding spaces, got 101; {FIX}'),
    ({"rooms": [good_room(id=" R-1")]},
     f'room #1: "id" must be a non-empty string without surrounding spaces, got " R-1"; {FIX}'),
    ({"rooms": [good_room(id="no room")]}, "room #1: id 'no room' is reserved for the no-room answer; rename the room"),
    ({"rooms": [good_room(), good_room(id="R-2"), good_room()]},
     "room 'R-101': id used by rooms #1 and #3; give every room a unique id"),
    ({"rooms": [good_room(capacity="six")]}, f'room \'R-101\': capacity must be a whole number ≥ 1, got "six"; {FIX}'),
    ({"rooms": [good_room(capacity=0)]}, f"room 'R-101': capacity must be a whole number ≥ 1, got 0; {FIX}"),
    ({"rooms": [good_room(capacity=4.5)]}, f"room 'R-101': capacity must be a whole number ≥ 1, got 4.5; {FIX}"),
    ({"rooms": [good_room(capacity=True)]}, f"room 'R-101': capacity must be a whole number ≥ 1, got true; {FIX}"),
    ({"rooms": [good_room(capacity=DROP)]}, "room 'R-101': missing \"capacity\"; add it to the room"),
    ({"rooms": [good_room(distance_m=-1)]},
     f"room 'R-101': distance_m must be a whole number of metres ≥ 0, got -1; {FIX}"),
    ({"rooms": [good_room(accessible="yes")]}, f'room \'R-101\': accessible must be true or false, got "yes"; {FIX}'),
    ({"rooms": [good_room(equipment="projector")]},
     f'room \'R-101\': equipment must be a list of item names, got "projector"; {FIX}'),
    ({"rooms": [good_room(equipment=["tv", ""])]},
     f'room \'R-101\': equipment must be a list of item names, got ["tv", ""]; {FIX}'),
    ({"rooms": [good_room(equipment=["tv", "TV"])]}, "room 'R-101': equipment lists tv more than once; list each item once"),
    ({"rooms": [good_room(bookings=DROP)]}, "room 'R-101': missing \"bookings\"; add it to the room"),
    ({"rooms": [good_room(booked=[])]}, "room 'R-101': has both \"bookings\" and \"booked\" (its alias); keep one of them"),
    ({"rooms": [good_room(bookings="none")]}, f'room \'R-101\': bookings must be a list (may be empty), got "none"; {FIX}'),
    ({"rooms": [good_room(bookings=[["2026-03-02", "09:00"]])]},
     'room \'R-101\': booking #1: expected ["YYYY-MM-DD", "HH:MM", minutes] or {"date", "start", "duration_min"}, '
     f'got ["2026-03-02", "09:00"]; {FIX}'),
    ({"rooms": [good_room(bookings=[{"date": "2026-03-02", "start": "09:00"}])]},
     'room \'R-101\': booking #1: expected ["YYYY-MM-DD", "HH:MM", minutes] or {"date", "start", "duration_min"}, '
     f'got {{"date": "2026-03-02", "start": "09:00"}}; {FIX}'),
    ({"rooms": [good_room(bookings=[["2026-02-30", "09:00", 60]])]},
     f'room \'R-101\': booking #1: date must be a real date YYYY-MM-DD, got "2026-02-30"; {FIX}'),
    ({"rooms": [good_room(bookings=[["02/03/2026", "09:00", 60]])]},
     f'room \'R-101\': booking #1: date must be a real date YYYY-MM-DD, got "02/03/2026"; {FIX}'),
    ({"rooms": [good_room(bookings=[["2026-03-02", "9:00", 60]])]},
     f'room \'R-101\': booking #1: start must be a time HH:MM between 00:00 and 23:59, got "9:00"; {FIX}'),
    ({"rooms": [good_room(bookings=[["2026-03-02", "24:00", 60]])]},
     f'room \'R-101\': booking #1: start must be a time HH:MM between 00:00 and 23:59, got "24:00"; {FIX}'),
    ({"rooms": [good_room(bookings=[["2026-03-02", "09:00", 60], ["2026-03-02", "10:00", 0]])]},
     f"room 'R-101': booking #2: duration must be a whole number of minutes ≥ 1, got 0; {FIX}"),
    ({"rooms": [good_room(bookings=[["2026-03-02", "09:00", "1h"]])]},
     f'room \'R-101\': booking #1: duration must be a whole number of minutes ≥ 1, got "1h"; {FIX}'),
    ({"rooms": [good_room(bookings=[["2026-03-02", "10:00", 30], ["2026-03-02", "09:00", 61]])]},
     f"room 'R-101': bookings on 2026-03-02 at 09:00 (61 min) and 10:00 overlap; {FIX}"),
    ('{"rooms": [', f"not valid JSON (Expecting value at line 1 column 12); {FIX}"),
]


@pytest.mark.parametrize("content, message", BAD_ROOMS)
def test_bad_rooms_file_gives_one_line_naming_file_room_and_fix(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(RoomsFileError) as caught:
        load_world(path)
    assert str(caught.value) == f"{path}: {message}"
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, InputError)


def test_missing_rooms_file(tmp_path):
    path = tmp_path / "nowhere.json"
    with pytest.raises(RoomsFileError, match=r"nowhere\.json: rooms file not found; check the path or create the file$"):
        load_world(path)


def test_rooms_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "rooms.json"
    path.write_bytes(b'{"rooms": ["\xff"]}')
    with pytest.raises(RoomsFileError, match=r"rooms\.json: not UTF-8 text; save the rooms file as UTF-8 JSON$"):
        load_world(path)


def test_long_bad_values_are_shortened_to_keep_one_line(tmp_path):
    path = write(tmp_path, {"rooms": [good_room(capacity="many\npeople " * 20)]})
    with pytest.raises(RoomsFileError) as caught:
        load_world(path)
    assert "\n" not in str(caught.value) and "..." in str(caught.value) and len(str(caught.value)) < 200 + len(path)


# --- task inputs ----------------------------------------------------------------------------

GOOD_INPUT = {"date": "2026-03-02", "time": "09:00", "duration_min": 60, "attendees": 4,
              "needs": ["projector"], "accessible_required": False}


def make_task(**changes) -> Task:
    data = {k: v for k, v in {**GOOD_INPUT, **changes}.items() if v is not DROP}
    return Task(id="room-007", input=data, expected="R-101", source="evals/rooms/data/room_tasks.jsonl:7")


WHERE = "evals/rooms/data/room_tasks.jsonl:7: task 'room-007'"

BAD_TASKS = [
    ({"attendees": -2}, '"attendees" must be a whole number ≥ 1, got -2; fix the task'),
    ({"attendees": "4"}, '"attendees" must be a whole number ≥ 1, got "4"; fix the task'),
    ({"attendees": 4.0}, '"attendees" must be a whole number ≥ 1, got 4.0; fix the task'),
    ({"attendees": DROP}, '"task_input" has no "attendees"; add it to the task'),
    ({"date": "2026-13-01"}, '"date" must be a real date YYYY-MM-DD, got "2026-13-01"; fix the task'),
    ({"date": 20260302}, '"date" must be a real date YYYY-MM-DD, got 20260302; fix the task'),
    ({"time": "9:00"}, '"time" must be HH:MM between 00:00 and 23:59, got "9:00"; fix the task'),
    ({"time": "12:60"}, '"time" must be HH:MM between 00:00 and 23:59, got "12:60"; fix the task'),
    ({"duration_min": 0}, '"duration_min" must be a whole number of minutes ≥ 1, got 0; fix the task'),
    ({"duration_min": False}, '"duration_min" must be a whole number of minutes ≥ 1, got false; fix the task'),
    ({"needs": "projector"},
     '"needs" must be a list of equipment names (may be empty), got "projector"; fix the task'),
    ({"needs": ["tv", 3]}, '"needs" must be a list of equipment names (may be empty), got ["tv", 3]; fix the task'),
    ({"accessible_required": "no"}, '"accessible_required" must be true or false, got "no"; fix the task'),
    ({"accessible_required": DROP}, '"task_input" has no "accessible_required"; add it to the task'),
]


@pytest.mark.parametrize("changes, message", BAD_TASKS)
def test_bad_task_input_gives_one_line_naming_file_line_and_task(changes, message):
    with pytest.raises(TaskInputError) as caught:
        RoomRequest.from_task(make_task(**changes))
    assert str(caught.value) == f"{WHERE}: {message}"
    assert isinstance(caught.value, InputError)


def test_task_input_that_is_not_an_object():
    task = Task(id="room-007", input=["2026-03-02"], expected="R-101", source="t.jsonl:3")  # type: ignore[arg-type]
    with pytest.raises(TaskInputError) as caught:
        RoomRequest.from_task(task)
    assert str(caught.value) == 't.jsonl:3: task \'room-007\': "task_input" must be an object, got ["2026-03-02"]; fix the task'
