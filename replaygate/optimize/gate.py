"""The write-back gate: a candidate replaces the live prompt only if it beats it on held-out tasks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from replaygate.results.stats import PairedComparison, paired_comparison


@dataclass(frozen=True)
class GateDecision:
    accepted: bool
    comparison: PairedComparison
    summary: str


def write_back_decision(
    incumbent: Mapping[str, Sequence[float]],
    candidate: Mapping[str, Sequence[float]],
    min_gain: float,
    alpha: float,
) -> GateDecision:
    """Accept when the paired gain over holdout tasks is at least `min_gain` and significant at `alpha`."""
    cmp = paired_comparison(incumbent, candidate)
    ci = f"95% CI [{cmp.ci_low:+.3f}, {cmp.ci_high:+.3f}]"
    facts = f"holdout {cmp.mean_base:.3f} -> {cmp.mean_new:.3f} ({cmp.diff:+.3f}, {ci}, p={cmp.p_gain:.4f}, n={cmp.n})"
    if cmp.n == 0:
        return GateDecision(False, cmp, "rejected: no holdout tasks to compare on")
    if cmp.diff < min_gain:
        return GateDecision(False, cmp, f"rejected: {facts}; gain below the margin {min_gain:g}")
    if cmp.p_gain >= alpha:
        return GateDecision(False, cmp, f"rejected: {facts}; not significant at alpha {alpha:g}")
    return GateDecision(True, cmp, f"accepted: {facts}")
