"""Graders comparing the answer with a reference: exact match, substring, regular expression."""

from __future__ import annotations

import re
from dataclasses import dataclass, field as dataclass_field
from typing import Any, Mapping

import pydantic

from replaygate.core.rollout import Rollout
from replaygate.core.score import Score
from replaygate.core.task import Task
from replaygate.graders.answer import MISSING, Ungradable, about, check_field, guarded, read_answer, read_expected, shown

__all__ = ["Contains", "ExactMatch", "Regex", "same"]


def same(a: Any, b: Any) -> bool:
    """JSON equality: 1 equals 1.0, but true is not 1; models compare as their JSON data."""
    if isinstance(a, pydantic.BaseModel):
        a = a.model_dump(mode="json")
    if isinstance(b, pydantic.BaseModel):
        b = b.model_dump(mode="json")
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _text(value: Any, whose: str) -> str:
    if not isinstance(value, str):
        raise Ungradable(f"{whose} is {type(value).__name__}, not text")
    return value


def _named(base: str, field: str | None) -> str:
    return f"{base}:{field}" if field else base


@dataclass(frozen=True)
class ExactMatch:
    """1 when the answer equals the expected value (strings stripped and/or case-folded first)."""

    field: str | None = None
    expected: Any = MISSING
    case_sensitive: bool = True
    strip: bool = True

    def __post_init__(self) -> None:
        check_field(self.field)

    @property
    def name(self) -> str:
        return _named("exact_match", self.field)

    def _norm(self, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip() if self.strip else value
            value = value if self.case_sensitive else value.casefold()
        return value

    def __call__(self, task: Task, rollout: Rollout) -> Score:
        return guarded(rollout, lambda: self._score(task, rollout))

    def _score(self, task: Task, rollout: Rollout) -> Score:
        got = read_answer(rollout, self.field)
        want = read_expected(task, self.field, self.expected)
        if same(self._norm(got), self._norm(want)):
            return Score(1.0, f"{about(self.field)}matched {shown(want)}")
        return Score(0.0, f"{about(self.field)}expected {shown(want)}, got {shown(got)}")


@dataclass(frozen=True)
class Contains:
    """1 when the answer text contains `text` (by default the expected answer); case-insensitive by default."""

    text: str | None = None
    field: str | None = None
    case_sensitive: bool = False

    def __post_init__(self) -> None:
        check_field(self.field)
        if self.text is not None and not isinstance(self.text, str):
            raise ValueError(f"Contains text must be a string, not {type(self.text).__name__}")

    @property
    def name(self) -> str:
        return _named("contains", self.field)

    def __call__(self, task: Task, rollout: Rollout) -> Score:
        return guarded(rollout, lambda: self._score(task, rollout))

    def _score(self, task: Task, rollout: Rollout) -> Score:
        got = _text(read_answer(rollout, self.field), "answer")
        want = self.text if self.text is not None else _text(read_expected(task, self.field), "expected answer")
        # casefold maps each character on its own, so a substring stays a substring after folding.
        found = want in got if self.case_sensitive else want.casefold() in got.casefold()
        if found:
            return Score(1.0, f"{about(self.field)}contains {shown(want)}")
        return Score(0.0, f"{about(self.field)}{shown(want)} not found in {shown(got)}")


@dataclass(frozen=True)
class Regex:
    """1 when `pattern` matches somewhere in the answer text (re.search)."""

    pattern: str | re.Pattern[str]
    field: str | None = None
    compiled: re.Pattern[str] = dataclass_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_field(self.field)
        try:
            compiled = re.compile(self.pattern)
        except (re.error, TypeError) as exc:
            raise ValueError(f"Regex pattern {self.pattern!r} does not compile: {exc}") from None
        object.__setattr__(self, "compiled", compiled)

    @property
    def name(self) -> str:
        return _named("regex", self.field)

    def __call__(self, task: Task, rollout: Rollout) -> Score:
        return guarded(rollout, lambda: self._score(rollout))

    def _score(self, rollout: Rollout) -> Score:
        got = _text(read_answer(rollout, self.field), "answer")
        found = self.compiled.search(got)
        if found:
            return Score(1.0, f"{about(self.field)}matched {shown(found.group(0))}")
        return Score(0.0, f"{about(self.field)}no match for /{self.compiled.pattern}/ in {shown(got)}")
