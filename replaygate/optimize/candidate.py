"""Candidates: prompt texts the search proposes, with where each came from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def version_of(text: str) -> str:
    """The same identity `PromptTemplate.version` gives the file's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Candidate:
    text: str
    parent: str | None = None  # the parent's version; None for the incumbent
    origin: str = "incumbent"  # what proposed it: an APO edit, an evolutionary operator …
    round: int = 0
    notes: tuple[str, ...] = field(default=(), compare=False)  # lint repairs, operator details

    @property
    def version(self) -> str:
        return version_of(self.text)
