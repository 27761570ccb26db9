"""The baseline file and the scores report."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from replaygate.results.baseline import FORMAT, Baseline, BaselineCase, BaselineError, load_baseline, updated_baseline, write_baseline
from replaygate.core.evaluation import RunInfo
from replaygate.results.gate import GateSettings, compare_to_baseline
from replaygate.results.outcome import task_outcomes
from replaygate.llm.pricing import load_prices
from replaygate.results.record import CaseRecord, record_case
from replaygate.results.report import SIMULATOR_NOTE, render_scores, write_report
from replaygate.results.results import RunResults, SuiteResults
from replaygate.core.rollout import Rollout, Usage
from replaygate.core.runner import CaseResult
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


def test_baseline_round_trip(tmp_path):
    path = tmp_path / "reports" / "baseline.json"
    document = updated_baseline(None, task_outcomes([result("a", 1.0), result("b", 0.2)]), THRESHOLD, {"suite": "rooms"})
    write_baseline(path, document)
    baseline = load_baseline(path)
    assert baseline.path == path
    assert baseline.cases == {"a": BaselineCase(1.0, True, graders={"exact_choice": 1.0}),
                              "b": BaselineCase(0.2, False, graders={"exact_choice": 0.2})}
    assert baseline.meta == {"suite": "rooms", "threshold": THRESHOLD}
    assert not baseline.known_failure("a")
    assert baseline.known_failure("b")
    assert not baseline.known_failure("never-ran")
    # Written sorted and indented, so diffs read well.
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=1, sort_keys=True) + "\n"


@pytest.mark.parametrize(
    "content, fragment",
    [
        pytest.param("{not json", "not valid JSON", id="corrupt"),
        pytest.param("", "not valid JSON", id="empty"),
        pytest.param('{"cases": {}}', "not a baseline of format 2 (no format", id="no-format"),
        pytest.param('{"format": 0, "cases": {}}', "not a baseline of format 2 (format 0", id="unknown-old-format"),
        pytest.param('{"format": 3, "cases": {}}', "not a baseline of format 2 (format 3", id="newer-format"),
        pytest.param('{"format": 1, "cases": []}', "not a baseline of format 2", id="cases-not-object"),
        pytest.param('[{"id": "a", "score": 1}]', "not a baseline of format 2", id="list"),
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


def test_updated_baseline_replaces_cases_that_ran_and_keeps_the_others(tmp_path):
    old = Baseline(
        path=tmp_path / "b.json",
        cases={"kept": BaselineCase(0.9, True), "rerun": BaselineCase(0.1, False), "missed": BaselineCase(1.0, True)},
        meta={"prompt_version": "old"},
    )
    results = [
        result("rerun", 0.95),
        result("new", 0.3),
        result("missed", None, failure=RuntimeError("cassette miss")),  # did not get a score: keep the old entry
    ]
    document = updated_baseline(old, task_outcomes(results), THRESHOLD, {"prompt_version": "new", "suite": "rooms"})
    assert document == {
        "format": FORMAT,
        "prompt_version": "new",
        "suite": "rooms",
        "threshold": THRESHOLD,
        "cases": {
            "kept": {"score": 0.9, "passed": True},
            "missed": {"score": 1.0, "passed": True},
            "new": {"score": 0.3, "passed": False, "graders": {"exact_choice": 0.3}},
            "rerun": {"score": 0.95, "passed": True, "graders": {"exact_choice": 0.95}},
        },
    }
    assert list(document["cases"]) == sorted(document["cases"])


def test_updated_baseline_keeps_repeats_and_the_k_of_n_verdict(tmp_path):
    records = [result("a", 1.0), result("a", 0.0, repeat=1), result("a", 1.0, repeat=2)]
    strict = updated_baseline(None, task_outcomes(records), THRESHOLD, {})
    assert strict["cases"]["a"] == {"score": 0.6667, "passed": False, "scores": [1.0, 0.0, 1.0],
                                    "graders": {"exact_choice": 0.6667}}
    lenient = updated_baseline(None, task_outcomes(records, min_passes=2), THRESHOLD, {})
    assert lenient["cases"]["a"]["passed"] is True
    write_baseline(tmp_path / "b.json", strict)
    assert load_baseline(tmp_path / "b.json").cases["a"].repeat_scores == [1.0, 0.0, 1.0]


def test_a_format_1_baseline_is_still_read_and_called_older(tmp_path):
    path = tmp_path / "b.json"
    path.write_text('{"format": 1, "cases": {"a": {"score": 0.5, "passed": false}}}', encoding="utf-8")
    baseline = load_baseline(path)
    assert baseline.older_format and baseline.known_failure("a")
    diff = compare_to_baseline(task_outcomes([result("a", 0.5)]), baseline, {})
    assert "older format 1" in diff.note and "--update-baseline" in diff.note


def test_updated_baseline_rounds_scores_and_uses_the_threshold():
    document = updated_baseline(None, task_outcomes([result("a", 0.123456789), result("b", 0.8)]), 0.8, {})
    assert document["cases"]["a"]["score"] == 0.1235 and document["cases"]["a"]["passed"] is False
    assert document["cases"]["b"]["score"] == 0.8 and document["cases"]["b"]["passed"] is True


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
    diff = compare_to_baseline(task_outcomes(records, min_passes), baseline, results.run_settings(results.suites[info.suite]),
                               GateSettings(), "no baseline at out/baseline.json")
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
    assert "sim-standin-1 (offline simulator, not a real model)" in simulated
    real = render(results, replace(INFO, is_simulator=False, agent_model="gpt-4.1", judge_model=""))
    assert SIMULATOR_NOTE not in real
    assert "offline simulator" not in real
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
