"""Reading what a grader grades: the rollout's answer and the task's reference, optionally at a dotted field."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, Sequence

import pydantic

from replaygate.core.rollout import Rollout
from replaygate.core.score import Score
from replaygate.core.task import Task

__all__ = ["MISSING", "Ungradable", "about", "check_field", "guarded", "read_answer", "read_expected", "shown"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


# "No value given", distinct from None (which may be the expected answer itself).
MISSING: Any = _Missing()

# Scalars have no fields: walking into them is a missing field, not an attribute lookup ("upper" of a str).
_LEAVES = (str, bytes, bytearray, int, float, complex, type(None))


class Ungradable(Exception):
    """The answer or reference cannot be read; graders turn it into Score(0, reason)."""


def check_field(field: str | None) -> None:
    """Raise ValueError for a field path with an empty part ("", "a..b")."""
    if field is not None and (not isinstance(field, str) or not all(field.split("."))):
        raise ValueError(f"field {field!r} is not a dotted path; use names like 'priority' or 'customer.id'")


def _step(value: Any, part: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(part, MISSING)
    if isinstance(value, pydantic.BaseModel):
        cls = type(value)
        if part in cls.model_fields or part in cls.model_computed_fields or part in (value.model_extra or {}):
            return getattr(value, part)
        return MISSING
    if isinstance(value, Sequence) and not isinstance(value, _LEAVES):
        return value[int(part)] if part.isdigit() and int(part) < len(value) else MISSING
    if isinstance(value, _LEAVES) or part.startswith("_"):
        return MISSING
    found = getattr(value, part, MISSING)
    # A method is behaviour, not data: "answer has no field" is the truer reason.
    return MISSING if inspect.ismethod(found) or inspect.isbuiltin(found) else found


def _at(value: Any, field: str, whose: str) -> Any:
    for part in field.split("."):
        value = _step(value, part)
        if value is MISSING:
            raise Ungradable(f"{whose} has no field {field!r}")
    return value


def read_answer(rollout: Rollout, field: str | None = None) -> Any:
    """`rollout.answer` (or `final_text` when the answer is None), at `field` when given."""
    value = rollout.answer if rollout.answer is not None else rollout.final_text
    if value is None:
        raise Ungradable("no answer")
    return _at(value, field, "answer") if field else value


def read_expected(task: Task, field: str | None = None, expected: Any = MISSING) -> Any:
    """An explicit `expected` as given, else `task.expected` (at `field` when it is a dict or a model)."""
    if expected is not MISSING:
        return expected
    if task.expected is None:
        raise Ungradable("task has no expected answer")
    if field and isinstance(task.expected, (Mapping, pydantic.BaseModel)):
        return _at(task.expected, field, "expected answer")
    return task.expected


def guarded(rollout: Rollout, check: Callable[[], Score]) -> Score:
    """An errored rollout scores 0 with its error; an unreadable answer scores 0 with why."""
    if rollout.error:
        # The same reason text from every grader, so the composite lists it once.
        return Score(0.0, rollout.error)
    try:
        return check()
    except Ungradable as exc:
        return Score(0.0, str(exc))


def shown(value: Any, limit: int = 60) -> str:
    """A value as a reason quotes it: its repr, cut to `limit` characters."""
    text = repr(value).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def about(field: str | None) -> str:
    """The reason's prefix naming the field graded, if any."""
    return f"{field}: " if field else ""
