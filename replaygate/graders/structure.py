"""A grader for the answer's structure: JSON that parses and, optionally, validates against a pydantic model."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Mapping

import pydantic

from replaygate.core.rollout import Rollout
from replaygate.core.score import Score
from replaygate.core.task import Task
from replaygate.graders.answer import Ungradable, about, check_field, guarded, read_answer, shown

__all__ = ["ValidJSON", "first_error"]


def _no_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity; JSON itself has no such numbers.
    raise ValueError(f"{name} is not JSON")


def _parsed(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            raise Ungradable(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        except (ValueError, RecursionError) as exc:
            raise Ungradable(f"not valid JSON: {str(exc) or type(exc).__name__}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise Ungradable(f"{value!r} is not a JSON number")
    if isinstance(value, (pydantic.BaseModel, Mapping, list, tuple, bool, int, float)):
        return value
    raise Ungradable(f"answer is {type(value).__name__}, not JSON: {shown(value)}")


def first_error(exc: pydantic.ValidationError) -> str:
    """The first validation error as "location: message"."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


@dataclass(frozen=True)
class ValidJSON:
    """1 when the answer is JSON (text that parses, or data already parsed) that `model` accepts, if given."""

    model: type[pydantic.BaseModel] | None = None
    field: str | None = None

    def __post_init__(self) -> None:
        check_field(self.field)
        if self.model is not None and not (isinstance(self.model, type) and issubclass(self.model, pydantic.BaseModel)):
            raise ValueError(f"ValidJSON model must be a pydantic BaseModel class, not {self.model!r}")

    @property
    def name(self) -> str:
        return f"valid_json:{self.field}" if self.field else "valid_json"

    def __call__(self, task: Task, rollout: Rollout) -> Score:
        return guarded(rollout, lambda: self._score(rollout))

    def _score(self, rollout: Rollout) -> Score:
        prefix = about(self.field)
        answer = read_answer(rollout, self.field)
        try:
            data = _parsed(answer)
        except Ungradable as exc:
            raise Ungradable(prefix + str(exc)) from None
        if self.model is None:
            return Score(1.0, f"{prefix}valid JSON")
        name = self.model.__name__
        if isinstance(data, self.model):
            return Score(1.0, f"{prefix}valid {name}")
        if isinstance(data, pydantic.BaseModel):
            data = data.model_dump(mode="json")
        try:
            self.model.model_validate(data)
        except pydantic.ValidationError as exc:
            return Score(0.0, f"{prefix}not a valid {name}: {first_error(exc)}")
        return Score(1.0, f"{prefix}valid {name}")
