"""Tasks: the cases a suite runs, read from Agent Lightning style JSONL."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from replaygate.core.errors import InputError, read_input

SPLITS = ("train", "validation", "holdout")


@dataclass(frozen=True)
class Task:
    """One case: the input handed to the agent and the answer expected back."""

    id: str
    input: Mapping[str, Any]
    expected: Any = None  # any JSON value, or None when the graders need no reference answer
    split: str | None = None
    tags: tuple[str, ...] = ()
    source: str = field(default="", compare=False)  # "path:line", for error messages


class TaskFileError(InputError):
    pass


def parse_task_line(line: str, where: str) -> Task:
    """Parse one JSONL line `{"id", "task_input", "expected_choice"[, "split", "tags"]}`."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TaskFileError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno}); fix or delete the line") from None
    except (ValueError, RecursionError) as exc:
        # Numbers too long to convert, nesting too deep to parse: still just a bad line.
        raise TaskFileError(f"{where}: not usable JSON ({type(exc).__name__}); fix or delete the line") from None
    if not isinstance(obj, dict):
        raise TaskFileError(f"{where}: expected a JSON object, got {type(obj).__name__}; write one task object per line")
    task_id = obj.get("id")
    if not isinstance(task_id, str) or not task_id.strip():
        raise TaskFileError(f'{where}: missing "id" (a non-empty string); give every task a unique id')
    if any(ch.isspace() for ch in task_id) or "/" in task_id:
        raise TaskFileError(f'{where}: task id {task_id!r} contains whitespace or "/"; use letters, digits, "-", "_" or "."')
    task_input = obj.get("task_input")
    if not isinstance(task_input, dict):
        raise TaskFileError(f'{where}: task {task_id!r} has no "task_input" object; add the inputs as a JSON object')
    expected = obj.get("expected_choice")
    if not isinstance(expected, str) or not expected.strip():
        raise TaskFileError(f'{where}: task {task_id!r} has no "expected_choice" string; add the expected answer')
    split = obj.get("split")
    if split is not None and split not in SPLITS:
        raise TaskFileError(f"{where}: task {task_id!r} has split {split!r}; use one of {', '.join(SPLITS)} or leave it out")
    tags = obj.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise TaskFileError(f'{where}: task {task_id!r} has "tags" that are not a list of strings; fix the list')
    return Task(id=task_id, input=task_input, expected=expected, split=split, tags=tuple(tags), source=where)


def load_tasks(path: str | Path) -> list[Task]:
    """Read a JSONL task file; blank lines and lines starting with # are skipped."""
    path = Path(path)
    text = read_input(path, TaskFileError, "task file", "check the tasks path in pyproject.toml or pass --tasks", "JSONL")
    tasks: list[Task] = []
    seen: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path}:{lineno}"
        task = parse_task_line(line, where)
        if task.id in seen:
            raise TaskFileError(f"{where}: task id {task.id!r} already used at {seen[task.id]}; task ids must be unique")
        seen[task.id] = where
        tasks.append(task)
    if not tasks:
        raise TaskFileError(f"{path}: no tasks in the file; add at least one JSONL task line")
    return tasks
