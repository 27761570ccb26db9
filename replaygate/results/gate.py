"""The run against a baseline: per-task differences, new and missing tasks, and the gate verdict.

Also what keeps a case out of any gate: a prompt that shows the case's own input (a leaked
few-shot example) makes it no test. `task_leaks` is the one detector both gates use.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from replaygate.core.errors import InputError
from replaygate.core.task import Task
from replaygate.results.baseline import FORMAT, Baseline, SuiteBaseline
from replaygate.results.outcome import TaskOutcome
from replaygate.results.stats import GateVerdict, paired_comparison, regression_verdict

DEFAULT_MAX_REGRESSION = 0.02
DEFAULT_ALPHA = 0.05
# A per-task difference smaller than this is rounding, not a change.
_NOISE = 5e-5


@dataclass(frozen=True)
class GateSettings:
    max_regression: float = DEFAULT_MAX_REGRESSION
    alpha: float = DEFAULT_ALPHA


def gate_settings(max_regression: float, alpha: float) -> GateSettings:
    """--max-regression and --alpha, checked alike by pytest and the shard merge; a bad value raises naming its option."""
    if not (math.isfinite(max_regression) and max_regression >= 0):
        raise InputError(f"--max-regression {max_regression:g}: must be a mean score drop of 0 or more; "
                         f"pass e.g. --max-regression {DEFAULT_MAX_REGRESSION}")
    if not 0 < alpha < 1:
        raise InputError(f"--alpha {alpha:g}: the significance level must lie strictly between 0 and 1; "
                         f"pass e.g. --alpha {DEFAULT_ALPHA}")
    return GateSettings(max_regression, alpha)


def check_given_baseline(path: Path, optional: bool) -> None:
    """`--baseline PATH` names a baseline file; a missing one is accepted only with --baseline-optional (a first PR)."""
    if path.is_dir():
        raise InputError(f"--baseline {path}: is a folder, not a baseline file; pass the baseline's JSON file")
    if not path.exists() and not optional:
        raise InputError(f"--baseline {path}: no such file; pass an existing baseline, or add --baseline-optional "
                         "when there may be none yet (the gate then passes with nothing to compare)")


@dataclass(frozen=True)
class BaselineDiff:
    """What a report says about the run against its baseline."""

    baseline: SuiteBaseline | None  # the suite's entry in the baseline
    note: str  # one line about the baseline itself: missing, older format, ...
    verdict: GateVerdict | None  # None without a baseline entry for the suite
    deltas: Mapping[str, float] = field(default_factory=dict)  # compared tasks: mean now - baseline
    new_tasks: tuple[str, ...] = ()  # in the run, not in the baseline: not in the paired test
    unscored_tasks: tuple[str, ...] = ()  # in both, but no repeat could run (a cassette miss, say)
    missing_tasks: tuple[str, ...] = ()  # in the baseline, not in this run
    contaminated_tasks: tuple[str, ...] = ()  # ran under a prompt that shows their input: not in the paired test
    setting_changes: tuple[str, ...] = ()
    new_suite: bool = False  # the baseline file exists but does not hold this suite

    @property
    def failed(self) -> bool:
        return self.verdict is not None and self.verdict.failed

    @property
    def regressions(self) -> list[str]:
        """Tasks that scored lower, the largest drop first."""
        return sorted((t for t, d in self.deltas.items() if d < -_NOISE), key=lambda t: (self.deltas[t], t))

    @property
    def improvements(self) -> list[str]:
        return sorted((t for t, d in self.deltas.items() if d > _NOISE), key=lambda t: (-self.deltas[t], t))

    def summary(self) -> str:
        return self.verdict.summary if self.verdict else f"gate not run: {self.note}"


def compare_to_baseline(
    outcomes: Mapping[str, TaskOutcome],
    baseline: Baseline | None,
    suite: str,
    run_settings: Mapping[str, object],
    gate: GateSettings = GateSettings(),
    missing_note: str = "",
) -> BaselineDiff:
    """The suite's outcomes against its own baseline entry; `run_settings` (the run's baseline meta) name what changed."""
    contaminated = contaminated_tasks(outcomes)
    if baseline is None:
        return BaselineDiff(None, missing_note or "no baseline to compare with", None, new_tasks=tuple(outcomes),
                            contaminated_tasks=contaminated)
    entry = baseline.suite(suite)
    if entry is None:
        return BaselineDiff(None, new_suite_note(suite, baseline.path, len(outcomes)), None,
                            new_tasks=tuple(outcomes), new_suite=True, contaminated_tasks=contaminated)
    now = {task: o.comparable_scores for task, o in outcomes.items()
           if task in entry.cases and task not in contaminated}
    base = {task: entry.cases[task].repeat_scores for task in now}
    comparison = paired_comparison(base, now)
    deltas = {
        task: sum(scores) / len(scores) - sum(base[task]) / len(base[task])
        for task, scores in sorted(now.items()) if scores
    }
    return BaselineDiff(
        baseline=entry,
        note=_describe(entry),
        verdict=regression_verdict(comparison, gate.max_regression, gate.alpha),
        deltas=deltas,
        new_tasks=tuple(sorted(set(outcomes) - set(entry.cases))),
        unscored_tasks=tuple(sorted(task for task, scores in now.items() if not scores)),
        missing_tasks=tuple(sorted(set(entry.cases) - set(outcomes))),
        setting_changes=tuple(_setting_changes(entry.meta, run_settings)),
        contaminated_tasks=contaminated,
    )


def _describe(entry: SuiteBaseline) -> str:
    meta = entry.meta
    parts = [f"{len(entry.cases)} tasks"]
    if meta.get("prompt_version"):
        parts.append(f"prompt version `{meta['prompt_version']}`")
    if meta.get("agent_model"):
        parts.append(f"agent model {meta['agent_model']}")
    if entry.format == 1:
        parts.append("older format 1: no run settings or per-grader scores; rewrite it with --update-baseline")
    elif entry.older_format:
        parts.append(f"older format {entry.format}: not keyed by suite; rewrite it with --update-baseline")
    return ", ".join(parts)


_SETTING_NAMES = {
    "agent_model": "agent model",
    "judge_model": "judge model",
    "prompt_version": "prompt version",
    "grader_weights": "grader weights",
    "repeats": "repeats",
    "threshold": "pass threshold",
}


def _setting_changes(old: Mapping[str, object], new: Mapping[str, object]) -> list[str]:
    changes = []
    for key, name in _SETTING_NAMES.items():
        if key in old and key in new and old[key] != new[key]:
            changes.append(f"{name}: {_show(old[key])} → {_show(new[key])}")
    return changes


def _show(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v:g}" if isinstance(v, (int, float)) else f"{k} {v}" for k, v in sorted(value.items()))
    return f"`{value}`" if isinstance(value, str) else str(value)


def older_format_note(baseline: Baseline | None) -> str:
    """One line for the terminal when the baseline file is of an older format; empty otherwise."""
    if baseline is None or not baseline.older_format:
        return ""
    return f"{baseline.path} is baseline format {baseline.format}; rewrite it as format {FORMAT} with pytest --update-baseline"


def new_suite_note(suite: str, path: Path, tasks: int) -> str:
    return (f"suite {suite} is new, not in {path}: its {tasks} task{'s are' if tasks != 1 else ' is'} new; "
            "the gate passes with nothing to compare (add it with pytest --update-baseline)")


def missing_baseline_note(path: Path) -> str:
    return f"no baseline at {path}; the gate passes with nothing to compare (write one with pytest --update-baseline)"


# --- contamination: a prompt that shows a task ------------------------------------------------

# Other text allowed between a task's values for them to count as one example of it: a
# one-line few-shot example or a short key-value block, not values scattered over a prompt.
LEAK_GAP = 120
# Values shorter than this in all say too little to recognize a task (`{"n": 3}`): never flagged.
MIN_EVIDENCE = 8
# An answer this long (characters and words) identifies its task on its own; a short label
# ("No Room", "billing") is shared by many tasks and shows up in general rules.
LONG_ANSWER_CHARS, LONG_ANSWER_WORDS = 24, 4


@dataclass(frozen=True)
class Leak:
    """A task the text shows: its input values together, with its answer (`answer`) or without."""

    task_id: str
    answer: bool

    def describe(self, split: str = "") -> str:
        task = f"{split} task {self.task_id}" if split else f"task {self.task_id}"
        return f"the input of {task} and its answer" if self.answer else f"the input of {task}"


def normalized_text(text: str) -> str:
    """Case and whitespace folded: how prompts and values are compared."""
    return " ".join(text.casefold().split())


def identifying_values(value: Any) -> tuple[str, ...]:
    """A value's leaves as written out (text folded, numbers as numbers, lists item by item); booleans, None and
    empty values are left out: "true" or "none" may be worded any way and say nothing of a task."""
    return tuple(dict.fromkeys(_leaves(value)))


def _leaves(value: Any) -> Iterator[str]:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, float):
        yield str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, int):
        yield str(value)
    else:
        text = normalized_text(str(value))
        if text:
            yield text


def _hits(text: str, value: str) -> list[tuple[int, int]]:
    # A whole token, not part of a longer one: "6" hits neither "16" nor "6:30", "R-1" not "R-101",
    # "03" not "2026-03-03".
    pattern = re.compile(r"(?<!\w)(?<!\w[-:/.])" + re.escape(value) + r"(?![-:/.]?\w)")
    return [(m.start(), m.end()) for m in pattern.finditer(text)]


def tightest_stretch(text: str, values: Sequence[str]) -> tuple[int, int] | None:
    """The shortest stretch of `text` holding each of `values` as a whole token, or None when one is absent."""
    hits: list[tuple[int, int, int]] = []
    for index, value in enumerate(values):
        found = _hits(text, value)
        if not found:
            return None
        hits += [(start, end, index) for start, end in found]
    hits.sort()
    best: tuple[int, int] | None = None
    counts = [0] * len(values)
    covered, left = 0, 0
    for right, (_, _, index) in enumerate(hits):
        covered += counts[index] == 0
        counts[index] += 1
        while covered == len(values):
            start = hits[left][0]
            end = max(e for _, e, _ in hits[left : right + 1])
            if best is None or end - start < best[1] - best[0]:
                best = (start, end)
            counts[hits[left][2]] -= 1
            covered -= counts[hits[left][2]] == 0
            left += 1
    return best


def _shown(text: str, values: Sequence[str]) -> bool:
    stretch = tightest_stretch(text, values)
    return stretch is not None and stretch[1] - stretch[0] - sum(map(len, values)) <= LEAK_GAP


def _long_answer(expected: Any) -> str:
    if not isinstance(expected, str):
        return ""
    text = normalized_text(expected)
    return text if len(text) >= LONG_ANSWER_CHARS and len(text.split()) >= LONG_ANSWER_WORDS else ""


def find_leak(text: str, task: Task) -> Leak | None:
    """Whether `text` shows `task`: every identifying input value within LEAK_GAP characters of other text of
    each other (its answer too, when it stands among them), or a long answer verbatim."""
    folded = normalized_text(text)
    values = identifying_values(task.input)
    answer = identifying_values(task.expected)
    long = _long_answer(task.expected)
    long_shown = bool(long) and _shown(folded, (long,))
    if values and sum(map(len, values)) >= MIN_EVIDENCE and _shown(folded, values):
        beside = bool(answer) and _shown(folded, values + tuple(a for a in answer if a not in values))
        return Leak(task.id, beside or long_shown)
    return Leak(task.id, True) if long_shown else None


def task_leaks(text: str, tasks: Iterable[Task]) -> list[Leak]:
    """The tasks `text` shows, in the tasks' order; pure, so the pytest report and the write-back gate agree."""
    return [leak for task in tasks if (leak := find_leak(text, task)) is not None]


def contaminated_tasks(outcomes: Mapping[str, TaskOutcome]) -> tuple[str, ...]:
    """Tasks whose cases ran under a prompt that shows their input: they are no test, and no gate counts them."""
    return tuple(sorted(task for task, o in outcomes.items() if any(r.contaminated for r in o.records)))
