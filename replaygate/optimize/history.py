"""Prompt history: every replaced version kept, and an append-only log of what the optimizers did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from replaygate.core.changeset import Changeset
from replaygate.cassettes.secrets import write_checked

LOG_NAME = "log.jsonl"


class PromptHistory:
    """Every write is staged in `changes` (and reads see it): the history switches in with the prompt."""

    def __init__(self, folder: Path, changes: Changeset, secrets: tuple[tuple[str, str], ...] = ()):
        self.folder, self.changes, self.secrets = folder, changes, secrets

    @property
    def log_path(self) -> Path:
        return self.folder / LOG_NAME

    def _write(self, path: Path, text: str) -> None:
        write_checked([(path, text)], self.secrets, self.changes)

    def keep(self, prompt_path: Path, text: str, version: str) -> Path:
        """Store a version under `<folder>/<prompt stem>/<version>.md`; the same version is stored once."""
        target = self.folder / prompt_path.stem / f"{version}.md"
        if self.changes.read_text(target) is None:
            self._write(target, text)
        return target

    def append(self, entry: Mapping[str, Any]) -> None:
        """Append one line; the whole log is staged anew and switches in with the rest, or not at all."""
        old = self.changes.read_text(self.log_path) or ""
        if old and not old.endswith("\n"):
            old += "\n"
        self._write(self.log_path, old + json.dumps(dict(entry), sort_keys=True, ensure_ascii=False) + "\n")

    def write_back(self, prompt_path: Path, text: str) -> None:
        self._write(prompt_path, text)
