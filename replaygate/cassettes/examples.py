"""The examples a recording drew for a property test, kept beside their cassettes: replay runs exactly these.

Replay then depends on no draw algorithm: another Hypothesis version, or an edit to the test's body, replays the
same cases. One JSON object a line, in the order they were drawn, shrinking included; the smallest failing example
Hypothesis settled on carries `"minimal": true`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from replaygate.cassettes.secrets import write_checked
from replaygate.core.errors import read_input
from replaygate.core.task import Task, TaskFileError, task_from_object

EXAMPLES_FILE = "examples.jsonl"


class ExamplesError(TaskFileError):
    pass


def write_examples(path: Path, tasks: Sequence[Task], minimal: str | None = None,
                   secrets: Sequence[tuple[str, str]] = ()) -> None:
    """Every distinct example in the order first drawn; `minimal` names the smallest failing one."""
    seen: dict[str, Task] = {}
    for task in tasks:
        seen.setdefault(task.id, task)
    lines = []
    for task in seen.values():
        line = {"id": task.id, "input": task.input, "expected": task.expected}
        if task.id == minimal:
            line["minimal"] = True
        lines.append(json.dumps(line, sort_keys=True, ensure_ascii=False))
    text = "\n".join(lines) + "\n"
    write_checked([(path, text)], secrets)


def read_examples(path: Path, record_hint: str) -> tuple[list[Task], str | None]:
    """The recorded examples and the id of the minimal failing one; one line naming the file and the fix otherwise."""
    if not path.is_file():
        raise ExamplesError(f"{path}: no recorded examples for this property test; record them with: {record_hint}")
    text = read_input(path, ExamplesError, "examples file", f"record them with: {record_hint}")
    tasks, minimal = [], None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise ExamplesError(f"{where}: not JSON ({exc.msg}); re-record with: {record_hint}") from None
        tasks.append(task_from_object(obj, where))
        if isinstance(obj, dict) and obj.get("minimal") is True:
            minimal = obj["id"]
    if not tasks:
        raise ExamplesError(f"{path}: holds no examples; re-record with: {record_hint}")
    return tasks, minimal
