"""`reports/index.html`: the page's data (transcripts, statuses, baseline beside each case), its bytes and its checks.

The browser half is tests/test_report_page_browser.py; the builders here are shared with it. Nothing here
writes to the repo: the room suite's page is built from the committed records and cassettes, read only.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from replaygate import FunctionModel, Prompt, Reply, Suite, ToolCall, graders
from replaygate.cassettes.audit import scan_text
from replaygate.cassettes.secrets import SecretLeakError
from replaygate.core.config import load_config
from replaygate.run.evaluation import Evaluation, RunInfo
from replaygate.llm.backend import SIM_BASE_URL, Backend
from replaygate.results.baseline import load_baseline
from replaygate.results.gate import GateSettings
from replaygate.results.page import DATA_ID, build_page, render_page
from replaygate.results.page_data import OPTIMIZE_DEFAULTS, PageSources, grader_reasons, page_document
from replaygate.results.publish import compare_run
from replaygate.results.record import CaseRecord, record_case
from replaygate.results.results import RunResults, SuiteResults
from replaygate.results.transcript import transcript

REPO = Path(__file__).resolve().parents[1]
ROOM_CASSETTE = REPO / "cassettes/room_selector/sim-standin-1/room-001.r0.json"


# --- builders (shared with the browser test) -----------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _room_replay() -> str:
    """The room suite replayed from the committed cassettes (once per session), as its results JSON.

    Its own run, not `reports/scores.json`: that file is not committed, and a clean clone runs tests/ before evals/."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "results.json"
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                               "evals/test_room_selector.py", "--results-json", str(out), "--set", f"reports={folder}"],
                              cwd=REPO, capture_output=True, text=True, timeout=300)
        assert out.is_file(), done.stdout[-2000:] + done.stderr[-2000:]
        return out.read_text(encoding="utf-8")


def room_results() -> RunResults:
    """A replay of the committed room suite, as its records."""
    return RunResults.from_json(_room_replay(), "the room suite's replay")


def regressing_baseline(tmp_path: Path, results: RunResults, count: int = 4) -> Path:
    """The committed baseline, except that `count` cases failing now passed there, answering what was expected."""
    document = json.loads((REPO / "reports/baseline.json").read_text(encoding="utf-8"))
    cases = document["suites"]["room_selector"]["cases"]
    failing = [r for r in results.suites["room_selector"].records if not r.passed and r.error_kind is None][:count]
    for record in failing:
        cases[record.task_id] = {"score": 1.0, "passed": True, "answer": record.expected,
                                 "graders": {name: 1.0 for name in record.grader_scores}}
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def room_sources(root: Path = REPO, cassettes: Path | None = None) -> PageSources:
    return PageSources(root, cassettes or root / "cassettes", root / "reports/optimization", root / "prompts/history")


def room_page(tmp_path: Path, regressions: int = 4) -> tuple[str, dict]:
    """The room suite's page against a baseline that makes `regressions` regressions: (html, its document)."""
    results = room_results()
    diffs = compare_run(results, load_baseline(regressing_baseline(tmp_path, results, regressions)), GateSettings())
    return build_page(results, diffs, room_sources(), []), page_document(results, diffs, room_sources())


TOOL = {"type": "function", "name": "lookup", "description": "a customer's plan",
        "parameters": {"type": "object", "properties": {"who": {"type": "string"}}}}
PLANS = {"ann": "gold", "bob": "basic", "cat": "silver"}


def plans_model(request) -> Reply | ToolCall | str:
    """A stand-in: looks the plan up once when the prompt says so, then answers from the result (cat's it misreads)."""
    if not request.tool_results and "look it up" in request.messages[0]["content"]:
        return ToolCall("lookup", {"who": request.messages[-1]["content"].split(":")[0]})
    if request.tool_results:
        plan = json.loads(request.tool_results[0].output)["plan"]
        return "gold" if plan == "silver" else plan
    return "basic"


def plans_solver(inp, client, prompt: Prompt):
    """On the Responses API, sending the whole conversation back with the tool's result."""
    first = client.responses.create(**prompt.responses(tools=[TOOL]))
    calls = [item for item in first.output if item.type == "function_call"]
    if not calls:
        return first.output_text
    who = json.loads(calls[0].arguments)["who"]
    follow = [*prompt.messages, *[item.model_dump(exclude_none=True) for item in calls],
              {"type": "function_call_output", "call_id": calls[0].call_id, "output": json.dumps({"plan": PLANS[who]})}]
    return client.responses.create(**prompt.responses(input=follow, tools=[TOOL])).output_text


def responses_page(root: Path) -> tuple[str, dict]:
    """A small suite on the Responses API with a FunctionModel, recorded under `root`: its page and document."""
    (root / "prompt.md").write_text("[system]\nAnswer with the plan name only; look it up.\n[user]\n{who}: {question}\n")
    tasks = [{"id": who, "input": {"who": who, "question": "What plan am I on?"}, "expected": plan} for who, plan in PLANS.items()]
    (root / "tasks.yaml").write_text("".join(f"- {json.dumps(t)}\n" for t in tasks))
    suite = Suite("plans", solver=plans_solver, tasks=str(root / "tasks.yaml"), prompt=str(root / "prompt.md"),
                  double=FunctionModel(plans_model), graders=[graders.ExactMatch(), graders.ToolCalled("lookup", times=1)])
    config = load_config(None, {"cassettes": str(root / "tapes"), "models.agent": "double"}, suite=suite.name,
                         code=suite.code_settings())
    evaluation = Evaluation(suite, config, root, Backend("sim", "double", base_url=SIM_BASE_URL), "once", {})
    done = evaluation.run(list(evaluation.loaded.tasks))
    results = RunResults(0.8, suites={"plans": SuiteResults(evaluation.info(), [record_case(r, 0.8, evaluation.describe)
                                                                                  for r in done])})
    diffs = compare_run(results, None, GateSettings())
    sources = PageSources(root, root / "tapes")
    return build_page(results, diffs, sources, []), page_document(results, diffs, sources)


def embedded(text: str) -> dict:
    block = re.search(rf'<script type="application/json" id="{DATA_ID}">(.*?)</script>', text, re.S)
    return json.loads(block.group(1))


# --- transcripts ------------------------------------------------------------------------------------


def test_a_chat_case_reads_as_its_conversation_and_the_judge_call_stays_apart():
    t = transcript(json.loads(ROOM_CASSETTE.read_text(encoding="utf-8")))
    assert t["api"] == "chat"
    assert [(e["type"], e.get("role")) for e in t["entries"]] == [
        ("message", "user"), ("tool_call", None), ("tool_result", None), ("message", "assistant")]
    call, result = t["entries"][1], t["entries"][2]
    assert json.loads(call["arguments"]) == {"date": "2026-03-03", "time": "12:15", "duration_min": 30}
    assert result["call_id"] == call["call_id"] and result["name"] == call["name"] == "get_rooms_and_availability"
    assert json.loads(result["output"])["rooms"][0]["id"] == "R-101"
    assert t["final"] == t["entries"][-1]["text"] == "I'd recommend R-304. It fits the request."
    assert [c["by"] for c in t["calls"]] == ["agent", "agent", "other"]
    # The judge's call: its own prompt and verdict, not part of the agent's conversation.
    assert json.loads(t["other"][0]["answer"]) == {"score": 0.0, "reason": "chose R-304, expected R-202"}


def _interaction(path: str, request: dict, response: dict, status: int = 200) -> dict:
    return {"request": {"uri": f"http://model.invalid/v1/{path}", "body": {"json": request}},
            "response": {"status": {"code": status}, "body": {"json": response}}}


def test_a_responses_case_chained_by_previous_response_id_is_stitched_in_order():
    first = _interaction("responses", {"instructions": "Be brief.", "input": "plan of ann?"},
                         {"id": "resp_1", "output": [{"type": "function_call", "call_id": "c1", "name": "lookup",
                                                      "arguments": "{\"who\":\"ann\"}"}], "usage": {"input_tokens": 9, "output_tokens": 3}})
    retry = _interaction("responses", {"previous_response_id": "resp_1", "input": [
        {"type": "function_call_output", "call_id": "c1", "output": "{\"plan\":\"gold\"}"}]}, {"error": "busy"}, status=429)
    second = _interaction("responses", {"previous_response_id": "resp_1", "input": [
        {"type": "function_call_output", "call_id": "c1", "output": "{\"plan\":\"gold\"}"}]},
        {"id": "resp_2", "output": [{"type": "message", "content": [{"type": "output_text", "text": "gold"}]}],
         "usage": {"input_tokens": 20, "output_tokens": 1}})
    judge = _interaction("chat/completions", {"messages": [{"role": "user", "content": "grade: gold"}]},
                         {"choices": [{"message": {"role": "assistant", "content": "{\"score\": 1}"}}]})
    t = transcript({"interactions": [first, retry, second, judge]})
    assert t["api"] == "responses" and t["final"] == "gold"
    assert [(e["type"], e.get("role"), e.get("text") or e.get("name") or e.get("output")) for e in t["entries"]] == [
        ("message", "system", "Be brief."), ("message", "user", "plan of ann?"), ("tool_call", None, "lookup"),
        ("tool_result", None, "lookup"), ("message", "assistant", "gold")]
    assert [(c["by"], c["status"], c["tokens"]) for c in t["calls"]] == [
        ("agent", 200, [9, 3]), ("agent", 429, None), ("agent", 200, [20, 1]), ("other", 200, None)]


def test_a_case_whose_last_turn_asked_for_a_tool_has_no_final_answer():
    ask = _interaction("chat/completions", {"messages": [{"role": "user", "content": "hi"}]}, {"choices": [{"message": {
        "role": "assistant", "content": None, "tool_calls": [{"id": "c", "function": {"name": "t", "arguments": "{}"}}]}}]})
    t = transcript({"interactions": [ask]})
    assert t["final"] is None and [e["type"] for e in t["entries"]] == ["message", "tool_call"]
    assert transcript({"interactions": "not a list"})["entries"] == []


def test_each_graders_reason_is_read_back_from_the_composite():
    names = ["constraints", "exact_choice", "judge"]
    assert grader_reasons("exact_choice, judge: chose R-304, expected R-202; constraints: R-304 violates capacity", names) == {
        "exact_choice": "chose R-304, expected R-202", "judge": "chose R-304, expected R-202",
        "constraints": "R-304 violates capacity"}
    # A reason holding "; " stays whole; a grader at full marks is not in the composite.
    assert grader_reasons("judge: wrong; and slow", names) == {"judge": "wrong; and slow"}
    assert grader_reasons("all graders satisfied", names) == {}


# --- the room suite's page data ---------------------------------------------------------------------


def test_the_room_page_puts_regressions_first_with_the_baseline_beside_each_case(tmp_path):
    _, document = room_page(tmp_path, regressions=4)
    (suite,) = document["suites"]
    cases = suite["cases"]
    assert len(cases) == 81 and suite["simulator"] is True
    assert [c["regression"] for c in cases[:5]] == [True, True, True, True, False]
    regression = cases[0]
    assert regression["status"] == "fail"  # passed in the baseline: a real failure, not a known one
    assert regression["baseline"]["answers"] == [regression["expected"]] and regression["delta"] < 0
    assert regression["repeats"][0]["answer"] == regression["answer"] != regression["expected"]
    graders = regression["repeats"][0]["graders"]
    assert graders["exact_choice"]["score"] == 0.0 and graders["exact_choice"]["reason"].startswith("chose ")
    assert regression["failing_graders"] and set(regression["failing_graders"]) <= set(graders)
    statuses = {}
    for case in cases:
        statuses[case["status"]] = statuses.get(case["status"], 0) + 1
    assert statuses == {"pass": 18, "fail": 4, "known failure": 59}
    assert suite["gate"]["regressions"] == 4 and suite["gate"]["comparison"]["n"] == 81
    assert sum(suite["histogram"]["now"]) == sum(suite["histogram"]["baseline"]) == 81
    # Replay times measure the replay: none on the page, so two runs give the same bytes.
    assert all(r["latency_s"] is None for c in cases for r in c["repeats"]) and suite["numbers"]["latency"] is None
    assert all(c["repeats"][0]["transcript"]["entries"] for c in cases)
    assert {r["strategy"] for r in document["optimization"]} == {"apo", "evo"}  # evo-summary.json is not a run
    apo = next(r for r in document["optimization"] if r["strategy"] == "apo")
    committed = json.loads((REPO / "reports/optimization/apo.json").read_text(encoding="utf-8"))
    assert len(apo["holdout"]) == len(committed["splits"]["holdout"]) > 0  # every holdout task the gate compared
    assert apo["diff"].startswith("--- ") and apo["candidates"][0]["status"] == "incumbent"


def test_the_page_is_the_same_bytes_twice_and_its_data_cannot_end_the_script(tmp_path):
    results = room_results()
    record = results.suites["room_selector"].records[0]
    hostile = "</script><script>alert(1)</script><!--"
    results.suites["room_selector"].records[0] = CaseRecord(**{**vars(record), "chosen": hostile})
    diffs = compare_run(results, None, GateSettings())
    first, second = (build_page(results, diffs, room_sources(), []) for _ in range(2))
    assert first == second
    assert first.count("</script>") == 2  # the data block and the script: the hostile answer ends neither
    assert hostile not in first
    assert embedded(first)["suites"][0]["cases"][0]["answer"] == hostile


def test_a_credential_in_a_transcript_stops_the_page_and_the_audit_finds_it_behind_an_escape(tmp_path):
    secret = "sk-live-0123456789abcdefXYZ"
    cassettes = tmp_path / "cassettes"
    shutil.copytree(REPO / "cassettes/room_selector", cassettes / "room_selector")
    path = cassettes / "room_selector/sim-standin-1/room-001.r0.json"
    path.write_text(path.read_text(encoding="utf-8").replace("Find a room", f"key {secret} Find a room"), encoding="utf-8")
    results = room_results()
    diffs = compare_run(results, None, GateSettings())
    with pytest.raises(SecretLeakError, match=r"reports/index\.html: refusing to write, it would contain the value of \$OPENAI_API_KEY"):
        build_page(results, diffs, room_sources(REPO, cassettes), [("OPENAI_API_KEY", secret)], "reports/index.html")
    # A page that holds a value only behind an escape (`<` as \u003c) is still found by the audit.
    tricky = "abc<def0123456789"
    page = render_page({"suites": [], "optimization": [], "properties": {}, "note": tricky})
    assert tricky not in page
    hits = scan_text("reports/index.html", page, [("AZURE_OPENAI_API_KEY", tricky)])
    assert [h.what for h in hits] == ["value of $AZURE_OPENAI_API_KEY in the page's embedded data"]


def test_repeats_are_each_shown_with_the_reducers_verdict():
    results = room_results()
    suite = results.suites["room_selector"]
    first = next(r for r in suite.records if r.passed)
    suite.records = [first, CaseRecord(**{**vars(first), "repeat": 1, "score": 0.2, "passed": False, "chosen": "R-999"})]
    results.repeats, results.min_passes = 2, 1
    (case,) = page_document(results, compare_run(results, None, GateSettings()), room_sources())["suites"][0]["cases"]
    assert case["verdict"] == {"passes": 1, "repeats": 2, "needed": 1, "passed": True, "spread": 0.5657, "pass_at_k": 1.0}
    assert [(r["repeat"], r["answer"], r["passed"]) for r in case["repeats"]] == [(0, first.chosen, True), (1, "R-999", False)]
    assert case["answer"] == "R-999" and case["score"] == 0.6  # the worst repeat speaks for the row, as in scores.md
    # Repeat 1 was never recorded: no transcript is made up for it.
    assert case["repeats"][0]["transcript"]["entries"] and case["repeats"][1]["transcript"] is None


def test_a_live_run_shows_no_transcript_an_older_recording_would_be_wrong():
    results = room_results()
    suite = results.suites["room_selector"]
    suite.info = RunInfo(**{**vars(suite.info), "mode": "live"})
    document = page_document(results, compare_run(results, None, GateSettings()), room_sources())
    case = document["suites"][0]["cases"][0]["repeats"][0]
    assert case["transcript"] is None and case["latency_s"] == suite.records[0].latency_s


def test_a_changed_prompt_is_diffed_against_the_baselines_text_from_the_history(tmp_path):
    results = room_results()
    baseline = json.loads((REPO / "reports/baseline.json").read_text(encoding="utf-8"))
    baseline["suites"]["room_selector"]["prompt_version"] = "0ld0ld0ld0ld"
    (tmp_path / "baseline.json").write_text(json.dumps(baseline), encoding="utf-8")
    history = tmp_path / "history/room_selector"
    history.mkdir(parents=True)
    (history / "0ld0ld0ld0ld.md").write_text("Find a room.\n", encoding="utf-8")
    diffs = compare_run(results, load_baseline(tmp_path / "baseline.json"), GateSettings())
    sources = PageSources(REPO, REPO / "cassettes", None, tmp_path / "history")
    changed = page_document(results, diffs, sources)["suites"][0]["prompt_diff"]
    assert changed["from"] == "0ld0ld0ld0ld" and "-Find a room.\n" in changed["diff"] and "\n+Find a room on {date}" in changed["diff"]
    missing = page_document(results, diffs, PageSources(REPO, REPO / "cassettes", None, tmp_path / "nowhere"))
    assert missing["suites"][0]["prompt_diff"]["diff"] == "" and "not kept in the prompt history" in missing["suites"][0]["prompt_diff"]["note"]


def test_the_pages_optimizer_paths_are_the_optimizers_defaults():
    from replaygate.optimize.settings import OptimizeSettings

    defaults = OptimizeSettings()
    assert OPTIMIZE_DEFAULTS == {"history": defaults.history, "report": defaults.report}


def test_a_responses_suite_page_has_each_turn_tool_call_and_result(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVALS_AGENT_MODEL", raising=False)
    text, document = responses_page(tmp_path)
    (suite,) = document["suites"]
    cat = next(c for c in suite["cases"] if c["id"] == "cat")
    assert cat["status"] == "fail" and cat["answer"] == "gold" and cat["expected"] == "silver"
    t = cat["repeats"][0]["transcript"]
    assert t["api"] == "responses" and t["final"] == "gold"
    assert [e["type"] for e in t["entries"]] == ["message", "message", "tool_call", "tool_result", "message"]
    assert json.loads(t["entries"][2]["arguments"]) == {"who": "cat"} and json.loads(t["entries"][3]["output"]) == {"plan": "silver"}
    assert embedded(text) == json.loads(json.dumps(document))


# --- a real run writes it -----------------------------------------------------------------------------


def test_every_run_that_writes_scores_md_writes_the_same_page(tmp_path):
    """pytest on a copy of this repo's suite, twice: the page is written beside scores.md, the same bytes, and audited clean."""
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("evals", "prompts", "cassettes", "reports"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "conftest.py"):
        shutil.copy(REPO / name, root / name)
    (root / "reports/index.html").unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", "evals/test_room_selector.py", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
    pages = []
    for _ in range(2):
        done = subprocess.run(command, cwd=root, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        pages.append((root / "reports/index.html").read_bytes())
    assert pages[0] == pages[1]
    assert len(embedded(pages[0].decode("utf-8"))["suites"][0]["cases"]) == 81
    audit = subprocess.run([sys.executable, "-m", "replaygate.cassettes.audit", "reports/index.html"], cwd=root,
                           capture_output=True, text=True)
    assert audit.returncode == 0 and "1 files clean" in audit.stdout, audit.stdout + audit.stderr
