"""The baseline file and the scores report."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from replaygate.results.baseline import (FORMAT, BaselineCase, BaselineError, load_baseline, updated_baseline,
                                         updated_suite, write_baseline)
from replaygate.run.evaluation import RunInfo
from replaygate.results.gate import GateSettings, compare_to_baseline
from replaygate.results.outcome import task_outcomes
from replaygate.llm.pricing import load_prices
from replaygate.results.record import CaseRecord, record_case
from replaygate.results.report import SIMULATOR_NOTE, render_scores, write_report
from replaygate.results.results import RunResults, SuiteResults, merge_results
from replaygate.core.rollout import Rollout, Usage
from replaygate.run.runner import CaseResult
from replaygate.core.score import Score
from replaygate.cassettes.secrets import SecretLeakError

THRESHOLD = 0.8


def result(case_id: str, value: float | None, repeat: int = 0, failure: Exception | None = None, choice: str = "R-1") -> CaseRecord:
    """A scored case as the report and baseline see it: its record."""
    from replaygate.core.task import Task

    task = Task(id=case_id, input={}, expected="R-1")
    rollout = Rollout(task_id=case_id, repeat=repeat, final_text=choice, answer=choice, usage=Usage(100, 10, 2), grading_usage=Usage(30, 5, 1))
    score = None if value is None else Score(value, "all graders satisfied" if value == 1 else f"chose {choice}, expected R-1")
    case = CaseResult(task=task, repeat=repeat, rollout=rollout, scores={"exact_choice": score} if score else {}, score=score, failure=failure)
    return record_case(case, THRESHOLD, lambda r: r.answer or "—")


# --- load_baseline ---------------------------------------------------------------------------------


def test_missing_baseline_is_none(tmp_path):
    assert load_baseline(tmp_path / "reports" / "baseline.json") is None


def suite_entry(records, meta=None, threshold=THRESHOLD, old=None, min_passes=None) -> dict:
    return updated_suite(old, task_outcomes(records, min_passes), threshold, meta or {})


def written(tmp_path, document, name="baseline.json"):
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return load_baseline(path)


def test_baseline_round_trip(tmp_path):
    path = tmp_path / "reports" / "baseline.json"
    document = updated_baseline(None, {"rooms": suite_entry([result("a", 1.0), result("b", 0.2)], {"prompt_version": "v1"})})
    assert document["format"] == FORMAT == 3 and set(document) == {"format", "suites"}
    write_baseline(path, document)
    baseline = load_baseline(path)
    assert baseline.path == path and not baseline.older_format
    rooms = baseline.suite("rooms")
    assert rooms.cases == {"a": BaselineCase(1.0, True, graders={"exact_choice": 1.0}),
                           "b": BaselineCase(0.2, False, graders={"exact_choice": 0.2})}
    assert rooms.meta == {"prompt_version": "v1", "threshold": THRESHOLD}
    assert not baseline.known_failure("rooms", "a")
    assert baseline.known_failure("rooms", "b")
    assert not baseline.known_failure("rooms", "never-ran")
    # Another suite's task of the same id is not this suite's known failure.
    assert baseline.suite("other") is None and not baseline.known_failure("other", "b")
    # Written sorted and indented, so diffs read well.
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=1, sort_keys=True) + "\n"


@pytest.mark.parametrize(
    "content, fragment",
    [
        pytest.param("{not json", "not valid JSON", id="corrupt"),
        pytest.param("", "not valid JSON", id="empty"),
        pytest.param('{"cases": {}}', "not a baseline of format 3 (no format", id="no-format"),
        pytest.param('{"format": 0, "cases": {}}', "not a baseline of format 3 (format 0", id="unknown-old-format"),
        pytest.param('{"format": 4, "suites": {}}', "not a baseline of format 3 (format 4", id="newer-format"),
        pytest.param('{"format": 1, "cases": []}', "not a baseline of format 3", id="cases-not-object"),
        pytest.param('[{"id": "a", "score": 1}]', "not a baseline of format 3", id="list"),
        pytest.param('{"format": 3, "cases": {}}', 'not a baseline of format 3 (format 3, or no "suites" object)', id="v3-no-suites"),
        pytest.param('{"format": 3, "suites": {"rooms": {"threshold": 0.8}}}', "suite 'rooms' has no \"cases\" object", id="v3-no-cases"),
        pytest.param('{"format": 3, "suites": {"rooms": {"cases": {"a": {"score": 1}}}}}',
                     "suite 'rooms', case 'a' lacks a numeric score and a passed flag", id="v3-no-passed"),
        pytest.param('{"format": 3, "suites": {}, "properties": {"t": "no"}}', '"properties" must map test ids', id="v3-properties"),
        pytest.param('{"format": 1, "cases": {"a": {"score": 1}}}', "case 'a' lacks a numeric score and a passed flag", id="no-passed"),
        pytest.param('{"format": 1, "cases": {"a": {"score": "x", "passed": true}}}', "case 'a' lacks a numeric score", id="bad-score"),
        pytest.param('{"format": 1, "cases": {"a": 0.5}}', "case 'a' lacks", id="entry-not-object"),
        # A hand-edited flag: the string "false" must not silently read as passed.
        pytest.param('{"format": 1, "cases": {"a": {"score": 0.2, "passed": "false"}}}', "case 'a': passed must be true or false", id="passed-as-string"),
    ],
)
def test_unusable_baseline_is_a_one_line_error(tmp_path, content, fragment):
    path = tmp_path / "baseline.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BaselineError) as info:
        load_baseline(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert fragment in message
    assert message.endswith("restore it from git, or rewrite it with --update-baseline")


# --- updated_baseline ------------------------------------------------------------------------------


def test_updated_suite_replaces_cases_that_ran_and_keeps_the_others(tmp_path):
    old = written(tmp_path, {"format": 3, "suites": {"rooms": {"prompt_version": "old", "threshold": 0.5, "cases": {
        "kept": {"score": 0.9, "passed": True}, "rerun": {"score": 0.1, "passed": False}, "missed": {"score": 1, "passed": True}}}}})
    results = [
        result("rerun", 0.95),
        result("new", 0.3),
        result("missed", None, failure=RuntimeError("cassette miss")),  # did not get a score: keep the old entry
    ]
    entry = suite_entry(results, {"prompt_version": "new"}, old=old.suite("rooms"))
    assert entry == {
        "prompt_version": "new",
        "threshold": THRESHOLD,
        "cases": {
            "kept": {"score": 0.9, "passed": True},
            "missed": {"score": 1, "passed": True},  # kept as it was written
            "new": {"score": 0.3, "passed": False, "graders": {"exact_choice": 0.3}, "answer": "R-1"},
            "rerun": {"score": 0.95, "passed": True, "graders": {"exact_choice": 0.95}, "answer": "R-1"},
        },
    }
    assert list(entry["cases"]) == sorted(entry["cases"])


def test_updated_suite_keeps_repeats_and_the_k_of_n_verdict(tmp_path):
    records = [result("a", 1.0), result("a", 0.0, repeat=1), result("a", 1.0, repeat=2)]
    strict = suite_entry(records)
    assert strict["cases"]["a"] == {"score": 0.6667, "passed": False, "scores": [1.0, 0.0, 1.0],
                                    "graders": {"exact_choice": 0.6667}, "answers": ["R-1", "R-1", "R-1"]}
    lenient = suite_entry(records, min_passes=2)
    assert lenient["cases"]["a"]["passed"] is True
    write_baseline(tmp_path / "b.json", updated_baseline(None, {"rooms": strict}))
    assert load_baseline(tmp_path / "b.json").suite("rooms").cases["a"].repeat_scores == [1.0, 0.0, 1.0]


def test_updated_suite_rounds_scores_and_uses_the_threshold():
    entry = suite_entry([result("a", 0.123456789), result("b", 0.8)], threshold=0.8)
    assert entry["cases"]["a"]["score"] == 0.1235 and entry["cases"]["a"]["passed"] is False
    assert entry["cases"]["b"]["score"] == 0.8 and entry["cases"]["b"]["passed"] is True
    assert entry["threshold"] == 0.8


def test_updating_one_suite_keeps_every_other_suite_entry_as_it_was_written(tmp_path):
    other = {"prompt_version": "p", "hand_note": "kept", "threshold": 0.6,
             "cases": {"x": {"score": 1, "passed": True, "extra": [1, 2]}, "y": {"score": 0.25, "passed": False}}}
    old = written(tmp_path, {"format": 3, "properties": {"t::p": True},
                             "suites": {"other": other, "rooms": {"threshold": 0.8, "cases": {"a": {"score": 0.0, "passed": False}}}}})
    document = updated_baseline(old, {"rooms": suite_entry([result("a", 1.0)], old=old.suite("rooms"))}, {"t::q": False})
    assert document["suites"]["other"] == other
    assert document["suites"]["rooms"]["cases"]["a"]["passed"] is True
    assert document["properties"] == {"t::p": True, "t::q": False}
    write_baseline(tmp_path / "new.json", document)
    again = json.loads((tmp_path / "new.json").read_text(encoding="utf-8"))
    assert json.dumps(again["suites"]["other"], sort_keys=True) == json.dumps(other, sort_keys=True)


def test_a_format_1_baseline_is_still_read_and_called_older(tmp_path):
    baseline = written(tmp_path, '{"format": 1, "cases": {"a": {"score": 0.5, "passed": false}}}')
    # It names no suite: its cases stand for every suite that asks.
    assert baseline.older_format and baseline.known_failure("rooms", "a") and baseline.known_failure("other", "a")
    diff = compare_to_baseline(task_outcomes([result("a", 0.5)]), baseline, "rooms", {})
    assert "older format 1" in diff.note and "--update-baseline" in diff.note
    # Rewriting a suite moves the cases under it, as format 3; with no suite run the file stays as it was.
    document = updated_baseline(baseline, {"rooms": suite_entry([result("b", 1.0)], old=baseline.suite("rooms"))})
    assert document["format"] == 3 and set(document["suites"]) == {"rooms"}
    assert set(document["suites"]["rooms"]["cases"]) == {"a", "b"}
    kept = updated_baseline(baseline, {}, {"t::p": True})
    assert kept == {"format": 1, "cases": {"a": {"score": 0.5, "passed": False}}, "properties": {"t::p": True}}


def test_a_format_2_baseline_belongs_to_its_named_suite_and_says_to_rewrite(tmp_path):
    baseline = written(tmp_path, {"format": 2, "suite": "rooms", "prompt_version": "v", "threshold": 0.8, "min_passes": 1,
                                  "cases": {"a": {"score": 0.5, "passed": False}}, "properties": {"t::p": False}})
    rooms = baseline.suite("rooms")
    assert baseline.older_format and rooms.meta == {"prompt_version": "v", "threshold": 0.8, "min_passes": 1}
    assert baseline.known_failure("rooms", "a") and not baseline.known_failure("other", "a")
    assert baseline.known_property_failure("t::p")
    diff = compare_to_baseline(task_outcomes([result("a", 0.5)]), baseline, "rooms", {"prompt_version": "w"})
    assert diff.verdict is not None and "older format 2" in diff.note and "rewrite it with --update-baseline" in diff.note
    assert diff.setting_changes == ("prompt version: `v` → `w`",)
    # Rewriting another suite keeps this one's entry, now keyed by its name.
    document = updated_baseline(baseline, {"other": suite_entry([result("z", 1.0)])})
    assert document["format"] == 3 and document["properties"] == {"t::p": False}
    assert document["suites"]["rooms"] == {"prompt_version": "v", "threshold": 0.8, "min_passes": 1,
                                           "cases": {"a": {"score": 0.5, "passed": False}}}


# --- compare_to_baseline, per suite ----------------------------------------------------------------


def test_each_suite_is_gated_against_its_own_entry_only(tmp_path):
    baseline = written(tmp_path, updated_baseline(None, {
        "rooms": suite_entry([result("a", 1.0), result("b", 1.0)]),
        "other": suite_entry([result("x", 1.0), result("y", 1.0)]),
    }))
    diff = compare_to_baseline(task_outcomes([result("a", 1.0), result("c", 0.0)]), baseline, "rooms", {})
    assert diff.new_tasks == ("c",) and diff.missing_tasks == ("b",)  # x and y belong to the other suite
    assert diff.verdict.comparison.n == 1 and not diff.new_suite


def test_a_suite_the_baseline_lacks_is_new_and_passes_saying_so(tmp_path):
    baseline = written(tmp_path, updated_baseline(None, {"rooms": suite_entry([result("a", 1.0)])}))
    diff = compare_to_baseline(task_outcomes([result("a", 0.0), result("b", 0.0)]), baseline, "triage", {})
    assert diff.new_suite and diff.baseline is None and diff.verdict is None and not diff.failed
    assert diff.new_tasks == ("a", "b") and diff.missing_tasks == ()
    assert diff.summary() == (f"gate not run: suite triage is new, not in {tmp_path / 'baseline.json'}: its 2 tasks are new; "
                              "the gate passes with nothing to compare (add it with pytest --update-baseline)")


# --- render_scores ---------------------------------------------------------------------------------

INFO = RunInfo(
    suite="room_selector",
    mode="replay",
    backend="replay of recorded cassettes (offline)",
    is_simulator=True,
    agent_model="sim-standin-1",
    judge_model="sim-standin-1",
    prompt_path="prompts/room_selector.md",
    prompt_version="abcdef123456",
    record_mode="none",
)


PRICES = load_prices().models


def render(records, info=INFO, baseline=None, repeats=1, min_passes=None, minimal=()):
    results = RunResults(THRESHOLD, repeats, min_passes, {info.suite: SuiteResults(info, list(records), list(minimal))})
    diff = compare_to_baseline(task_outcomes(records, min_passes), baseline, info.suite,
                               results.run_settings(results.suites[info.suite]), GateSettings(), "no baseline at out/baseline.json")
    return render_scores(results, {info.suite: diff}, PRICES, "2025-08")


def test_render_scores_is_deterministic_and_has_one_row_per_case_in_id_order():
    results = [result("room-003", 0.0, choice="R-9"), result("room-001", 1.0), result("room-002", 0.5, choice="R-2|x")]
    first = render(results)
    second = render(list(reversed(results)))
    assert first == second
    assert first.endswith("\n")

    # No clocks: nothing that changes from run to run.
    assert not re.search(r"\d{1,2}:\d{2}:\d{2}", first)
    assert not re.search(r"\d{4}-\d{2}-\d{2}", first)

    rows = [line for line in first.splitlines() if re.match(r"\| room-\d{3}", line)]
    assert [row.split("|")[1].strip() for row in rows] == ["room-001", "room-002", "room-003"]
    assert "| pass" in rows[0] and "| FAIL" in rows[1] and "| FAIL" in rows[2]
    assert "R-2\\|x" in rows[1]  # a pipe in a cell cannot break the table
    assert "33.3% (1/3, threshold 0.8)" in first
    assert "0.500 ± " in first  # mean score and its interval
    assert "390 / 45" in first  # agent + judge tokens, in / out
    assert "`prompts/room_selector.md` version `abcdef123456`" in first
    assert "**Not run**: no baseline at out/baseline.json." in first


def test_repeats_make_one_row_per_task_with_spread_and_passes():
    records = [result("case-a", 1.0, repeat=1), result("case-a", 0.0, choice="R-2"), result("case-a", 1.0, repeat=2)]
    text = render(records, repeats=3, min_passes=2)
    header = next(line for line in text.splitlines() if line.startswith("| task "))
    assert [c.strip() for c in header.split("|")[1:-1]] == [
        "task", "expected", "chosen", "score", "spread", "passes", "pass@3", "Δ", "result", "reasons"]
    rows = [line for line in text.splitlines() if line.startswith("| case-a")]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].split("|")[1:-1]]
    assert cells[2:7] == ["R-1 ×2, R-2", "0.67", "0.58", "2/3", "1.00"]
    assert cells[8] == "pass"  # 2 of 3 passed, 2 needed
    assert "a task passes when 2 of its 3 repeats pass" in text and "pass@1 / pass@3" in text
    assert "FAIL" in render(records, repeats=3).split("## Tasks")[1]  # by default every repeat must pass


def test_simulator_note_only_for_simulated_runs():
    results = [result("a", 1.0)]
    simulated = render(results)
    assert SIMULATOR_NOTE in simulated
    assert "sim-standin-1 (offline test double, not a real model)" in simulated
    real = render(results, replace(INFO, is_simulator=False, agent_model="gpt-4.1", judge_model=""))
    assert SIMULATOR_NOTE not in real
    assert "offline test double" not in real
    assert "not used" in real  # no judge


def test_estimated_cost_uses_the_price_table_and_says_n_a_for_an_unknown_model():
    records = [result("a", 1.0)]  # 100 in / 10 out for the agent, 30 / 5 for the judge
    priced = render(records, replace(INFO, is_simulator=False, agent_model="gpt-4.1-nano", judge_model="gpt-4.1"))
    # 100 * 0.10 + 10 * 0.40 + 30 * 2.00 + 5 * 8.00 = 114 dollars per million tokens
    assert "| estimated cost    | $0.0001, what the recorded calls cost; prices as of 2025-08" in priced
    unknown = render(records, replace(INFO, is_simulator=False, agent_model="my-finetune", judge_model="gpt-4.1"))
    assert "n/a (no price for my-finetune)" in unknown and "$0.0000" not in unknown


def test_failures_are_reported_with_their_message():
    text = render([result("case-a", None, failure=RuntimeError("no recording in x.json"))])
    row = next(line for line in text.splitlines() if line.startswith("| case-a"))
    assert "FAIL" in row and "no recording in x.json" in row
    assert "| errors" in text and re.search(r"\| errors\s+\| 1 \(harness: 1\)\s+\|", text)


def test_render_scores_without_results_does_not_divide_by_zero():
    text = render([])
    assert "n/a" in text


# --- several suites ----------------------------------------------------------------------------------


def three_suites(baseline=None, thresholds=(None, None, None)):
    """Three suites: `a` and `b` share task ids, `c` scores low."""
    records = {
        "a": [result("t1", 1.0), result("t2", 0.5)],
        "b": [result("t1", 1.0), result("t2", 1.0), result("t3", 1.0)],
        "c": [result("t1", 0.0, choice="R-2"), result("t2", 0.1, choice="R-2")],
    }
    infos = {name: replace(INFO, suite=name, threshold=threshold) for name, threshold in zip(records, thresholds)}
    results = RunResults(THRESHOLD, 1, None, {n: SuiteResults(infos[n], records[n]) for n in records})
    diffs = {n: compare_to_baseline(results.suites[n].outcomes(None), baseline, n, results.run_settings(results.suites[n]),
                                    GateSettings(), "no baseline at out/baseline.json") for n in records}
    return results, diffs


def test_one_suite_keeps_its_page_layout():
    text = render([result("a", 1.0)])
    assert text.startswith("# Scores: room_selector\n")
    assert re.findall(r"^#+ ", text, re.MULTILINE) == ["# "] + ["## "] * (len(re.findall(r"^#", text, re.MULTILINE)) - 1)


def test_several_suites_get_an_overview_then_a_section_each(tmp_path):
    from tests.test_report_chart import parse

    high = {"score": 1.0, "passed": True}
    baseline = written(tmp_path, {"format": 3, "suites": {
        "a": {"threshold": 0.8, "cases": {"t1": high, "t2": {"score": 0.5, "passed": False}}},
        "c": {"threshold": 0.8, "cases": {f"t{i}": high for i in (1, 2)}}}})
    results, diffs = three_suites(baseline)
    text = render_scores(results, diffs, PRICES, "2025-08")
    assert text == render_scores(*three_suites(baseline), PRICES, "2025-08")
    headings = re.findall(r"^(#+) (.+)$", text, re.MULTILINE)
    assert headings[0] == ("#", "Scores")
    assert [title for level, title in headings if level == "##"] == ["a", "b", "c"]
    assert {level for level, _ in headings[1:]} == {"##", "###"}
    assert [title for level, title in headings if level == "###"].count("Tasks") == 3
    overview = text[: text.index("\n## a\n")]
    rows = {cells[0]: cells for cells in ([c.strip() for c in line.strip("|").split("|")]
                                          for line in overview.splitlines() if line.startswith("| ")) if cells[0] in "abc"}
    assert rows["a"][1:4] == ["2", "1/2 (50.0%)", "0.750 ± 3.177"]
    assert rows["a"][4] == "✅ passed: no material drop"
    assert rows["b"][4] == "not run: new suite, not in the baseline"
    assert rows["c"][4] == "✅ passed: drop within noise"  # two tasks cannot make a drop significant
    assert "suite b is new" in text and "| t3 " in text
    b_tasks = text[text.index("\n## b\n"):text.index("\n## c\n")].split("### Tasks")[1]
    assert [line.split("|")[5].strip() for line in b_tasks.splitlines() if re.match(r"\| t\d", line)] == ["new"] * 3
    blocks = re.findall(r"```mermaid\n.*?\n```", text, re.DOTALL)
    assert len(blocks) == 3
    charts = [parse(block) for block in blocks]
    assert [set(c["series"]) for c in charts] == [{"bar", "line"}, {"bar"}, {"bar", "line"}]


def test_a_suite_threshold_is_its_own_in_the_report_settings_and_baseline():
    results, diffs = three_suites(thresholds=(0.4, None, None))
    a, b = results.suites["a"], results.suites["b"]
    assert results.threshold_of(a) == 0.4 and results.threshold_of(b) == THRESHOLD
    assert results.run_settings(a)["threshold"] == 0.4
    text = render_scores(results, diffs, PRICES)
    assert "threshold 0.4)" in text.split("## b")[0] and "threshold 0.8)" in text.split("## b")[1]


def test_several_suites_survive_the_results_file_and_the_merge():
    results, _ = three_suites(thresholds=(0.4, None, None))
    first = RunResults(THRESHOLD, 1, None, {n: SuiteResults(s.info, s.records[:1]) for n, s in results.suites.items()},
                       shard=(1, 2))
    second = RunResults(THRESHOLD, 1, None, {n: SuiteResults(s.info, s.records[1:]) for n, s in results.suites.items()},
                        shard=(2, 2))
    parts = [(name, RunResults.from_json(part.to_json(), name)) for name, part in (("s1", first), ("s2", second))]
    merged = merge_results(parts)
    assert sorted(merged.suites) == ["a", "b", "c"] and merged.suites["a"].info.threshold == 0.4
    diffs = {n: compare_to_baseline(merged.suites[n].outcomes(None), None, n, merged.run_settings(merged.suites[n]))
             for n in merged.suites}
    serial_diffs = {n: compare_to_baseline(results.suites[n].outcomes(None), None, n, results.run_settings(results.suites[n]))
                    for n in results.suites}
    assert render_scores(merged, diffs, PRICES) == render_scores(results, serial_diffs, PRICES)


# --- write_report ----------------------------------------------------------------------------------


def test_write_report_refuses_a_secret_and_writes_otherwise(tmp_path):
    path = tmp_path / "reports" / "scores.md"
    secret = "sk-test-0123456789abcdef"
    with pytest.raises(SecretLeakError) as info:
        write_report(path, f"# Scores\nleaked {secret}\n", [("OPENAI_API_KEY", secret)])
    assert "$OPENAI_API_KEY" in str(info.value) and secret not in str(info.value)
    assert not path.exists()

    write_report(path, "# Scores\nclean\n", [("OPENAI_API_KEY", secret)])
    assert path.read_text(encoding="utf-8") == "# Scores\nclean\n"

    with pytest.raises(SecretLeakError):
        write_report(path, f"again {secret}", [("OPENAI_API_KEY", secret)])
    assert path.read_text(encoding="utf-8") == "# Scores\nclean\n"  # the old report stays
