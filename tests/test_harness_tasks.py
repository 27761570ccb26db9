"""The task loader: JSONL, JSON or YAML (Agent Lightning field names too) in, Task objects or one-line `path:line` errors out."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replaygate.core.errors import InputError
from replaygate.core.task import SPLITS, Task, TaskFileError, load_tasks, parse_task_line, tasks_from_list

GOOD = {"id": "room-001", "task_input": {"date": "2026-03-02", "attendees": 4}, "expected_choice": "R-101"}


def line(**fields) -> str:
    obj = dict(GOOD)
    for key, value in fields.items():
        if value is ...:
            obj.pop(key, None)
        else:
            obj[key] = value
    return json.dumps(obj)


def write(tmp_path, *lines: str, name: str = "tasks.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- happy path ---------------------------------------------------------------------------------


def test_load_tasks_reads_every_task_with_its_source_line(tmp_path):
    path = write(
        tmp_path,
        "# a comment line, skipped",
        line(),
        "",
        "   ",
        line(id="room-002", expected_choice="No Room", split="holdout", tags=["tie_distance", "no_feasible"]),
    )
    tasks = load_tasks(path)

    assert [t.id for t in tasks] == ["room-001", "room-002"]
    first, second = tasks
    assert first == Task(id="room-001", input=GOOD["task_input"], expected="R-101", split=None, tags=())
    assert first.source == f"{path}:2"
    assert second.expected == "No Room"
    assert second.split == "holdout"
    assert second.tags == ("tie_distance", "no_feasible")
    # Blank and comment lines still count for line numbers.
    assert second.source == f"{path}:5"


def test_load_tasks_accepts_a_str_path_and_every_split(tmp_path):
    lines = [line(id=f"t-{split}", split=split) for split in SPLITS]
    tasks = load_tasks(str(write(tmp_path, *lines)))
    assert [t.split for t in tasks] == list(SPLITS)


def test_task_source_does_not_take_part_in_equality():
    a = parse_task_line(line(), "a.jsonl:1")
    b = parse_task_line(line(), "b.jsonl:9")
    assert a == b
    assert (a.source, b.source) == ("a.jsonl:1", "b.jsonl:9")


# --- bad input: one line, `path:line`, what is wrong and the fix ---------------------------------

BAD_LINES = [
    pytest.param('{"id": "room-002", "task_input": {', ["not valid JSON", "fix the JSON on this line"], id="malformed-json"),
    pytest.param("[1, 2, 3]", ["expected a task object, got list", "write one object per task"], id="not-an-object"),
    pytest.param('"just a string"', ["expected a task object, got str", "one object per task"], id="json-string"),
    pytest.param(line(id=...), ['missing "id"', "give every task a unique id"], id="missing-id"),
    pytest.param(line(id=""), ['missing "id"', "unique id"], id="empty-id"),
    pytest.param(line(id=7), ['missing "id"', "non-empty string"], id="numeric-id"),
    pytest.param(line(id="room 002"), ["'room 002'", "contains ' '", "use ASCII letters, digits"], id="id-with-space"),
    pytest.param(line(id="room\t002"), ["contains '\\t'", "use ASCII letters"], id="id-with-tab"),
    pytest.param(line(id="rooms/002"), ["contains '/'", "use ASCII letters"], id="id-with-slash"),
    pytest.param(line(id="raum-\u00e49"), ["contains '\u00e4'", "use ASCII letters"], id="id-non-ascii"),
    pytest.param(line(task_input=...), ['has no "input" object', "add the inputs as an object"], id="missing-task-input"),
    pytest.param(line(task_input=[1]), ['has no "input" object', "add the inputs"], id="task-input-list"),
    pytest.param(line(split="test"), ["split 'test'", "use one of train, validation, holdout or leave it out"], id="bad-split"),
    pytest.param(line(tags="a,b"), ['"tags" that are not a list of strings', "fix the list"], id="tags-not-list"),
    pytest.param(line(tags=["a", 1]), ['"tags"', "fix the list"], id="tags-not-strings"),
]


@pytest.mark.parametrize("bad, fragments", BAD_LINES)
def test_bad_line_is_reported_on_one_line_with_path_line_and_fix(tmp_path, bad, fragments):
    path = write(tmp_path, line(id="room-001"), bad)
    with pytest.raises(TaskFileError) as info:
        load_tasks(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:2: ")
    for fragment in fragments:
        assert fragment in message


def test_task_file_errors_are_input_errors():
    # The plugin turns InputError into a clean collection error; a bare ValueError would not be.
    assert issubclass(TaskFileError, InputError)


def test_duplicate_id_names_both_lines(tmp_path):
    path = write(tmp_path, line(id="room-001"), "# comment", line(id="room-001"))
    with pytest.raises(TaskFileError) as info:
        load_tasks(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:3: ")
    assert f"already used at {path}:1" in message
    assert "task ids must be unique" in message


@pytest.mark.parametrize(
    "content",
    [pytest.param("", id="empty"), pytest.param("\n\n   \n", id="blank-lines"), pytest.param("# only\n# comments\n", id="comments")],
)
def test_file_without_tasks_is_an_error(tmp_path, content):
    path = tmp_path / "tasks.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TaskFileError) as info:
        load_tasks(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert "no tasks; add at least one task" in message


def test_missing_file_names_the_path_and_the_fix(tmp_path):
    path = tmp_path / "nowhere" / "tasks.jsonl"
    with pytest.raises(TaskFileError) as info:
        load_tasks(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert "task file not found" in message
    assert "--tasks" in message


def test_non_utf8_file_names_the_path_and_the_fix(tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_bytes(b'{"id": "caf\xe9"}\n')
    with pytest.raises(TaskFileError) as info:
        load_tasks(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "save the task file as UTF-8" in str(info.value)


def test_first_bad_line_wins_and_later_lines_are_not_needed(tmp_path):
    path = write(tmp_path, line(id="a"), "{oops", "also bad")
    with pytest.raises(TaskFileError, match=r":2: not valid JSON"):
        load_tasks(path)


# --- JSON the decoder itself refuses -------------------------------------------------------------
# json.loads raises ValueError (not JSONDecodeError) for integers above Python's digit limit,
# and RecursionError for very deep nesting. A task file is user input: both must come back as
# the same one-line TaskFileError as any other bad line.


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("9" * 5000, id="huge-integer"),
        pytest.param('{"id": "a", "task_input": {"n": ' + "9" * 5000 + '}, "expected_choice": "R-1"}', id="huge-integer-field"),
        pytest.param("[" * 100_000 + "]" * 100_000, id="deep-nesting"),
    ],
)
def test_json_the_decoder_refuses_is_a_task_file_error(bad):
    with pytest.raises(TaskFileError) as info:
        parse_task_line(bad, "tasks.jsonl:4")
    assert str(info.value).startswith("tasks.jsonl:4: ")
    assert "\n" not in str(info.value)


# --- property: arbitrary text gives a Task or a TaskFileError, nothing else ----------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
task_like = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=10), json_values),
        "task_input": st.one_of(st.dictionaries(st.text(max_size=5), json_scalars, max_size=3), json_values),
        "expected_choice": st.one_of(st.text(max_size=8), json_values),
        "split": st.one_of(st.sampled_from(SPLITS + ("test", "")), json_values),
        "tags": st.one_of(st.lists(st.text(max_size=5), max_size=3), json_values),
    },
)
any_line = st.one_of(st.text(), json_values.map(json.dumps), task_like.map(json.dumps))


@settings(max_examples=300, deadline=None)
@given(any_line)
def test_parse_task_line_returns_a_task_or_raises_task_file_error(text):
    try:
        task = parse_task_line(text, "f.jsonl:1")
    except TaskFileError as exc:
        message = str(exc)
        assert message.startswith("f.jsonl:1: ")
        assert "\n" not in message
        return
    assert isinstance(task, Task)
    assert task.id.strip() and not any(ch.isspace() for ch in task.id) and "/" not in task.id
    assert isinstance(task.input, dict)
    assert task.id.isascii()
    assert task.split is None or task.split in SPLITS
    assert all(isinstance(tag, str) for tag in task.tags)
    assert task.source == "f.jsonl:1"


# --- other forms: JSON, YAML, a Python list; optional fields; input checks -----------------------


def test_expected_is_optional_and_any_json_value(tmp_path):
    path = write(tmp_path, json.dumps({"id": "a", "input": {"q": 1}}),
                 json.dumps({"id": "b", "input": {"q": 2}, "expected": {"category": "billing", "priority": 2}}))
    first, second = load_tasks(path)
    assert first.expected is None
    assert second.expected == {"category": "billing", "priority": 2}


def test_json_and_yaml_files_name_the_line_of_a_bad_task(tmp_path):
    good = {"id": "a", "input": {"q": 1}, "expected": "x"}
    (tmp_path / "t.json").write_text("[\n" + json.dumps(good) + ",\n  {\"id\": \"b\"}\n]\n", encoding="utf-8")
    with pytest.raises(TaskFileError, match=r"t\.json:3: task 'b' has no \"input\" object"):
        load_tasks(tmp_path / "t.json")
    (tmp_path / "t.yaml").write_text("- id: a\n  input: {q: 1}\n- id: b\n  input: [1]\n", encoding="utf-8")
    with pytest.raises(TaskFileError, match=r"t\.yaml:3: task 'b' has no \"input\" object"):
        load_tasks(tmp_path / "t.yaml")
    (tmp_path / "ok.yml").write_text("- id: a\n  input: {q: 1}\n  expected: [1, 2]\n", encoding="utf-8")
    assert load_tasks(tmp_path / "ok.yml")[0].expected == [1, 2]


def test_a_byte_order_mark_is_not_a_bad_first_line(tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_text("\ufeff" + line() + "\n", encoding="utf-8")
    assert [t.id for t in load_tasks(path)] == ["room-001"]


def test_tasks_in_code_and_input_checks_name_the_task():
    def parse(data, where):
        if "q" not in data:
            raise TaskFileError(f"{where}: no q; add q")
        return data

    tasks = tasks_from_list([{"id": "a", "input": {"q": 1}}, Task("b", {"q": 2})], "suite 'demo' tasks", parse)
    assert [t.id for t in tasks] == ["a", "b"]
    with pytest.raises(TaskFileError, match=r"^suite 'demo' tasks\[1\]: task 'b': no q; add q$"):
        tasks_from_list([{"id": "a", "input": {"q": 1}}, {"id": "b", "input": {}}], "suite 'demo' tasks", parse)
