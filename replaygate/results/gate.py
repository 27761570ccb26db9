"""The run against a baseline: per-task differences, new and missing tasks, and the gate verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

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
    if baseline is None:
        return BaselineDiff(None, missing_note or "no baseline to compare with", None, new_tasks=tuple(outcomes))
    entry = baseline.suite(suite)
    if entry is None:
        return BaselineDiff(None, new_suite_note(suite, baseline.path, len(outcomes)), None,
                            new_tasks=tuple(outcomes), new_suite=True)
    now = {task: o.comparable_scores for task, o in outcomes.items() if task in entry.cases}
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
