"""Instruction families the simulator recognises, loaded once from phrasebook.toml."""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

DATA_FILE = Path(__file__).with_name("phrasebook.toml")

HARD_CONSTRAINTS = ("availability", "capacity", "equipment", "accessibility")
TIEBREAKS = ("tiebreak_slack", "tiebreak_extra_equipment", "tiebreak_distance", "tiebreak_bookings")
BEHAVIOURS = ("single_tool_call", "answer_format", "no_room_answer")
FAMILIES = HARD_CONSTRAINTS + TIEBREAKS + BEHAVIOURS


@dataclass(frozen=True)
class Wording:
    """How the critic and editor talk about a family: the problem, instructions, preference fragments."""

    problem: str = ""
    instructions: tuple[str, ...] = ()
    preference: tuple[str, ...] = ()


class Phrasebook:
    """Compiled phrasings per family; answers whether a text asks for a family."""

    def __init__(self, patterns: Mapping[str, list[re.Pattern[str]]], wordings: Mapping[str, Wording] | None = None):
        self._patterns = dict(patterns)
        self._wordings = dict(wordings or {})

    @classmethod
    def from_toml(cls, path: Path) -> "Phrasebook":
        """Read and compile a phrasebook file; every known family must be present."""
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        missing = [family for family in FAMILIES if family not in data]
        if missing:
            raise ValueError(f"{path}: missing phrasebook families {', '.join(missing)}")
        patterns: dict[str, list[re.Pattern[str]]] = {}
        wordings: dict[str, Wording] = {}
        for family, table in data.items():
            phrasings = table.get("phrasings") if isinstance(table, dict) else None
            if not isinstance(phrasings, list) or not phrasings:
                raise ValueError(f"{path}: family [{family}] needs a non-empty 'phrasings' list")
            try:
                patterns[family] = [re.compile(p, re.IGNORECASE) for p in phrasings]
            except re.error as exc:
                raise ValueError(f"{path}: family [{family}] has a bad regex: {exc}") from None
            wordings[family] = Wording(
                problem=str(table.get("problem", "")),
                instructions=tuple(table.get("instructions", ())),
                preference=tuple(table.get("preference", ())),
            )
        return cls(patterns, wordings)

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(self._patterns)

    def _family(self, family: str) -> list[re.Pattern[str]]:
        try:
            return self._patterns[family]
        except KeyError:
            raise KeyError(f"unknown phrasebook family {family!r}; known: {', '.join(self._patterns)}") from None

    def wording(self, family: str) -> Wording:
        """The critic's and editor's words for `family` (empty when the file gives none)."""
        self._family(family)
        return self._wordings.get(family, Wording())

    def asks(self, family: str, text: str) -> bool:
        """True when any phrasing of `family` occurs in `text`."""
        return any(p.search(text) for p in self._family(family))

    def first_position(self, family: str, text: str) -> int | None:
        """Character offset of the earliest phrasing of `family` in `text`, or None."""
        starts = [m.start() for p in self._family(family) if (m := p.search(text))]
        return min(starts) if starts else None


@lru_cache(maxsize=1)
def default_phrasebook() -> Phrasebook:
    """The phrasebook shipped beside this module (parsed on first use, then cached)."""
    return Phrasebook.from_toml(DATA_FILE)
