"""Two suites in one project: one baseline keyed by suite, a gate per suite, one report, shards and merge.

Both suites are the room suite under other names, on the same seven task ids, so anything still
keyed by task id alone (known failures, missing tasks, baseline entries) shows up here.
`rooms_a` reads the project's task file; `rooms_b` reads `data/tasks_b.jsonl`, whose expected
answers a test can make wrong to degrade that suite alone.
"""

from __future__ import annotations

import json
import re

import pytest

from replaygate.results.shards import main as shards_main
from evals.rooms.world import load_world
from tests.test_plugin_suite import INPUTS, REPO, ROOMS, Project, forbid_models, task_lines  # noqa: F401

IDS = list(INPUTS)
SUITES = ("rooms_a", "rooms_b")
SUITE_A = """
from evals.rooms.suite import room_suite
from evals.sim import SimTransport

SUITE = room_suite(double=SimTransport).replace(name="rooms_a")


def test_room_task(eval_case):
    eval_case.check()
"""
SUITE_B = """
import json
from pathlib import Path

from evals.rooms.suite import room_suite
from evals.sim import SimTransport

TASKS = [json.loads(line) for line in Path("data/tasks_b.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
SUITE = room_suite(double=SimTransport).replace(name="rooms_b", tasks=TASKS)


def test_room_task(eval_case):
    eval_case.check()
"""
OUTCOME = re.compile(r"^(PASSED|FAILED|XFAIL|XPASS|ERROR) test_([ab])\.py::test_room_task\[([^\]]+)\]", re.MULTILINE)


class Suites(Project):
    def __init__(self, pytester: pytest.Pytester):
        super().__init__(pytester)
        (self.path / "test_rooms.py").unlink()
        self.write("test_a.py", SUITE_A)
        self.write("test_b.py", SUITE_B)
        self.degrade_b(False)

    def degrade_b(self, wrong: bool) -> None:
        """Suite b's tasks, with every expected answer another room than the right one when `wrong`."""
        expected = dict(self.expected)
        if wrong:
            rooms = load_world(ROOMS).ids
            expected = {tid: next(r for r in rooms if r != choice) for tid, choice in expected.items()}
        self.write("data/tasks_b.jsonl", "\n".join(task_lines(expected)) + "\n")

    @staticmethod
    def by_suite(result: pytest.RunResult) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {"rooms_a": {}, "rooms_b": {}}
        for outcome, module, case in OUTCOME.findall(result.stdout.str()):
            found[f"rooms_{module}"][case] = outcome
        return found

    def baseline(self, name: str = "baseline.json") -> dict:
        return json.loads((self.path / "out" / name).read_text(encoding="utf-8"))

    def scores(self) -> dict:
        return json.loads((self.path / "out" / "scores.json").read_text(encoding="utf-8"))


@pytest.fixture
def suites(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Suites:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT",
                 "AZURE_OPENAI_API_VERSION", "EVALS_AGENT_MODEL", "EVALS_JUDGE_MODEL"):
        monkeypatch.delenv(name, raising=False)
    pytester.syspathinsert(REPO)
    return Suites(pytester)


def test_the_baseline_holds_both_suites_and_known_failures_are_per_suite(suites, forbid_models):
    suites.degrade_b(True)  # every case of b fails, while a passes some of the same task ids
    recorded = suites.run("--eval-record-mode=all", "--update-baseline")
    assert set(suites.by_suite(recorded)["rooms_b"].values()) == {"FAILED"}
    document = suites.baseline()
    assert document["format"] == 3 and sorted(document["suites"]) == list(SUITES)
    for name in SUITES:
        entry = document["suites"][name]
        assert set(entry["cases"]) == set(IDS) and entry["threshold"] == 0.8 and entry["agent_model"] == "sim-standin-1"
        assert "suite" not in entry  # the key names it
    passing_a = sorted(t for t, c in document["suites"]["rooms_a"]["cases"].items() if c["passed"])
    assert passing_a and not any(c["passed"] for c in document["suites"]["rooms_b"]["cases"].values())

    calls = forbid_models()
    replayed = suites.run()
    assert calls == [] and replayed.ret == pytest.ExitCode.OK, replayed.stdout.str()
    outcomes = suites.by_suite(replayed)
    # b's known failures are not a's: a's passing cases of the same ids are plain passes, not XPASS.
    assert outcomes["rooms_a"] == {t: "PASSED" if t in passing_a else "XFAIL" for t in IDS}
    assert outcomes["rooms_b"] == {t: "XFAIL" for t in IDS}
    for name in SUITES:
        replayed.stdout.fnmatch_lines([f"evals {name}: gate passed: no material drop; *over 7 tasks*"])
    text = suites.report.read_text(encoding="utf-8")
    assert text.startswith("# Scores\n") and "2 suites, each gated against its own entry in the baseline." in text
    assert re.findall(r"^## (.+)$", text, re.MULTILINE) == list(SUITES)
    assert text.count("in the baseline but not in this run: 0") == 2  # the other suite's tasks are not missing
    assert len(re.findall(r"^```mermaid$", text, re.MULTILINE)) == 2


def test_a_degraded_suite_fails_the_gate_while_the_other_passes(suites):
    suites.run("--llm=sim", "--set", "prompt=prompts/strong.md", "--update-baseline")
    suites.degrade_b(True)
    result = suites.run("--llm=sim", "--set", "prompt=prompts/strong.md")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["evals rooms_a: gate passed: no material drop; *Δ +0.000*"])
    result.stdout.fnmatch_lines(["evals rooms_b: gate FAILED: significant regression; *over 7 tasks*"])
    result.stdout.fnmatch_lines(["evals: gate FAILED for suite rooms_b"])
    gates = {name: suite["gate"] for name, suite in suites.scores()["suites"].items()}
    assert gates["rooms_a"]["failed"] is False and gates["rooms_b"]["failed"] is True
    assert gates["rooms_a"]["regressions"] == [] and gates["rooms_b"]["regressions"]
    overview = suites.report.read_text(encoding="utf-8").split("\n## ")[0]
    row = {line.split("|")[1].strip(): line for line in overview.splitlines() if line.startswith("| rooms_")}
    assert "✅ passed" in row["rooms_a"] and "❌ FAILED: significant regression" in row["rooms_b"]


def test_running_one_suite_keeps_the_other_suites_entry_and_gates_only_itself(suites):
    suites.run("--llm=sim", "--update-baseline")
    before = suites.baseline()
    only_b = suites.run("--llm=sim", "--set", "prompt=prompts/strong.md", "--update-baseline", "test_b.py")
    assert "evals rooms_a" not in only_b.stdout.str()
    after = suites.baseline()
    assert after["suites"]["rooms_a"] == before["suites"]["rooms_a"]
    assert after["suites"]["rooms_b"]["prompt_version"] != before["suites"]["rooms_b"]["prompt_version"]

    only_a = suites.run("--llm=sim", "-k", "test_a")
    assert set(suites.by_suite(only_a)["rooms_a"]) == set(IDS) and not suites.by_suite(only_a)["rooms_b"]
    assert only_a.ret == pytest.ExitCode.OK, only_a.stdout.str()
    only_a.stdout.fnmatch_lines(["evals rooms_a: gate passed: no material drop; *over 7 tasks*"])
    text = suites.report.read_text(encoding="utf-8")
    assert text.startswith("# Scores: rooms_a\n")  # one suite ran: the one-suite layout
    assert "in the baseline but not in this run: 0" in text
    assert suites.baseline() == after  # not updated without the flag


def test_a_format_2_baseline_still_gates_its_suite_and_says_to_rewrite(suites):
    suites.run("--llm=sim", "--update-baseline")
    entry = suites.baseline()["suites"]["rooms_a"]
    older = {"format": 2, "suite": "rooms_a", **entry}
    (suites.path / "out" / "baseline.json").write_text(json.dumps(older), encoding="utf-8")

    result = suites.run("--llm=sim")
    assert "gate FAILED" not in result.stdout.str()
    outcomes = suites.by_suite(result)
    assert outcomes["rooms_a"] == {t: "PASSED" if c["passed"] else "XFAIL" for t, c in entry["cases"].items()}
    assert "XFAIL" not in outcomes["rooms_b"].values()  # the format-2 file's cases are a's, not b's
    result.stdout.fnmatch_lines([
        "evals rooms_a: gate passed: no material drop; *over 7 tasks*",
        "evals rooms_b: gate not run: suite rooms_b is new, not in *baseline.json: its 7 tasks are new; "
        "the gate passes with nothing to compare (add it with pytest --update-baseline)",
        "evals: *baseline.json is baseline format 2; rewrite it as format 3 with pytest --update-baseline",
    ])
    text = suites.report.read_text(encoding="utf-8")
    assert "older format 2: not keyed by suite; rewrite it with --update-baseline" in text
    assert "not run: new suite, not in the baseline" in text.split("\n## ")[0]

    rewritten = suites.run("--llm=sim", "--update-baseline")
    assert "baseline format 2" not in rewritten.stdout.str()
    document = suites.baseline()
    assert document["format"] == 3 and sorted(document["suites"]) == list(SUITES)
    assert document["suites"]["rooms_a"]["cases"] == entry["cases"]


def test_shards_and_their_merge_equal_a_serial_run_with_two_suites(suites, forbid_models, capsys):
    suites.degrade_b(True)
    suites.run("--eval-record-mode=all", "--update-baseline")
    forbid_models()
    # A gate with something to say: a baseline claiming every case of both suites once scored 1.
    high = suites.baseline()
    for entry in high["suites"].values():
        for case in entry["cases"].values():
            case["score"] = 1.0
    (suites.path / "high.json").write_text(json.dumps(high), encoding="utf-8")

    serial = suites.run("--baseline=high.json")
    serial_report = suites.report.read_bytes()
    serial_gates = {name: s["gate"] for name, s in suites.scores()["suites"].items()}
    assert serial.ret == pytest.ExitCode.TESTS_FAILED and serial_gates["rooms_b"]["failed"]
    suites.report.unlink()

    records = {name: 0 for name in SUITES}
    for index in (1, 2):
        shard = suites.run(f"--shard={index}/2", f"--results-json=shard-{index}.json", "--baseline=high.json")
        assert shard.ret == pytest.ExitCode.OK, shard.stdout.str()
        for name, part in json.loads((suites.path / f"shard-{index}.json").read_text(encoding="utf-8"))["suites"].items():
            records[name] += len(part["records"])
    assert records == {name: len(IDS) for name in SUITES}
    capsys.readouterr()
    code = shards_main(["merge", "shard-1.json", "shard-2.json", "--baseline", "high.json"])
    printed = capsys.readouterr().out
    assert code == 1, printed
    assert "evals rooms_b: gate FAILED" in printed
    assert suites.report.read_bytes() == serial_report
    assert {name: s["gate"] for name, s in suites.scores()["suites"].items()} == serial_gates


def test_a_suite_threshold_reaches_its_verdicts_report_and_baseline_entry(suites):
    pyproject = suites.path / "pyproject.toml"
    # 0 is a threshold of its own, not "unset": every case of b passes.
    pyproject.write_text(pyproject.read_text(encoding="utf-8") + "\n[tool.replaygate.suites.rooms_b]\nthreshold = 0.0\n",
                         encoding="utf-8")
    result = suites.run("--llm=sim", "--update-baseline")
    outcomes = suites.by_suite(result)
    assert "FAILED" in outcomes["rooms_a"].values() and set(outcomes["rooms_b"].values()) == {"PASSED"}
    entries = suites.baseline()["suites"]
    assert entries["rooms_a"]["threshold"] == 0.8 and entries["rooms_b"]["threshold"] == 0.0
    assert all(c["passed"] for c in entries["rooms_b"]["cases"].values())
    assert not all(c["passed"] for c in entries["rooms_a"]["cases"].values())
    text = suites.report.read_text(encoding="utf-8")
    section_a, section_b = text.split("\n## rooms_a\n")[1].split("\n## rooms_b\n")
    assert "threshold 0.8)" in section_a and "(7/7, threshold 0)" in section_b
    assert {name: s["threshold"] for name, s in suites.scores()["suites"].items()} == {"rooms_a": 0.8, "rooms_b": 0.0}
    # Known failures follow the suite's own verdicts: a's failures xfail, b has none.
    again = suites.by_suite(suites.run("--llm=sim"))
    assert set(again["rooms_a"].values()) == {"PASSED", "XFAIL"} and set(again["rooms_b"].values()) == {"PASSED"}


def test_one_suites_file_options_refuse_a_session_of_two_suites(suites):
    """--tasks and --prompt name one suite's file; with two suites they would feed both the same one."""
    result = suites.run("--llm=sim", "--prompt=prompts/strong.md")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["--prompt names one suite's file, but this session runs suites 'rooms_a' and 'rooms_b'; "
                                 "select one suite (a path or -k), or use --set suites.<name>.prompt=…"])
    assert suites.run("--llm=sim", "--prompt=prompts/strong.md", "test_b.py").ret == pytest.ExitCode.OK
