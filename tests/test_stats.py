"""The paired comparison and the regression gate, stated as laws over generated runs."""

from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from replaygate.results.stats import (
    PairedComparison,
    pass_at_k,
    paired_comparison,
    regression_verdict,
    t_cdf,
    t_quantile,
)

score = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
repeats = st.lists(score, min_size=1, max_size=3)
task_ids = st.text(alphabet="abcdefgh-0123456789", min_size=1, max_size=6)
runs = st.dictionaries(task_ids, repeats, max_size=24)


@st.composite
def paired_runs(draw, min_tasks: int = 0, max_tasks: int = 24, scores=repeats):
    """Two runs over the same tasks, each with its own repeats."""
    ids = draw(st.lists(task_ids, min_size=min_tasks, max_size=max_tasks, unique=True))
    base = {task: draw(scores) for task in ids}
    new = {task: draw(scores) for task in ids}
    return base, new


def same(a: PairedComparison, b: PairedComparison) -> bool:
    return all(math.isclose(x, y, abs_tol=1e-9) for x, y in zip(numbers(a), numbers(b))) and a.n == b.n


def numbers(c: PairedComparison) -> tuple[float, ...]:
    return (c.mean_base, c.mean_new, c.diff, c.ci_low, c.ci_high, c.p_drop, c.p_gain)


def exact_mean(values) -> Fraction:
    return sum(map(Fraction, values), Fraction(0)) / len(values)


def nudged(value: float, ulps: int) -> float:
    """`value` moved by `ulps` units in the last place, kept within [0, 1]."""
    for _ in range(abs(ulps)):
        value = math.nextafter(value, math.copysign(math.inf, ulps))
    return min(1.0, max(0.0, value))


def is_point(c: PairedComparison) -> bool:
    """The interval is finite and only rounding wide, around the difference."""
    return math.isfinite(c.ci_low) and math.isfinite(c.ci_high) and c.ci_high - c.ci_low <= 1e-12 and (
        c.ci_low - 1e-12 <= c.diff <= c.ci_high + 1e-12)


# --- laws of the comparison ----------------------------------------------------------------------


@given(runs)
def test_a_run_identical_to_its_baseline_never_fails(run):
    comparison = paired_comparison(run, run)
    assert math.isclose(comparison.diff, 0.0, abs_tol=1e-15)
    assert math.isclose(comparison.ci_low, 0.0, abs_tol=1e-15) and math.isclose(comparison.ci_high, 0.0, abs_tol=1e-15)
    assert comparison.p_drop == comparison.p_gain == 1.0
    assert not regression_verdict(comparison).failed


@given(paired_runs(), st.floats(0.0, 0.5), st.floats(0.001, 1.0))
def test_a_gate_never_fails_on_a_difference_of_zero(pair, max_regression, alpha):
    base, _ = pair
    # Same per-task means, repeats in another order and at another count: the difference is zero.
    new = {task: list(reversed(values)) * 2 for task, values in base.items()}
    comparison = paired_comparison(base, new)
    assert math.isclose(comparison.diff, 0.0, abs_tol=1e-12)
    assert not regression_verdict(comparison, max_regression, alpha).failed


@given(paired_runs())
def test_swapping_base_and_new_flips_the_sign_of_the_difference(pair):
    base, new = pair
    forward, backward = paired_comparison(base, new), paired_comparison(new, base)
    assert math.isclose(forward.diff, -backward.diff, abs_tol=1e-12)
    assert math.isclose(forward.ci_low, -backward.ci_high, abs_tol=1e-9)
    assert math.isclose(forward.ci_high, -backward.ci_low, abs_tol=1e-9)
    assert forward.p_drop == backward.p_gain and forward.p_gain == backward.p_drop


@given(paired_runs(), st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99]))
def test_the_interval_contains_the_mean_difference(pair, confidence):
    comparison = paired_comparison(*pair, confidence=confidence)
    assert comparison.ci_low <= comparison.diff + 1e-12
    assert comparison.diff - 1e-12 <= comparison.ci_high
    assert math.isclose(comparison.diff, comparison.mean_new - comparison.mean_base, abs_tol=1e-9)


@given(paired_runs(min_tasks=2))
def test_a_higher_confidence_gives_a_wider_interval(pair):
    narrow, wide = paired_comparison(*pair, confidence=0.8), paired_comparison(*pair, confidence=0.99)
    assert wide.ci_low <= narrow.ci_low + 1e-12 and narrow.ci_high <= wide.ci_high + 1e-12


@given(paired_runs())
def test_p_values_are_probabilities_that_cover_the_observed_difference(pair):
    comparison = paired_comparison(*pair)
    assert 0.0 < comparison.p_drop <= 1.0 and 0.0 < comparison.p_gain <= 1.0
    # The observed signs count on both sides.
    assert comparison.p_drop + comparison.p_gain >= 1.0


@given(paired_runs(), runs, runs)
def test_only_tasks_in_both_runs_count(pair, only_base, only_new):
    base, new = pair
    extra_base = {f"b:{k}": v for k, v in only_base.items()}
    extra_new = {f"n:{k}": v for k, v in only_new.items()}
    assert same(paired_comparison(base, new), paired_comparison({**base, **extra_base}, {**new, **extra_new}))


@given(paired_runs(), st.integers(2, 4))
@example(pair=({"0": [0.4803829510789551]}, {"0": [0.4803829510789551]}), times=3)
def test_clustered_by_task_repeating_every_score_changes_nothing(pair, times):
    base, new = pair
    repeated = {task: values * times for task, values in new.items()}
    assert same(paired_comparison(base, new), paired_comparison(base, repeated))


@given(paired_runs(), st.randoms(use_true_random=False))
@settings(max_examples=50)
def test_deterministic_whatever_the_order_of_tasks(pair, rng):
    base, new = pair
    items = list(new.items())
    rng.shuffle(items)
    assert paired_comparison(base, new) == paired_comparison(base, dict(items))


@given(paired_runs(min_tasks=5, max_tasks=30), st.floats(0.3, 1.0))
@settings(max_examples=50)
def test_a_large_drop_on_every_task_fails_the_gate(pair, drop):
    base, _ = pair
    base = {task: [max(v, drop) for v in values] for task, values in base.items()}
    new = {task: [v - drop for v in values] for task, values in base.items()}
    verdict = regression_verdict(paired_comparison(base, new))
    assert verdict.failed
    assert verdict.summary.startswith("gate FAILED") and "\n" not in verdict.summary


@given(paired_runs(), st.floats(0.0, 0.3), st.floats(0.001, 0.5))
def test_the_gate_fails_exactly_on_a_material_and_significant_drop(pair, max_regression, alpha):
    comparison = paired_comparison(*pair)
    verdict = regression_verdict(comparison, max_regression, alpha)
    assert verdict.failed == (-comparison.diff > max_regression and comparison.p_drop < alpha)


@given(paired_runs(max_tasks=8))
@example(pair=({"0": [0.0, 5.960464477539063e-08]}, {"0": [0.0]}))
def test_exact_p_values_match_a_brute_force_enumeration(pair):
    base, new = pair
    comparison = paired_comparison(base, new)
    assume(comparison.n > 0)
    n = comparison.n
    # Per task, sums within 16 ulps of the largest score are surely ties, sums over 2**22 ulps (~1e-9) apart surely not.
    ulp = Fraction(math.ulp(max(abs(v) for values in (*base.values(), *new.values()) for v in values)))
    # Exact per-task mean differences (the comparison's own carry a few ulps of rounding), as integers
    # over one denominator so that the 2**n sums below are exact and quick.
    exact = [exact_mean(new[t]) - exact_mean(base[t]) for t in sorted(base)] + [16 * n * ulp, 2**22 * n * ulp]
    denominator = math.lcm(*(x.denominator for x in exact))
    *diffs, tied, apart = [int(x * denominator) for x in exact]
    observed = sum(diffs)
    flips = [sum(s * d for s, d in zip(signs, diffs)) for signs in itertools.product((1, -1), repeat=n)]

    def share(count: int) -> float:
        return count / len(flips)

    assert share(sum(f <= observed + tied for f in flips)) <= comparison.p_drop <= share(sum(f <= observed + apart for f in flips))
    assert share(sum(f >= observed - tied for f in flips)) <= comparison.p_gain <= share(sum(f >= observed - apart for f in flips))


# --- laws at the edges: rounding noise, one task, no spread, many repeats, scale ------------------


@given(paired_runs(), st.data(), st.floats(0.0, 0.5), st.floats(0.001, 1.0))
def test_differences_within_rounding_noise_are_ties(pair, data, max_regression, alpha):
    base, _ = pair
    assume(base)
    new = {task: [nudged(v, data.draw(st.integers(-8, 8))) for v in values] for task, values in base.items()}
    comparison = paired_comparison(base, new)
    assert comparison.p_drop == comparison.p_gain == 1.0
    assert math.isclose(comparison.diff, 0.0, abs_tol=1e-15) and is_point(comparison)
    assert not regression_verdict(comparison, max_regression, alpha).failed


@given(st.dictionaries(task_ids, score, min_size=1, max_size=24), st.integers(1, 300))
@example(scores={"0": 0.4803829510789551}, times=3)
def test_many_repeats_of_one_score_average_to_that_score(scores, times):
    base = {task: [x] for task, x in scores.items()}
    comparison = paired_comparison(base, {task: [x] * times for task, x in scores.items()})
    expected = math.fsum(scores.values()) / len(scores)
    assert math.isclose(comparison.mean_base, expected, rel_tol=1e-15, abs_tol=1e-300)
    assert math.isclose(comparison.mean_new, comparison.mean_base, rel_tol=1e-15, abs_tol=1e-300)
    assert comparison.p_drop == comparison.p_gain == 1.0 and is_point(comparison)


@given(paired_runs(min_tasks=1, max_tasks=1), st.sampled_from([0.5, 0.95, 0.99]), st.floats(0.0, 0.5), st.floats(0.001, 0.5))
def test_one_task_gives_a_point_for_noise_and_an_explicitly_unbounded_interval_otherwise(pair, confidence, max_regression, alpha):
    comparison = paired_comparison(*pair, confidence=confidence)
    if comparison.p_drop == comparison.p_gain == 1.0:  # the one difference is noise
        assert is_point(comparison)
    else:
        assert (comparison.ci_low, comparison.ci_high) == (-math.inf, math.inf)
        assert sorted((comparison.p_drop, comparison.p_gain)) == [0.5, 1.0]
        assert comparison.to_dict()["ci_low"] is None and comparison.to_dict()["ci_high"] is None
    # One task is never evidence of a regression at any usual alpha.
    assert not regression_verdict(comparison, max_regression, alpha).failed


@given(paired_runs(), st.sampled_from([0.5, 0.95, 0.99]))
def test_every_number_is_defined_and_the_record_is_plain_json(pair, confidence):
    comparison = paired_comparison(*pair, confidence=confidence)
    assert not any(math.isnan(x) for x in numbers(comparison))
    assert math.isfinite(comparison.diff) and math.isfinite(comparison.mean_base) and math.isfinite(comparison.mean_new)
    json.dumps(comparison.to_dict(), allow_nan=False)
    assert "\n" not in regression_verdict(comparison).summary


@given(st.lists(score, min_size=2, max_size=24), st.floats(-1.0, 1.0))
def test_every_task_moving_by_the_same_amount_gives_a_finite_point_interval(scores, shift):
    base = {f"t{i}": [x] for i, x in enumerate(scores)}
    new = {f"t{i}": [x + shift] for i, x in enumerate(scores)}
    comparison = paired_comparison(base, new)
    assert is_point(comparison)
    assert math.isclose(comparison.diff, shift, abs_tol=1e-12)


# Scores that stay normal floats when scaled: subnormals round differently at another scale.
normal_repeats = st.lists(st.just(0.0) | st.floats(2.0**-500, 1.0), min_size=1, max_size=3)


@given(paired_runs(scores=normal_repeats), st.integers(-20, 20))
def test_scaling_every_score_by_a_power_of_two_changes_no_p_value(pair, exponent):
    base, new = pair

    def scaled(run):
        return {task: [math.ldexp(v, exponent) for v in values] for task, values in run.items()}

    plain, wide = paired_comparison(base, new), paired_comparison(scaled(base), scaled(new))
    assert (wide.p_drop, wide.p_gain) == (plain.p_drop, plain.p_gain)
    factor = 2.0**exponent
    for ours, theirs in ((wide.diff, plain.diff), (wide.ci_low, plain.ci_low), (wide.ci_high, plain.ci_high)):
        assert math.isclose(ours, theirs * factor, rel_tol=1e-9, abs_tol=1e-300)


def test_no_tasks_in_common_gives_p_values_of_one_and_a_zero_interval():
    comparison = paired_comparison({"a": [1.0]}, {"b": [0.0]})
    assert comparison.n == 0
    assert (comparison.p_drop, comparison.p_gain, comparison.ci_low, comparison.ci_high, comparison.diff) == (1.0, 1.0, 0.0, 0.0, 0.0)
    verdict = regression_verdict(comparison)
    assert not verdict.failed and "no task in common" in verdict.summary


def test_one_task_has_an_unbounded_interval_that_json_writes_as_null():
    comparison = paired_comparison({"a": [1.0]}, {"a": [0.0]})
    assert comparison.ci_low == -math.inf and comparison.ci_high == math.inf
    assert comparison.to_dict()["ci_low"] is None
    assert not regression_verdict(comparison).failed  # p is 0.5 with one task


def test_a_sampled_test_over_many_tasks_still_detects_a_small_steady_drop():
    base = {f"t{i:03}": [0.5 + (i % 5) / 10] for i in range(81)}
    new = {task: [values[0] - 0.05] for task, values in base.items()}
    comparison = paired_comparison(base, new)
    assert comparison.method.startswith("sign-flip, ")
    assert comparison.p_drop < 0.001 and comparison.p_gain == 1.0
    assert regression_verdict(comparison).failed
    # ...and a drop smaller than the allowed one passes however significant it is.
    small = paired_comparison(base, {task: [values[0] - 0.01] for task, values in base.items()})
    assert small.p_drop < 0.001 and not regression_verdict(small).failed


def test_a_drop_on_few_tasks_is_noise_not_a_regression():
    base = {f"t{i}": [0.5] for i in range(20)}
    new = {**base, "t0": [0.0]}
    verdict = regression_verdict(paired_comparison(base, new))
    assert not verdict.failed and "within noise" in verdict.summary


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5])
def test_confidence_outside_zero_one_is_refused(confidence):
    with pytest.raises(ValueError):
        paired_comparison({}, {}, confidence=confidence)


# --- Student's t -------------------------------------------------------------------------------


@pytest.mark.parametrize("df, expected", [(1, 12.7062), (2, 4.3027), (5, 2.5706), (10, 2.2281), (30, 2.0423), (80, 1.9901), (10_000, 1.9602)])
def test_t_quantile_matches_the_printed_table(df, expected):
    assert math.isclose(t_quantile(0.975, df), expected, abs_tol=1e-4)


@given(st.floats(0.001, 0.999), st.integers(1, 500))
def test_t_quantile_inverts_the_cdf(p, df):
    assert math.isclose(t_cdf(t_quantile(p, df), df), p, abs_tol=1e-9)


# --- pass@k --------------------------------------------------------------------------------------


@given(st.integers(1, 20).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))))
def test_pass_at_k_laws(nc):
    n, c = nc
    assert math.isclose(pass_at_k(n, c, 1), c / n)
    values = [pass_at_k(n, c, k) for k in range(1, n + 1)]
    assert values == sorted(values)  # more tries never lower the chance
    assert values[-1] == (1.0 if c else 0.0)


def test_pass_at_k_refuses_impossible_counts():
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
