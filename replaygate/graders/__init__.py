"""Graders for any suite: matching, structure, numbers, tool calls, a rubric judge, and plain functions.

Each is a small frozen dataclass called as `grader(task, rollout) -> Score`, with a `name` used as its weight key.
"""

from replaygate.graders.answer import MISSING, Ungradable, read_answer, read_expected
from replaygate.graders.function import Function, grader
from replaygate.graders.judge import BoundJudge, Judge
from replaygate.graders.match import Contains, ExactMatch, Regex
from replaygate.graders.numeric import Numeric
from replaygate.graders.structure import ValidJSON
from replaygate.graders.tools import ToolCalled, ToolCalls

__all__ = [
    "MISSING",
    "BoundJudge",
    "Contains",
    "ExactMatch",
    "Function",
    "Judge",
    "Numeric",
    "Regex",
    "ToolCalled",
    "ToolCalls",
    "Ungradable",
    "ValidJSON",
    "grader",
    "read_answer",
    "read_expected",
]
