"""LLM mutation operators: a reflective rewrite from failure traces, and crossover of two parents.

Both are edit requests (a `<prompt>` block and a `## Critique`), so any editor model,
the offline simulator's included, answers them with a new prompt in a `<prompt>` block.
"""

from __future__ import annotations

from typing import Sequence

from replaygate.core.prompt import PromptTemplate
from replaygate.optimize.operators import Lesson, missing_instructions
from replaygate.optimize.optimizer_llm import OptimizerRequest
from replaygate.optimize.outcome import Outcome
from replaygate.optimize.trace import render_traces

REFLECT_FIELDS = ("prompt", "traces", "lessons", "placeholders", "max_chars")
CROSSOVER_FIELDS = ("prompt", "other", "differences", "placeholders", "max_chars")
TRACE_LIMIT = 4  # traces per reflection: enough to see a pattern, few enough to stay cheap


def _placeholders(required: Sequence[str]) -> str:
    return ", ".join("{" + name + "}" for name in required)


def _numbered(lines: Sequence[str]) -> str:
    return "\n".join(f"{index}. {line}" for index, line in enumerate(lines, 1))


def reflect_request(template: PromptTemplate, text: str, failures: Sequence[Outcome], lessons: Sequence[Lesson],
                    metric: str, required: Sequence[str], max_chars: int, seed: int) -> OptimizerRequest | None:
    """A rewrite of `text` from its failing train outcomes; None when there is nothing to learn from."""
    if not failures:
        return None
    traces = render_traces([(o.task_id, o.metric(metric), o.trace) for o in failures[:TRACE_LIMIT]])
    listed = [f"{lesson.text} ({lesson.tasks} failing task{'s' if lesson.tasks != 1 else ''})" for lesson in lessons]
    values = {
        "prompt": text,
        "traces": traces,
        "lessons": _numbered(listed) if listed else "(the graders named no rule; read the traces)",
        "placeholders": _placeholders(required),
        "max_chars": str(max_chars),
    }
    return OptimizerRequest(template, values, seed=seed)


def crossover_request(template: PromptTemplate, text: str, other: str, required: Sequence[str], max_chars: int,
                      seed: int) -> OptimizerRequest | None:
    """`text` with what `other` states and it lacks merged in; None when `other` adds nothing."""
    differences = missing_instructions(other, text)
    if not differences:
        return None
    values = {
        "prompt": text,
        "other": other,
        "differences": _numbered(differences),
        "placeholders": _placeholders(required),
        "max_chars": str(max_chars),
    }
    return OptimizerRequest(template, values, seed=seed)
