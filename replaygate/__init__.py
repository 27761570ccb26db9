"""replaygate: pytest-native evaluation and prompt optimization for LLM agents, replayed offline.

The public API. A suite author imports from here (and from `replaygate.graders` and
`replaygate.double`); every other module is the harness's own. Names load on first use,
so `import replaygate` stays cheap and pulls in neither the SDK nor pytest.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_PUBLIC = {
    # Declaring a suite
    "Suite": "replaygate.core.suite",
    "SuiteSetup": "replaygate.core.suite",
    "Prompt": "replaygate.core.prompt",
    "Task": "replaygate.core.task",
    # What a run produces and graders judge
    "Rollout": "replaygate.core.rollout",
    "Score": "replaygate.core.score",
    "Grader": "replaygate.core.score",
    # Property-based cases: metamorphic relations between an input's answer and its transform's
    "invariant": "replaygate.core.properties",
    "directional": "replaygate.core.properties",
    "Relation": "replaygate.core.properties",
    # A tool-calling loop over chat completions, for solvers that want one
    "Tool": "replaygate.llm.agent",
    "tool_loop": "replaygate.llm.agent",
    # Offline: a Python function as the model
    "FunctionModel": "replaygate.double",
    "ModelRequest": "replaygate.double",
    "Reply": "replaygate.double",
    "ToolCall": "replaygate.double",
    # Errors and outcomes a suite may raise or catch
    "InputError": "replaygate.core.errors",
    "read_input": "replaygate.core.errors",
    "CassetteMiss": "replaygate.cassettes.cassette",
    "CaseBelowThreshold": "replaygate.plugin.session",
    # Files written the harness's way: atomically
    "write_text_atomic": "replaygate.core.atomic",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'replaygate' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
