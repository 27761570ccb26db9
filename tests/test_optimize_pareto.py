"""Laws of GEPA-style selection: the Pareto frontier, merge pairs, and the confidence-aware final pick."""

from __future__ import annotations

import statistics

from hypothesis import given, settings
from hypothesis import strategies as st

from replaygate.optimize.selection import (
    confident_pick, dominates, head_to_head, lower_bound, merge_pair, pareto_front,
)

TASKS = ("t1", "t2", "t3", "t4", "t5")
SCORE = st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0])
VECTOR = st.fixed_dictionaries({t: SCORE for t in TASKS})
SCORES = st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e", "f"]), VECTOR, min_size=1, max_size=6)


@settings(max_examples=200)
@given(SCORES)
def test_the_frontier_keeps_a_best_candidate_of_every_task(scores):
    front = pareto_front(scores)
    for task in TASKS:
        top = max(s[task] for s in scores.values())
        assert any(scores[v][task] == top for v in front)


@settings(max_examples=200)
@given(SCORES)
def test_dominated_candidates_never_survive(scores):
    front = pareto_front(scores)
    assert front
    for version in front:
        assert not any(dominates(scores[o], scores[version]) for o in scores if o != version)


@settings(max_examples=200)
@given(SCORES)
def test_a_merge_pair_is_two_candidates_the_second_winning_a_task_the_first_loses(scores):
    order = sorted(scores)
    pair = merge_pair(scores, order)
    if pair is None:
        # No candidate beats another anywhere: every score vector is the same.
        assert all(head_to_head(scores[a], scores[b]) == 0 for a in scores for b in scores)
        return
    base, other = pair
    assert base != other and head_to_head(scores[other], scores[base]) > 0
    assert merge_pair(scores, order, {pair}) != pair  # a tried pair is never proposed again


@settings(max_examples=200)
@given(st.lists(SCORE, min_size=0, max_size=20), st.floats(0.0, 3.0))
def test_the_lower_bound_never_exceeds_the_mean(values, z):
    bound = lower_bound(values, z)
    assert bound <= (statistics.fmean(values) if values else 0.0) + 1e-12


@settings(max_examples=300)
@given(SCORES, st.floats(0.0, 3.0))
def test_the_pick_never_has_a_rival_with_a_higher_mean_and_more_wins(scores, z):
    pick = confident_pick(scores, z)
    mine = statistics.fmean(scores[pick].values())
    for other, theirs in scores.items():
        if other == pick:
            continue
        higher = statistics.fmean(theirs.values()) > mine + 1e-12
        assert not (higher and head_to_head(theirs, scores[pick]) > head_to_head(scores[pick], theirs))


@given(st.integers(2, 8))
def test_a_perfect_score_on_few_tasks_does_not_outrank_a_near_perfect_one_on_many(few):
    # The lucky one: perfect on `few` tasks; the steady one: the same tasks, then 29 of 30 overall.
    lucky = {f"v{i}": 1.0 for i in range(few)}
    steady = {**lucky, **{f"r{i}": 1.0 for i in range(29 - few)}, "r-last": 0.0}
    assert confident_pick({"lucky": lucky, "steady": steady}, 1.0) == "steady"
    assert confident_pick({"lucky": lucky, "steady": steady}, 0.0) == "lucky"  # z = 0: the plain mean


def test_scored_on_the_same_tasks_the_higher_mean_with_more_wins_is_the_pick():
    same = {"x": {"t1": 1.0, "t2": 1.0, "t3": 0.0}, "y": {"t1": 1.0, "t2": 0.0, "t3": 0.0}}
    assert confident_pick(same, 1.0) == "x"
