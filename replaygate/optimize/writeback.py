"""The write-back gate: a candidate replaces the live prompt only if it beats it on held-out tasks, and shows none."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from replaygate.core.task import Task
from replaygate.results.gate import task_leaks
from replaygate.results.stats import PairedComparison, paired_comparison

# The splits a prompt must never show: a candidate that holds one of their tasks has seen its test.
GUARDED_SPLITS = ("validation", "holdout")


@dataclass(frozen=True)
class GateDecision:
    accepted: bool
    comparison: PairedComparison
    summary: str


def held_out_leaks(text: str, splits: Mapping[str, Sequence[Task]]) -> list[str]:
    """What `text` shows of validation and holdout tasks, one phrase per task ("the input of holdout task t7")."""
    return [leak.describe(name) for name in GUARDED_SPLITS for leak in task_leaks(text, splits.get(name, ()))]


def smallest_p(n: int) -> float:
    """The smallest p the gate's paired test can give over `n` holdout tasks: every task gains, none ties."""
    return paired_comparison({str(i): [0.0] for i in range(n)}, {str(i): [1.0] for i in range(n)}).p_gain


def holdout_too_small(n: int, alpha: float) -> str | None:
    """Why no candidate could pass the gate over `n` holdout tasks at `alpha` (None when one could)."""
    if n and smallest_p(n) < alpha:
        return None
    needed = next(k for k in range(1, 64) if smallest_p(k) < alpha)
    best = f"the smallest p over {n} is {smallest_p(n):.4f}" if n else "it is empty"
    return (f"the holdout split has {n} task{'s' * (n != 1)} and {best}, so no prompt can pass the write-back gate "
            f"at alpha {alpha:g}; it needs at least {needed}: add tasks, give tasks \"split\": \"holdout\" in the "
            "task file, or raise the holdout ratio in [tool.replaygate.optimize.splits]")


def write_back_decision(
    incumbent: Mapping[str, Sequence[float]],
    candidate: Mapping[str, Sequence[float]],
    min_gain: float,
    alpha: float,
    leaks: Sequence[str] = (),
) -> GateDecision:
    """Accept when the paired gain over holdout tasks is at least `min_gain` and significant at `alpha`, and the
    candidate shows no validation or holdout task (`leaks`, from `held_out_leaks`)."""
    cmp = paired_comparison(incumbent, candidate)
    ci = f"95% CI [{cmp.ci_low:+.3f}, {cmp.ci_high:+.3f}]"
    facts = (f"holdout {cmp.mean_base:.3f} -> {cmp.mean_new:.3f} ({cmp.diff:+.3f}, {ci}, p={cmp.p_gain:.4f}, n={cmp.n}, "
             f"min_gain {min_gain:g})")
    if leaks:
        more = f" (and {len(leaks) - 1} more)" if len(leaks) > 1 else ""
        return GateDecision(False, cmp, f"rejected: {facts}; the candidate holds {leaks[0]}{more}, "
                                        "so it has seen its test")
    if cmp.n == 0:
        return GateDecision(False, cmp, "rejected: no holdout tasks to compare on")
    if cmp.diff < min_gain:
        return GateDecision(False, cmp, f"rejected: {facts}; gain below the margin {min_gain:g}")
    if cmp.p_gain >= alpha:
        return GateDecision(False, cmp, f"rejected: {facts}; not significant at alpha {alpha:g}")
    return GateDecision(True, cmp, f"accepted: {facts}")
