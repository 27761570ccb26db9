"""Arbitrary input: the task loader, the answer parser and the prompt template return a value or raise their documented error.

Extends the single-function properties in test_harness_tasks.py, test_harness_prompt.py and
test_rooms_answer.py to what they leave open: a task line through to a RoomRequest, files of
arbitrary bytes, room ids that are not the committed ones, and placeholders the tasks cannot fill.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replaygate.core.prompt import PromptFileError, PromptTemplate, load_prompt
from replaygate.core.task import Task, TaskFileError, load_tasks, parse_task_line
from evals.rooms.answer import parse_choice
from evals.rooms.clock import is_date, minutes_of
from evals.rooms.errors import TaskInputError
from evals.rooms.oracle import choose
from evals.rooms.request import RoomRequest, prompt_values
from evals.rooms.tool import get_rooms_and_availability
from evals.rooms.world import NO_ROOM, load_world

ROOT = Path(__file__).resolve().parents[1]
WORLD = load_world(ROOT / "evals" / "rooms" / "data" / "rooms.json")
# A fixed copy of the weak prompt: `pytest --optimize` may rewrite prompts/room_selector.md.
PROMPT = load_prompt(ROOT / "tests" / "data" / "al_baseline_prompt.md")

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
counts = st.one_of(st.integers(-3, 1500), st.sampled_from([0, 1, True, False, 1.0, 60.5, "60", 10**20, float("inf")]), json_scalars)
# Each field: valid values, values that are almost valid, and any JSON at all.
FIELDS = {
    "date": st.one_of(
        st.dates().map(str),
        st.sampled_from(["2026-02-29", "2028-02-29", "2026-13-01", "2026-3-2", "2026-03-02T10:00", "２０２６-03-02", ""]),
        json_scalars,
    ),
    "time": st.one_of(
        st.times().map(lambda t: t.strftime("%H:%M")),
        st.sampled_from(["24:00", "9:00", "12:60", "٠٩:٠٠", " 09:00", "09:00 ", "09:00:00", "23:59"]),
        json_scalars,
    ),
    "duration_min": counts,
    "attendees": counts,
    "needs": st.one_of(
        st.lists(st.one_of(st.sampled_from(["projector", "Projector", " tv ", "", "  ", "TV"]), st.text(max_size=6), json_scalars), max_size=4),
        json_values,
    ),
    "accessible_required": st.one_of(st.booleans(), st.sampled_from([0, 1, "true", None]), json_values),
}
task_inputs = st.one_of(
    st.fixed_dictionaries({}, optional={**FIELDS, "note": json_values}),
    json_values,
)


def assert_valid(req: RoomRequest) -> None:
    """What a RoomRequest promises: every field checked, needs normalized, usable by prompt, oracle and tool."""
    assert is_date(req.date) and minutes_of(req.time) is not None
    assert type(req.duration_min) is int and req.duration_min >= 1
    assert type(req.attendees) is int and req.attendees >= 1
    assert all(n == n.strip().lower() and n for n in req.needs) and len(set(req.needs)) == len(req.needs)
    assert type(req.accessible_required) is bool
    assert PROMPT.render(prompt_values(req))
    assert choose(WORLD, req) in WORLD.ids + (NO_ROOM,)
    assert len(get_rooms_and_availability(WORLD, req.date, req.time, req.duration_min)["rooms"]) == len(WORLD.rooms)


@settings(max_examples=300, deadline=None)
@given(task_inputs)
def test_a_task_line_gives_a_room_request_or_a_documented_error(task_input):
    line = json.dumps({"id": "gen-1", "task_input": task_input, "expected_choice": "R-101"})
    try:
        task = parse_task_line(line, "t.jsonl:3")
        req = RoomRequest.from_task(task)
    except (TaskFileError, TaskInputError) as exc:
        message = str(exc)
        assert message.startswith("t.jsonl:3: ") and "\n" not in message
        if isinstance(exc, TaskInputError):
            assert message.startswith("t.jsonl:3: task 'gen-1': ") and message.endswith(("fix the task", "add it to the task"))
        return
    assert_valid(req)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("robustness")


lines = st.one_of(
    st.text(max_size=40),
    task_inputs.map(lambda ti: json.dumps({"id": "t", "task_input": ti, "expected_choice": "R-1"})),
    st.sampled_from(["", "# comment", "   ", '{"id": "t", "task_input": {}, "expected_choice": "R-1"}']),
)


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.lists(lines, max_size=5).map(lambda ls: "\n".join(ls).encode("utf-8"))))
def test_a_task_file_of_any_bytes_loads_or_raises_task_file_error(scratch, content):
    path = scratch / "tasks.jsonl"
    path.write_bytes(content)
    try:
        tasks = load_tasks(path)
    except TaskFileError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        return
    assert tasks and len({t.id for t in tasks}) == len(tasks)
    assert all(isinstance(t, Task) and t.source.startswith(f"{path}:") for t in tasks)


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.binary(max_size=100), st.text(max_size=60).map(lambda t: t.encode("utf-8"))))
def test_a_prompt_file_of_any_bytes_loads_or_raises_prompt_file_error(scratch, content):
    path = scratch / "prompt.md"
    path.write_bytes(content)
    try:
        template = load_prompt(path)
    except PromptFileError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        return
    assert template.text.strip()


NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,4}", fullmatch=True)
template_text = st.lists(
    st.one_of(
        st.text(max_size=12),
        NAMES.map(lambda n: "{" + n + "}"),
        NAMES.map(lambda n: "{{" + n + "}}"),
        st.sampled_from(["{", "}", "{{", "}}", "[system]\n", "\n[user]\n", "[user]", "\n", "{date}", "{needs}"]),
    ),
    max_size=10,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(template_text, st.sets(st.one_of(NAMES, st.sampled_from(["date", "needs"])), max_size=4))
def test_check_refuses_with_prompt_file_error_or_render_fills_every_placeholder(text, available):
    # Unlike the render property in test_harness_prompt.py, the tasks here may not fill every placeholder.
    template = PromptTemplate(Path("p.md"), text)
    try:
        template.check(available)
    except PromptFileError as exc:
        assert str(exc).startswith("p.md:") and "\n" not in str(exc)
        return
    assert set(template.placeholders) <= available
    messages = template.render({name: "<" + name + ">" for name in available})
    assert all(m["role"] in ("system", "user") and isinstance(m["content"], str) for m in messages)


# Ids a rooms file accepts, not only the committed ones: odd characters, prefixes of each other, case variants.
room_ids = st.lists(
    st.one_of(st.text(min_size=1, max_size=6).map(str.strip).filter(bool), st.sampled_from(["R-1", "R-10", "r-1", "a.b", "x+", "(1)", "Room 1"])),
    min_size=1, max_size=5, unique=True,
)


@settings(max_examples=200, deadline=None)
@given(room_ids, st.data())
def test_parse_choice_never_raises_whatever_the_room_ids(ids, data):
    pieces = st.one_of(st.sampled_from(ids), st.sampled_from(['{"choice": ', '"', "}", "final_choice: ", "No Room", "\n", "**", " or "]), st.text(max_size=4))
    text = data.draw(st.one_of(st.text(), st.lists(pieces, max_size=8).map("".join)), label="answer")
    choice, how = parse_choice(text, ids)
    assert choice is None or isinstance(choice, str)
    assert isinstance(how, str) and how


@settings(max_examples=100, deadline=None)
@given(room_ids, st.data())
def test_an_answer_that_is_exactly_one_room_id_reads_as_that_room(ids, data):
    # Case variants of one id ("r-1", "R-1") may stand for different rooms; the parser cannot tell them apart.
    ids = [i for i in ids if i == i.strip(" \t\r\n\"'`*“”‘’").rstrip(".!,;:")]
    folded = [i.casefold() for i in ids]
    ids = [i for i in ids if folded.count(i.casefold()) == 1 and i.casefold() not in ("no room", "none", "no rooms")]
    if not ids:
        return
    room = data.draw(st.sampled_from(ids), label="room")
    assert parse_choice(room, ids)[0] == room
    assert parse_choice(json.dumps({"choice": room}), ids)[0] == room
