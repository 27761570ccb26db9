"""The evaluation cache: no (prompt, task, repeat) rollout is paid for twice, in a run or across runs.

An append-only JSON-lines file. A line cut short by an interrupted run is skipped on
load, so a crash costs at most the rollouts of the batch it interrupted.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from replaygate.core.errors import InputError, os_error_message
from replaygate.core.task import Task
from replaygate.optimize.rollout_outcome import Outcome


def task_fingerprint(task: Task) -> str:
    """The task's content: an edited task is a new task, whatever its id."""
    body = json.dumps([task.id, dict(task.input), task.expected], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def cache_key(prompt_version: str, task: Task, model: str, decoding: Mapping[str, Any], repeat: int) -> str:
    body = json.dumps(
        {"prompt": prompt_version, "task": task_fingerprint(task), "model": model, "decoding": dict(decoding), "repeat": repeat},
        sort_keys=True,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:24]


class EvaluationCache:
    def __init__(self, path: Path | None):
        self.path = path
        self.entries: dict[str, Outcome] = {}
        self.skipped_lines = 0
        if path is not None and path.is_file():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise InputError(os_error_message(path, exc, "optimization cache", "the optimize.cache setting")) from None
        for line in text.splitlines():
            try:
                data = json.loads(line)
                self.entries[data["key"]] = Outcome.from_json(data["outcome"])
            except (ValueError, KeyError, TypeError):
                self.skipped_lines += 1  # a torn last line, or a hand edit: that rollout is simply run again

    def get(self, key: str) -> Outcome | None:
        return self.entries.get(key)

    def put_many(self, items: Iterable[tuple[str, Outcome]]) -> None:
        lines = []
        for key, outcome in items:
            self.entries[key] = outcome
            lines.append(json.dumps({"key": key, "outcome": outcome.to_json()}, sort_keys=True, ensure_ascii=False))
        if self.path is None or not lines:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise InputError(os_error_message(self.path, exc, "optimization cache", "the optimize.cache setting", writing=True)) from None
