"""Paired comparison of two runs over tasks, and the regression gate built on it.

Pure functions, no global random state: the same scores always give the same numbers.
"""

from __future__ import annotations

import functools
import math
import random
from bisect import bisect_right
from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping, Sequence

# Two sign flips whose sums differ by at most this many ulps of the largest score, per task, tie:
# about 1e-12 of the scores' magnitude, far above the few ulps that averaging and subtracting
# add, far below any real change in a score.
_NOISE_ULPS = 2**12
# Up to this many tasks every sign flip is enumerated; above it, a seeded sample is drawn.
_EXACT_UP_TO = 16
_SAMPLED_FLIPS = 10_000
_SEED = 20261121
_CHUNK = 8  # tasks per subset-sum table in the sampled test


@dataclass(frozen=True)
class PairedComparison:
    """New against base over the tasks both ran, each task's repeats averaged first."""

    n: int
    mean_base: float
    mean_new: float
    diff: float  # mean_new - mean_base
    ci_low: float
    ci_high: float
    p_drop: float  # one-sided p-value that new scores lower than base
    p_gain: float  # one-sided p-value that new scores higher than base
    confidence: float = 0.95
    method: str = "exact sign-flip"

    def to_dict(self) -> dict[str, object]:
        def bound(x: float) -> float | None:
            return None if math.isinf(x) else round(x, 6)  # JSON has no infinity: no bound is null

        return {
            "n": self.n, "mean_base": round(self.mean_base, 6), "mean_new": round(self.mean_new, 6),
            "diff": round(self.diff, 6), "ci_low": bound(self.ci_low), "ci_high": bound(self.ci_high),
            "p_drop": round(self.p_drop, 6), "p_gain": round(self.p_gain, 6),
            "confidence": self.confidence, "method": self.method,
        }


@dataclass(frozen=True)
class GateVerdict:
    failed: bool
    summary: str  # one line: verdict, difference, CI and p-value
    comparison: PairedComparison
    max_regression: float
    alpha: float


def _mean(values: Sequence[float]) -> float:
    """The exact mean, rounded once: equal values give that value; order and repetition change nothing."""
    if not all(map(math.isfinite, values)):
        return math.fsum(values) / len(values)  # nan or inf: nothing exact to compute, let it show
    return float(sum(map(Fraction, values), Fraction(0)) / len(values))


def paired_comparison(
    base: Mapping[str, Sequence[float]], new: Mapping[str, Sequence[float]], confidence: float = 0.95
) -> PairedComparison:
    """Compare per-task mean scores over the tasks in both runs (clustered by task): a sign-flip test of
    the mean difference, sums within rounding noise tying, and Student's t interval of it."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence {confidence} must be strictly between 0 and 1")
    tasks = sorted(task for task in base.keys() & new.keys() if len(base[task]) and len(new[task]))
    n = len(tasks)
    if n == 0:
        return PairedComparison(0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, confidence, "no tasks in common")
    base_means = [_mean(base[task]) for task in tasks]
    new_means = [_mean(new[task]) for task in tasks]
    mean_base, mean_new = _mean(base_means), _mean(new_means)
    diffs = [b - a for a, b in zip(base_means, new_means)]
    diff = _mean(diffs)
    # The one place noise is defined: a tolerance relative to the scores' magnitude (ulp, not a fixed
    # resolution, so subnormal scores get one too). Below, differences and it are exact integers.
    scale = max(abs(v) for task in tasks for v in (*base[task], *new[task]))
    *ints, tolerance = _on_grid([*map(Fraction, diffs), n * _NOISE_ULPS * Fraction(math.ulp(scale))])
    if 2 * sum(map(abs, ints)) <= tolerance:
        # Even flipping every sign moves the sum by no more than noise: nothing to test, no spread to
        # measure. The interval is the point diff, one task or many.
        return PairedComparison(n, mean_base, mean_new, diff, diff, diff, 1.0, 1.0, confidence, "exact sign-flip")
    # One task with a real difference: the t interval is undefined (no degrees of freedom) and is
    # reported unbounded, infinite ends that JSON writes as null; its p-values are 0.5 and 1.
    low, high = _t_interval(diffs, confidence)
    p_drop, p_gain, method = _sign_flip(ints, tolerance)
    return PairedComparison(n, mean_base, mean_new, diff, low, high, p_drop, p_gain, confidence, method)


def regression_verdict(comparison: PairedComparison, max_regression: float = 0.02, alpha: float = 0.05) -> GateVerdict:
    """Fail only on a drop that is both material (more than `max_regression`) and significant (p_drop < alpha)."""
    c = comparison
    material = -c.diff > max_regression
    significant = c.p_drop < alpha
    failed = material and significant
    if c.n == 0:
        return GateVerdict(False, "gate passed: no task in common with the baseline, nothing to compare",
                           c, max_regression, alpha)
    if failed:
        word = "FAILED: significant regression"
    elif material:
        word = "passed: drop within noise"
    elif c.diff > max_regression and c.p_gain < alpha:
        word = "passed: significant improvement"
    else:
        word = "passed: no material drop"
    summary = (
        f"gate {word}; mean score {c.mean_new:.3f} vs baseline {c.mean_base:.3f}, "
        f"Δ {c.diff:+.3f} ({c.confidence:.0%} CI {_bound(c.ci_low)} to {_bound(c.ci_high)}), "
        f"p(drop) {format_p(c.p_drop)}, over {c.n} task{'s' if c.n != 1 else ''} "
        f"(fails on a drop > {max_regression:g} with p < {alpha:g})"
    )
    return GateVerdict(failed, summary, c, max_regression, alpha)


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Student's t interval of the mean; (0, 0) for no values, unbounded (undefined) for one value."""
    if not values:
        return 0.0, 0.0
    return _t_interval(values, confidence)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank q-th percentile (0 < q <= 100) of at least one value."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def format_p(p: float) -> str:
    return "< 0.0001" if p < 0.0001 else f"{p:.4f}"


def _bound(x: float) -> str:
    return "unbounded" if math.isinf(x) else f"{x:+.3f}"


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chance that at least one of k repeats drawn without replacement from n, c of them passing, passes."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


# --- the sign-flip test --------------------------------------------------------------------------


def _sign_flip(ints: Sequence[int], tolerance: int) -> tuple[float, float, str]:
    """One-sided p-values of the summed difference against every (or a seeded sample of) sign flip;
    a flip whose sum is within `tolerance` of the observed one ties, counting on both sides."""
    observed = sum(ints)
    sizes = [abs(v) for v in ints]
    total = sum(sizes)
    # A flip's sum is 2*S - total, S the sum of the sizes kept positive.
    if len(sizes) <= _EXACT_UP_TO:
        flips = 2 ** len(sizes)
        low = _subsets_summing_to_at_most(sizes, (total + observed + tolerance) // 2)
        high = flips - _subsets_summing_to_at_most(sizes, (total + observed - tolerance - 1) // 2)
        return low / flips, high / flips, "exact sign-flip"
    chunks = [sizes[i:i + _CHUNK] for i in range(0, len(sizes), _CHUNK)]
    tables = [_subset_sums(chunk) for chunk in chunks]
    rng = random.Random(_SEED)
    low = high = 1  # the observed signs count as one draw, so p is never 0
    draws = 1
    for _ in range(_SAMPLED_FLIPS // 2):
        bits = rng.getrandbits(len(sizes))
        kept = sum(table[(bits >> (_CHUNK * i)) & ((1 << len(chunk)) - 1)]
                   for i, (table, chunk) in enumerate(zip(tables, chunks)))
        # Each draw and its mirror image: the sampled null stays exactly symmetric.
        for flipped in (2 * kept - total, total - 2 * kept):
            low += flipped <= observed + tolerance
            high += flipped >= observed - tolerance
        draws += 2
    return low / draws, high / draws, f"sign-flip, {_SAMPLED_FLIPS} seeded draws"


def _on_grid(values: Sequence[Fraction]) -> list[int]:
    """Dyadic rationals (every float is one) as integers over their largest denominator, so sums are exact."""
    denominator = max(v.denominator for v in values)
    return [v.numerator * (denominator // v.denominator) for v in values]


def _subsets_summing_to_at_most(sizes: Sequence[int], bound: int) -> int:
    """How many subsets of `sizes` sum to `bound` or less, meeting in the middle: 2 * 2**(n/2) sums, not 2**n."""
    half = len(sizes) // 2
    right = sorted(_subset_sums(sizes[half:]))
    return sum(bisect_right(right, bound - s) for s in _subset_sums(sizes[:half]))


def _subset_sums(sizes: Sequence[int]) -> list[int]:
    """Every subset's sum, indexed by the subset's bit mask (bit i = sizes[i] included)."""
    sums = [0]
    for size in sizes:
        sums += [s + size for s in sums]
    return sums


# --- Student's t interval ------------------------------------------------------------------------


def _t_interval(diffs: Sequence[float], confidence: float) -> tuple[float, float]:
    n = len(diffs)
    if n < 2:
        return -math.inf, math.inf  # one value says nothing about how much values vary
    mean = _mean(diffs)
    # Deviations measured in units of the largest one: squares of tiny deviations would underflow to 0.
    unit = max(abs(d - mean) for d in diffs)
    if unit == 0.0:
        return mean, mean  # every value is the same: no spread to estimate from
    spread = math.fsum(((d - mean) / unit) ** 2 for d in diffs)
    half = t_quantile(0.5 + confidence / 2, n - 1) * unit * math.sqrt(spread / (n - 1) / n)
    return mean - half, mean + half


@functools.lru_cache(maxsize=1024)  # a handful of (p, df) pairs recur in every report and gate
def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t with df degrees of freedom, by bisection on its CDF."""
    if not 0.0 < p < 1.0 or df < 1:
        raise ValueError(f"t quantile needs 0 < p < 1 and df >= 1, got p={p} df={df}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        high *= 2.0
    for _ in range(200):
        mid = (low + high) / 2
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2


def t_cdf(t: float, df: int) -> float:
    tail = 0.5 * _incomplete_beta(df / 2, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), by its continued fraction."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x > (a + 1) / (a + b + 2):
        # The fraction converges fast only below this point; use the symmetry I_x(a,b) = 1 - I_{1-x}(b,a).
        return 1.0 - _incomplete_beta(b, a, 1.0 - x)
    return math.exp(log_front) * _beta_fraction(a, b, x) / a


def _beta_fraction(a: float, b: float, x: float) -> float:
    """Lentz's evaluation of the continued fraction for I_x(a, b)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    value = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            value *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return value
