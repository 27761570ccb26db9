"""The optimization core's pure parts: splits, lint, cache keys, and the cache file."""

from __future__ import annotations

import json

from hypothesis import given, strategies as st

from replaygate.core.task import SPLITS, Task
from replaygate.optimize.cache import EvaluationCache, cache_key
from replaygate.optimize.lint import lint_candidate, normalized
from replaygate.optimize.rollout_outcome import Outcome
from replaygate.optimize.split import assign_splits, split_sizes

RATIOS = {"train": 0.4, "validation": 0.3, "holdout": 0.3}
ids = st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=60, unique=True)


def tasks_of(names, split=None):
    return [Task(id=name, input={"x": 1}, expected="A", split=split) for name in names]


def placed(splits):
    return {t.id: s for s, ts in splits.items() for t in ts}


@given(ids, ids)
def test_adding_k_tasks_moves_at_most_k_existing_ones_across_each_cut(first, more):
    added = [m for m in more if m not in first]
    before = placed(assign_splits(tasks_of(first), RATIOS))
    after = placed(assign_splits(tasks_of(first + added), RATIOS))
    assert sum(after[name] != split for name, split in before.items()) <= 2 * len(added)


@given(st.integers(0, 500), st.lists(st.floats(0.01, 10), min_size=3, max_size=3))
def test_split_sizes_are_the_proportions_rounded_and_add_up(count, weights):
    ratios = dict(zip(SPLITS, weights))
    sizes = split_sizes(count, ratios)
    assert sum(sizes.values()) == count
    for name in SPLITS:
        assert abs(sizes[name] - count * ratios[name] / sum(weights)) < 1 + 1e-9


@given(ids, st.sampled_from(SPLITS))
def test_every_task_lands_in_one_split_and_an_explicit_split_wins(names, forced):
    tasks = tasks_of(names[:1], split=forced) + tasks_of(names[1:])
    splits = assign_splits(tasks, RATIOS)
    placed = [t.id for ts in splits.values() for t in ts]
    assert sorted(placed) == sorted(names)
    assert tasks[0] in splits[forced]


def test_a_small_suite_splits_in_its_exact_proportions():
    """24 tasks at 50/25/25 are 12/6/6 (a threshold per task's hash gave 14/7/3)."""
    splits = assign_splits(tasks_of([f"t{i:02d}" for i in range(24)]), {"train": 0.5, "validation": 0.25, "holdout": 0.25})
    assert {name: len(tasks) for name, tasks in splits.items()} == {"train": 12, "validation": 6, "holdout": 6}


REQUIRED = ("date", "time", "needs")
BASE = "Book a room on {date} at {time}. Needs: {needs}."


def test_lint_keeps_a_good_candidate_as_it_is():
    verdict = lint_candidate(BASE, REQUIRED, 500)
    assert verdict.text == BASE + "\n" and not verdict.repairs and not verdict.rejected


def test_lint_rejects_an_invented_placeholder_and_restores_a_dropped_one():
    # Unbracing {location} would leave "near location." behind: rejected, with a message an editor can act on.
    invented = lint_candidate("Book a room on {date} at {time} near {location}. Needs: {needs}.", REQUIRED, 500)
    assert invented.text is None and "{location}" in invented.rejected and not invented.duplicate
    verdict = lint_candidate("Book a room on {date} at {time}.", REQUIRED, 500)
    assert verdict.text.endswith("\n\nneeds: {needs}\n") and len(verdict.repairs) == 1


def test_lint_rejects_duplicates_overlong_and_dropped_text():
    assert lint_candidate(BASE + "  ", REQUIRED, 500, seen={normalized(BASE)}).rejected.startswith("duplicate")
    assert "over the cap" in lint_candidate(BASE + "x" * 600, REQUIRED, 500).rejected
    assert "before the first" in lint_candidate("hello\n[user]\n" + BASE, REQUIRED, 500).rejected


@given(st.text(max_size=200))
def test_lint_output_always_renders_with_exactly_the_required_placeholders(text):
    from replaygate.core.prompt import PromptTemplate
    verdict = lint_candidate(text, REQUIRED, 10_000)
    if verdict.text is not None:
        template = PromptTemplate(path=__import__("pathlib").Path("p.md"), text=verdict.text)
        assert set(template.placeholders) == set(REQUIRED)
        template.check(REQUIRED)


def test_cache_key_changes_with_every_part():
    task = Task(id="t1", input={"a": 1}, expected="X")
    base = cache_key("v1", task, "m", {"seed": 0}, 0)
    assert base == cache_key("v1", task, "m", {"seed": 0}, 0)
    assert len({base, cache_key("v2", task, "m", {"seed": 0}, 0), cache_key("v1", task, "m2", {"seed": 0}, 0),
                cache_key("v1", task, "m", {"seed": 1}, 0), cache_key("v1", task, "m", {"seed": 0}, 1),
                cache_key("v1", Task(id="t1", input={"a": 2}, expected="X"), "m", {"seed": 0}, 0)}) == 6


def test_cache_survives_a_torn_last_line(tmp_path):
    path = tmp_path / "cache.jsonl"
    cache = EvaluationCache(path)
    cache.put_many([("k1", Outcome("t1", 0, 0.5, {"g": (0.5, "half")}, hints={"g": "do it"}))])
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"key": "k2", "outcome": {"task_id": "t2"}})[:20])
    again = EvaluationCache(path)
    assert again.get("k1") == cache.get("k1") and again.get("k2") is None and again.skipped_lines == 1
