"""LLM mutation operators: a reflective rewrite from failure traces, and crossover of two parents.

Both are edit requests (a `<prompt>` block and a `## Critique`), so any editor model,
the offline simulator's included, answers them with a new prompt in a `<prompt>` block.
"""

from __future__ import annotations

from typing import Sequence

from replaygate.core.prompt import PromptTemplate
from replaygate.optimize.operators import Lesson, missing_instructions
from replaygate.optimize.optimizer_llm import OptimizerRequest
from replaygate.optimize.rollout_outcome import Outcome
from replaygate.optimize.critic_traces import render_traces

REFLECT_FIELDS = ("prompt", "traces", "lessons", "placeholders", "max_chars")
CROSSOVER_FIELDS = ("prompt", "other", "differences", "placeholders", "max_chars")
TRACE_LIMIT = 4  # traces per reflection: enough to see a pattern, few enough to stay cheap
CRITIC_TRACE_LIMIT = 6  # the critic compares traces with each other: a few more show more of the pattern


def _placeholders(required: Sequence[str]) -> str:
    return ", ".join("{" + name + "}" for name in required)


def _numbered(lines: Sequence[str]) -> str:
    return "\n".join(f"{index}. {line}" for index, line in enumerate(lines, 1))


def with_lessons(reading: str, lessons: Sequence[Lesson]) -> str:
    """A critique for an editor: a critic's `reading` of the traces first (it weighs traces against each other,
    e.g. which preference wins a tie), then the rules the graders' own feedback says the prompt lacked."""
    listed = [f"{lesson.text} ({lesson.tasks} failing task{'s' if lesson.tasks != 1 else ''})" for lesson in lessons]
    said = (f"Rules the graders say the prompt should have stated, most widespread first:\n\n{_numbered(listed)}"
            if listed else "The graders named no rule; read the traces.")
    if not reading.strip():
        return said
    return f"What a reviewer read in these traces:\n\n{reading.strip()}\n\n{said}" if listed else reading.strip()


def critique_request(template: PromptTemplate, text: str, failures: Sequence[Outcome], metric: str,
                     max_issues: int, seed: int) -> OptimizerRequest | None:
    """A critic's reading of `text`'s failing train outcomes (the first half of a reflection); None without failures."""
    if not failures:
        return None
    traces = render_traces([(o.task_id, o.metric(metric), o.trace) for o in failures[:CRITIC_TRACE_LIMIT]])
    return OptimizerRequest(template, {"prompt": text, "traces": traces, "max_issues": str(max_issues)}, seed=seed)


def reflect_request(template: PromptTemplate, text: str, failures: Sequence[Outcome], lessons: Sequence[Lesson],
                    metric: str, required: Sequence[str], max_chars: int, seed: int,
                    reading: str = "") -> OptimizerRequest | None:
    """A rewrite of `text` from its failing train outcomes, the graders' lessons and a critic's `reading` of them;
    None when there is nothing to learn from."""
    if not failures:
        return None
    traces = render_traces([(o.task_id, o.metric(metric), o.trace) for o in failures[:TRACE_LIMIT]])
    values = {
        "prompt": text,
        "traces": traces,
        "lessons": with_lessons(reading, lessons),
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
