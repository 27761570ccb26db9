"""Graders over the tool calls the model asked for: which tools, how often, with which arguments."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from replaygate.core.rollout import Rollout, ToolCall
from replaygate.core.score import Score
from replaygate.core.task import Task
from replaygate.graders.answer import MISSING, guarded, shown
from replaygate.graders.match import same

__all__ = ["ToolCalled", "ToolCalls", "includes"]


def includes(actual: Any, wanted: Any) -> bool:
    """`wanted` is a subset of `actual`: every key it names is there with a matching value, at any depth."""
    if isinstance(wanted, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and includes(actual[key], value) for key, value in wanted.items()
        )
    return same(actual, wanted)


def _arguments(call: ToolCall) -> Any:
    try:
        return json.loads(call.arguments)
    except (TypeError, ValueError, RecursionError):
        return MISSING  # unreadable arguments match no expectation


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _called(calls: Sequence[ToolCall]) -> str:
    names = list(dict.fromkeys(call.name for call in calls))
    return f"called: {', '.join(names)}" if names else "no tool calls"


@dataclass(frozen=True)
class ToolCalled:
    """1 when `tool` was called (exactly `times` times, if given), one call having `arguments` as a subset."""

    tool: str
    arguments: Mapping[str, Any] | None = None
    times: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.tool, str) or not self.tool:
            raise ValueError(f"ToolCalled tool must be a tool name, not {self.tool!r}")
        if self.times is not None and (not isinstance(self.times, int) or self.times < 0):
            raise ValueError(f"ToolCalled times must be an int >= 0, not {self.times!r}")
        if self.times == 0 and self.arguments is not None:
            raise ValueError("ToolCalled with times=0 cannot also require arguments; drop one of them")

    @property
    def name(self) -> str:
        return f"tool_called:{self.tool}"

    def __call__(self, task: Task, rollout: Rollout) -> Score:
        return guarded(rollout, lambda: self._score(rollout))

    def _score(self, rollout: Rollout) -> Score:
        calls = [call for call in rollout.tool_calls if call.name == self.tool]
        if self.times is not None and len(calls) != self.times:
            return Score(0.0, f"called {self.tool} {_times(len(calls))}, expected {_times(self.times)}")
        if not calls and self.times is None:
            return Score(0.0, f"never called {self.tool} ({_called(rollout.tool_calls)})")
        if self.arguments is None:
            return Score(1.0, f"called {self.tool} {_times(len(calls))}" if calls else f"did not call {self.tool}")
        parsed = [_arguments(call) for call in calls]
        if any(includes(args, self.arguments) for args in parsed):
            return Score(1.0, f"called {self.tool} with {shown(dict(self.arguments))}")
        first = calls[0].arguments if parsed[0] is MISSING else parsed[0]
        return Score(0.0, f"no {self.tool} call had {shown(dict(self.arguments))}; got {shown(first)}")


@dataclass(frozen=True)
class ToolCalls:
    """1 when the number of tool calls is within [min, max] and every tool called is `allowed` (if given)."""

    min: int = 0
    max: int | None = None
    allowed: Sequence[str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.min, int) or self.min < 0:
            raise ValueError(f"ToolCalls min must be an int >= 0, not {self.min!r}")
        if self.max is not None and (not isinstance(self.max, int) or self.max < self.min):
            raise ValueError(f"ToolCalls max must be an int >= min ({self.min}), not {self.max!r}")
        if self.allowed is not None:
            if isinstance(self.allowed, str):
                raise ValueError(f"ToolCalls allowed must be a list of tool names, not the string {self.allowed!r}")
            # A tuple keeps the grader immutable and hashable whatever sequence was passed.
            object.__setattr__(self, "allowed", tuple(self.allowed))

    @property
    def name(self) -> str:
        return "tool_calls"

    def __call__(self, task: Task, rollout: Rollout) -> Score:
        return guarded(rollout, lambda: self._score(rollout))

    def _score(self, rollout: Rollout) -> Score:
        count = len(rollout.tool_calls)
        made = f"made {count} tool call{'' if count == 1 else 's'}"
        if count < self.min:
            return Score(0.0, f"{made}, expected at least {self.min}")
        if self.max is not None and count > self.max:
            return Score(0.0, f"{made}, at most {self.max} allowed")
        if self.allowed is not None:
            others = list(dict.fromkeys(call.name for call in rollout.tool_calls if call.name not in self.allowed))
            if others:
                allowed = ", ".join(self.allowed) or "none"
                return Score(0.0, f"called {', '.join(others)}, not among the allowed tools ({allowed})")
        return Score(1.0, made)
