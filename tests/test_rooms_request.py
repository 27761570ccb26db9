"""Room requests: read from a task's input, and rendered into the prompt's placeholders."""

from __future__ import annotations

from replaygate.core.task import Task
from evals.rooms.request import RoomRequest, prompt_values

INPUT = {"date": "2026-03-04", "time": "14:30", "duration_min": 90, "attendees": 7,
         "needs": ["Projector", "whiteboard", "projector"], "accessible_required": True, "note": "ignored"}


def test_from_task_reads_every_field_and_normalizes_needs():
    req = RoomRequest.from_task(Task(id="room-001", input=INPUT, expected="R-1", source="t.jsonl:1"))
    assert req == RoomRequest("2026-03-04", "14:30", 90, 7, ("projector", "whiteboard"), True)
    assert req.start_min == 14 * 60 + 30


def test_prompt_values_fill_every_placeholder_as_text():
    req = RoomRequest("2026-03-04", "14:30", 90, 7, ("projector", "whiteboard"), True)
    assert prompt_values(req) == {
        "date": "2026-03-04", "time": "14:30", "duration_min": "90", "attendees": "7",
        "needs": "projector, whiteboard", "accessible_required": "True",
    }


def test_no_needs_reads_none_and_not_required_reads_false():
    values = prompt_values(RoomRequest("2026-03-05", "08:00", 15, 1, (), False))
    assert values["needs"] == "none"
    assert values["accessible_required"] == "False"


def test_prompt_values_fit_a_template_with_all_six_placeholders():
    template = "{date} {time} {duration_min} {attendees} {needs} {accessible_required}"
    text = template.format(**prompt_values(RoomRequest("2026-03-02", "09:00", 60, 4, ("tv",), False)))
    assert text == "2026-03-02 09:00 60 4 tv False"
