"""Tasks: the cases a suite runs, from a JSONL, JSON or YAML file or a Python list.

A task is `{"id", "input", "expected"?, "split"?, "tags"?}`; Agent Lightning's
`task_input` and `expected_choice` are read as `input` and `expected`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from replaygate.core.errors import InputError, read_input

SPLITS = ("train", "validation", "holdout")
FORMS = {".jsonl": "JSONL", ".json": "JSON", ".yaml": "YAML", ".yml": "YAML"}
# Safe in an HTTP header, a file name and a pytest id: ids travel in all three.
ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:+@=")


@dataclass(frozen=True)
class Task:
    """One case: the input handed to the agent and, when graders need one, the answer expected back."""

    id: str
    input: Mapping[str, Any]
    expected: Any = None  # any JSON value, or None when the graders need no reference answer
    split: str | None = None
    tags: tuple[str, ...] = ()
    source: str = field(default="", compare=False)  # "path:line", for error messages


class TaskFileError(InputError):
    pass


def task_from_object(obj: Any, where: str) -> Task:
    """Check one task object; every error names `where` and the fix."""
    if not isinstance(obj, dict):
        raise TaskFileError(f"{where}: expected a task object, got {type(obj).__name__}; write one object per task")
    task_id = obj.get("id")
    if not isinstance(task_id, str) or not task_id.strip():
        raise TaskFileError(f'{where}: missing "id" (a non-empty string); give every task a unique id')
    bad = sorted(set(task_id) - ID_CHARS)
    if bad:
        raise TaskFileError(f"{where}: task id {task_id!r} contains {bad[0]!r}; use ASCII letters, digits and - _ . : + @ =")
    if task_id.startswith("."):
        # It names the case's cassette file: "..", or a hidden file, is no name for one.
        raise TaskFileError(f"{where}: task id {task_id!r} starts with '.', and it names a file; start it with a letter or digit")
    has_input = "input" in obj or "task_input" in obj
    task_input = obj.get("input", obj.get("task_input"))
    if not has_input or not isinstance(task_input, dict):
        raise TaskFileError(f'{where}: task {task_id!r} has no "input" object; add the inputs as an object')
    expected = obj.get("expected", obj.get("expected_choice"))
    split = obj.get("split")
    if split is not None and split not in SPLITS:
        raise TaskFileError(f"{where}: task {task_id!r} has split {split!r}; use one of {', '.join(SPLITS)} or leave it out")
    tags = obj.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise TaskFileError(f'{where}: task {task_id!r} has "tags" that are not a list of strings; fix the list')
    return Task(id=task_id, input=task_input, expected=expected, split=split, tags=tuple(tags), source=where)


def parse_task_line(line: str, where: str) -> Task:
    """Parse one JSONL line."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TaskFileError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno}); fix the JSON on this line") from None
    except (ValueError, RecursionError) as exc:
        # Numbers too long to convert, nesting too deep to parse: still just a bad line.
        raise TaskFileError(f"{where}: not usable JSON ({type(exc).__name__}); fix the JSON on this line") from None
    return task_from_object(obj, where)


def _jsonl_objects(text: str, path: Path) -> Iterable[tuple[Any, str]]:
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield line, f"{path}:{lineno}"


def _json_objects(text: str, path: Path) -> Iterable[tuple[Any, str]]:
    """The items of a JSON array, each with the line it starts on."""
    decoder = json.JSONDecoder()
    pos = len(text) - len(text.lstrip())
    if not text.startswith("[", pos):
        raise TaskFileError(f"{path}:1: a JSON task file holds one array of task objects; wrap the tasks in [ ]")
    pos += 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            raise TaskFileError(f"{path}: the task array is not closed; end it with ]")
        if text[pos] == "]":
            return
        where = f"{path}:{text.count(chr(10), 0, pos) + 1}"
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            raise TaskFileError(f"{where}: not valid JSON ({getattr(exc, 'msg', type(exc).__name__)}); fix this task") from None
        yield obj, where


def _yaml_objects(text: str, path: Path) -> Iterable[tuple[Any, str]]:
    import yaml  # only YAML task files pay for it

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise TaskFileError(f"{path}{line}: not valid YAML ({getattr(exc, 'problem', exc)}); fix the YAML") from None
    if root is None or not isinstance(root, yaml.SequenceNode):
        raise TaskFileError(f"{path}:1: a YAML task file holds one list of tasks; start each task with '- '")
    for node in root.value:
        obj = yaml.SafeLoader(yaml.serialize(node)).get_single_data()
        yield obj, f"{path}:{node.start_mark.line + 1}"


def load_tasks(path: str | Path, parse_input: Callable[[Mapping[str, Any], str], Any] | None = None) -> list[Task]:
    """Read a task file (.jsonl, .json, .yaml); blank and # lines of JSONL are skipped."""
    path = Path(path)
    form = FORMS.get(path.suffix.lower(), "JSONL")
    text = read_input(path, TaskFileError, "task file", "check the tasks path in pyproject.toml or pass --tasks", form,
                      source="the tasks setting (or --tasks)")
    if form == "JSONL":
        items = ((parse_task_line(line, where), where) for line, where in _jsonl_objects(text, path))
    else:
        reader = _json_objects if form == "JSON" else _yaml_objects
        items = ((task_from_object(obj, where), where) for obj, where in reader(text, path))
    tasks = check_tasks([task for task, _ in items], str(path), parse_input)
    return tasks


def tasks_from_list(items: Sequence[Task | Mapping[str, Any]], where: str,
                    parse_input: Callable[[Mapping[str, Any], str], Any] | None = None) -> list[Task]:
    """Tasks given in code: Task objects or task dicts."""
    tasks = [item if isinstance(item, Task) else task_from_object(dict(item), f"{where}[{index}]")
             for index, item in enumerate(items)]
    return check_tasks(tasks, where, parse_input)


def check_tasks(tasks: list[Task], where: str, parse_input: Callable[[Mapping[str, Any], str], Any] | None) -> list[Task]:
    """Unique ids, at least one task, and every input valid for the suite."""
    if not tasks:
        raise TaskFileError(f"{where}: no tasks; add at least one task")
    seen: dict[str, tuple[str, str]] = {}  # casefolded id -> (the id, where)
    for task in tasks:
        key = task.id.casefold()
        if key in seen:
            other, at = seen[key]
            if other == task.id:
                raise TaskFileError(f"{task.source or where}: task id {task.id!r} already used at {at}; task ids must be unique")
            # Cassettes are named by id: on a case-insensitive file system the two would share one file.
            raise TaskFileError(f"{task.source or where}: task id {task.id!r} differs from {other!r} (at {at}) only in case; "
                                "task ids must be unique ignoring case: rename one")
        seen[key] = (task.id, task.source or where)
        if parse_input is not None:
            parse_input(task.input, f"{task.source or where}: task {task.id!r}")
    return tasks
