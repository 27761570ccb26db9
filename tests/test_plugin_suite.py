"""The pytest plugin end to end, on throwaway projects run in-process with `pytester`.

Every project is self-contained: its own pyproject.toml (`[tool.pytest.ini_options]` and
`[tool.replaygate]`), rooms, tasks, prompts, cassettes and reports, all under `pytester.path`.
Models are the in-process simulator or cassettes; nothing opens a socket.
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx2
import pytest

# Imported here so the plugin's modules stay loaded across in-process runs (pytester would
# otherwise re-import openai & co. for every run).
import replaygate.plugin.cases  # noqa: F401
from replaygate.core.prompt import PromptTemplate
from replaygate.results.report import SIMULATOR_NOTE
from evals.rooms.oracle import choose
from evals.rooms.request import RoomRequest
from evals.rooms.world import NO_ROOM, load_world
from evals.sim import SimTransport

REPO = Path(__file__).resolve().parents[1]
ROOMS = REPO / "evals" / "rooms" / "data" / "rooms.json"

INPUTS = {
    "t1": {"date": "2026-03-02", "time": "10:30", "duration_min": 45, "attendees": 6, "needs": ["projector", "whiteboard"], "accessible_required": True},
    "t2": {"date": "2026-03-03", "time": "09:00", "duration_min": 60, "attendees": 2, "needs": [], "accessible_required": False},
    "t3": {"date": "2026-03-04", "time": "14:00", "duration_min": 30, "attendees": 4, "needs": ["whiteboard"], "accessible_required": False},
    "t4": {"date": "2026-03-02", "time": "16:00", "duration_min": 90, "attendees": 8, "needs": ["tv"], "accessible_required": True},
    "t5": {"date": "2026-03-03", "time": "13:00", "duration_min": 60, "attendees": 30, "needs": [], "accessible_required": False},
    "t6": {"date": "2026-03-04", "time": "08:00", "duration_min": 120, "attendees": 3, "needs": ["videoconf"], "accessible_required": False},
    "t7": {"date": "2026-03-02", "time": "10:00", "duration_min": 60, "attendees": 500, "needs": [], "accessible_required": False},
}
IDS = list(INPUTS)

USER_LINE = (
    "Find a room on {date} at {time} for {duration_min} minutes, {attendees} attendees. "
    "Needs: {needs}. Accessible required: {accessible_required}"
)
WEAK = USER_LINE + "\n"
STRONG = f"""[system]
You book meeting rooms. Call the tool only once, then answer.
Hard rules: the room must be free for the whole slot; its capacity must be at least the number of attendees;
it must have all of the required equipment; it must be accessible when accessibility is required.
Among the rooms that pass, prefer the smallest capacity surplus, then the fewest extra equipment items,
then the nearest room, then the fewest bookings that day.
Reply with only the room id. If no room fits, answer "No Room".

[user]
{USER_LINE}
"""
# The judge prompt as committed (nothing rewrites it; --optimize changes only the agent's prompt).
JUDGE = (REPO / "prompts" / "judge.md").read_text(encoding="utf-8")
PYPROJECT = """
[tool.pytest.ini_options]
eval_pass_threshold = 0.8

[tool.replaygate]
tasks = "data/tasks.jsonl"
rooms = "data/rooms.json"
prompt = "prompts/weak.md"
judge_prompt = "prompts/judge.md"
cassettes = "recorded"
reports = "out"
baseline = "out/baseline.json"

[tool.replaygate.graders]
exact_choice = 0.6
constraints = 0.2
judge = 0.2
"""
TEST_MODULE = """
from evals.rooms.suite import room_suite
from evals.sim import SimTransport

SUITE = room_suite(double=SimTransport)


def test_room_task(eval_case):
    eval_case.check()
"""
SUMMARY = re.compile(r"^(PASSED|FAILED|XFAIL|XPASS|ERROR) test_rooms\.py::test_room_task\[([^\]]+)\]", re.MULTILINE)
CASSETTES = Path("recorded") / "room_selector" / "sim-standin-1"


def expected_choices() -> dict[str, str]:
    world = load_world(ROOMS)
    return {tid: choose(world, RoomRequest.from_input(inp, tid)) for tid, inp in INPUTS.items()}


def task_lines(expected: dict[str, str]) -> list[str]:
    return [json.dumps({"id": tid, "task_input": INPUTS[tid], "expected_choice": expected[tid]}) for tid in INPUTS]


class Project:
    def __init__(self, pytester: pytest.Pytester):
        self.pytester = pytester
        self.path = pytester.path
        self.expected = expected_choices()
        (self.path / "data").mkdir()
        (self.path / "prompts").mkdir()
        shutil.copyfile(ROOMS, self.path / "data" / "rooms.json")
        self.write_tasks(task_lines(self.expected))
        self.write("prompts/weak.md", WEAK)
        self.write("prompts/strong.md", STRONG)
        self.write("prompts/judge.md", JUDGE)
        self.write("pyproject.toml", PYPROJECT)
        self.write("conftest.py", '')
        self.write("test_rooms.py", TEST_MODULE)

    def write(self, relpath: str, text: str) -> Path:
        path = self.path / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def write_tasks(self, lines: list[str]) -> None:
        self.write("data/tasks.jsonl", "\n".join(lines) + "\n")

    def run(self, *args: str) -> pytest.RunResult:
        # -rA lists every outcome; the hypothesis plugin only slows the inner runs down.
        return self.pytester.runpytest("-p", "no:hypothesispytest", "-rA", *args)

    @staticmethod
    def outcomes(result: pytest.RunResult) -> dict[str, str]:
        return {case: outcome for outcome, case in SUMMARY.findall(result.stdout.str())}

    @staticmethod
    def failure_text(result: pytest.RunResult, case: str) -> str:
        (report,) = [
            r for r in result.reprec.getreports("pytest_runtest_logreport")
            if r.when == "call" and r.nodeid == f"test_rooms.py::test_room_task[{case}]"
        ]
        return report.longreprtext

    @property
    def report(self) -> Path:
        return self.path / "out" / "scores.md"

    def report_rows(self) -> dict[str, list[str]]:
        rows = {}
        text = self.report.read_text(encoding="utf-8")
        for line in text[text.index("## Tasks"):].splitlines():
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells and cells[0] in INPUTS:
                rows[cells[0]] = cells
        return rows

    def cases_section(self) -> str:
        text = self.report.read_text(encoding="utf-8")
        return text[text.index("## Tasks") :]

    def cassette_files(self) -> dict[str, bytes]:
        root = self.path / "recorded"
        return {str(p.relative_to(self.path)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()} if root.exists() else {}


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Project:
    for name in (
        "OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT",
        "AZURE_OPENAI_API_VERSION", "EVALS_AGENT_MODEL", "EVALS_JUDGE_MODEL",
    ):
        monkeypatch.delenv(name, raising=False)
    pytester.syspathinsert(REPO)
    return Project(pytester)


@pytest.fixture
def forbid_models(monkeypatch: pytest.MonkeyPatch):
    """Call it to make any later model call (simulator or real HTTP) fail loudly; returns the attempts."""
    calls: list[str] = []

    def install() -> list[str]:
        async def refuse(self, request):
            calls.append(f"{type(self).__name__} {request.method} {request.url}")
            raise AssertionError("a model was called")

        monkeypatch.setattr(SimTransport, "handle_async_request", refuse)
        monkeypatch.setattr(httpx2.AsyncHTTPTransport, "handle_async_request", refuse)
        return calls

    return install


@pytest.fixture
def no_model(forbid_models) -> list[str]:
    """No model may be called at all in this test."""
    return forbid_models()


def test_the_fixture_tasks_cover_rooms_and_no_room():
    expected = expected_choices()
    assert NO_ROOM in expected.values()
    assert len(set(expected.values())) >= 5


# --- (a) one test per task, and the report ------------------------------------------------------


def test_each_task_is_its_own_test_and_the_report_has_a_row_per_task(project):
    collected = project.run("--collect-only", "-q")
    assert [line for line in collected.outlines if "::" in line] == [f"test_rooms.py::test_room_task[{tid}]" for tid in IDS]

    result = project.run("--llm=sim")
    outcomes = project.outcomes(result)
    assert set(outcomes) == set(IDS)
    assert set(outcomes.values()) <= {"PASSED", "FAILED"}
    result.stdout.fnmatch_lines(["evals: each suite's offline test double (in-process; not a real model), record mode none*"])
    result.stdout.fnmatch_lines([f"evals room_selector: {len(IDS)} cases (live), * passed, mean score * -> out/scores.md"])

    text = project.report.read_text(encoding="utf-8")
    assert SIMULATOR_NOTE in text
    assert f"`prompts/weak.md` version `{PromptTemplate(Path('x'), WEAK).version}`" in text
    rows = project.report_rows()
    assert list(rows) == sorted(IDS)  # one row per task, in id order
    for tid, cells in rows.items():
        assert cells[1] == project.expected[tid]
        assert cells[5] == ("pass" if outcomes[tid] == "PASSED" else "FAIL")
    # Live runs use no cassettes; nothing is written besides the report.
    assert not (project.path / "recorded").exists()
    assert sorted(p.name for p in (project.path / "out").iterdir()) == ["index.html", "scores.json", "scores.md"]


def test_a_selected_subset_runs_only_its_cases(project):
    result = project.run("--llm=sim", "-k", "t2 or t5")
    assert set(project.outcomes(result)) == {"t2", "t5"}
    assert set(project.report_rows()) == {"t2", "t5"}


# --- (b) record, then replay offline --------------------------------------------------------------


def test_record_writes_one_cassette_per_case_and_replay_repeats_the_outcomes(project, forbid_models):
    recorded = project.run("--eval-record-mode=all")
    recorded.stdout.fnmatch_lines(["evals: *offline test double*record mode all*[[]no credentials found: using each suite's offline test double, not a real model[]]"])
    record_outcomes = project.outcomes(recorded)
    assert set(record_outcomes) == set(IDS)
    files = project.cassette_files()
    assert sorted(files) == sorted(str(CASSETTES / f"{tid}.r0.json") for tid in IDS)
    for tid in IDS:
        data = json.loads(files[str(CASSETTES / f"{tid}.r0.json")])
        assert data["metadata"]["recorded_with"].startswith("simulator")
        sent = json.dumps([i["request"]["body"] for i in data["interactions"]])
        # Only this case's traffic: its own date/time and attendees, nobody else's.
        assert f"{INPUTS[tid]['attendees']} attendees" in sent
        for other in IDS:
            if INPUTS[other]["attendees"] != INPUTS[tid]["attendees"]:
                assert f"{INPUTS[other]['attendees']} attendees" not in sent
    record_cases = project.cases_section()

    calls = forbid_models()  # from here on, reaching the simulator or the network fails the case
    replayed = project.run()
    replayed.stdout.fnmatch_lines(["evals: replay of recorded cassettes (offline*), record mode none*"])
    assert project.outcomes(replayed) == record_outcomes
    assert calls == []
    assert project.cases_section() == record_cases  # same choices, scores and reasons
    text = project.report.read_text(encoding="utf-8")
    assert re.search(r"\| mode +\| replay \(record mode `none`\)", text)
    assert SIMULATOR_NOTE in text  # the answers still came from the simulator
    assert project.cassette_files() == files  # replay never rewrites a cassette
    assert replayed.ret == recorded.ret


# --- (c) misses ---------------------------------------------------------------------------------


def test_replay_with_a_changed_prompt_fails_each_case_with_a_rerecord_command(project, forbid_models):
    project.run("--eval-record-mode=all")
    files = project.cassette_files()
    no_model = forbid_models()
    project.write("prompts/changed.md", "Please. " + WEAK)

    result = project.run("--prompt=prompts/changed.md")
    assert project.outcomes(result) == {tid: "FAILED" for tid in IDS}
    assert result.ret == 1
    assert no_model == []
    for tid in IDS:
        message = project.failure_text(result, tid)
        message = message.strip()
        assert "\n" not in message
        assert message.startswith(f"case {tid} (repeat 0): no recording in {CASSETTES / f'{tid}.r0.json'}: ")
        assert "the request differs from the recording: body.messages[0].content differs" in message
        assert message.endswith(
            f"; record it with: pytest 'test_rooms.py::test_room_task[{tid}]' --prompt=prompts/changed.md --eval-record-mode=all"
        )
    assert project.cassette_files() == files
    rows = project.report_rows()
    assert all(cells[5] == "FAIL" and "no recording in" in cells[6] for cells in rows.values())


def test_a_new_case_without_a_cassette_asks_for_record_mode_once(project, forbid_models):
    project.run("--eval-record-mode=all")
    no_model = forbid_models()
    before = project.outcomes(project.run())
    lines = task_lines(project.expected)
    lines.append(json.dumps({"id": "t-new", "task_input": INPUTS["t2"], "expected_choice": project.expected["t2"]}))
    project.write_tasks(lines)

    result = project.run()
    outcomes = project.outcomes(result)
    assert outcomes.pop("t-new") == "FAILED"
    assert outcomes == before
    message = project.failure_text(result, "t-new").strip()
    assert "case t-new (repeat 0)" in message
    assert "the cassette file does not exist" in message
    assert message.endswith("record it with: pytest 'test_rooms.py::test_room_task[t-new]' --eval-record-mode=once")
    assert not (project.path / CASSETTES / "t-new.r0.json").exists()
    assert no_model == []


# --- (d) a prompt that states every rule ----------------------------------------------------------


def test_strong_prompt_passes_most_cases_and_beats_the_weak_one(project):
    weak = project.outcomes(project.run("--llm=sim"))
    strong_result = project.run("--llm=sim", "--prompt=prompts/strong.md")
    strong = project.outcomes(strong_result)
    strong_passed = sum(o == "PASSED" for o in strong.values())
    weak_passed = sum(o == "PASSED" for o in weak.values())
    assert strong_passed >= len(IDS) - 1
    assert strong_passed > weak_passed
    assert "`prompts/strong.md`" in project.report.read_text(encoding="utf-8")


# --- settings from the ini file and the command line ----------------------------------------------


def test_pass_threshold_comes_from_the_ini_file(project):
    strict = project.outcomes(project.run("--llm=sim"))
    assert "FAILED" in strict.values()
    project.write("pyproject.toml", PYPROJECT.replace("eval_pass_threshold = 0.8", "eval_pass_threshold = 0.0"))
    lenient = project.run("--llm=sim")
    assert project.outcomes(lenient) == {tid: "PASSED" for tid in IDS}
    assert "threshold 0)" in project.report.read_text(encoding="utf-8")


def test_max_turns_option_reaches_the_agent_loop(project):
    result = project.run("--llm=sim", "--max-turns=1")
    assert project.outcomes(result) == {tid: "FAILED" for tid in IDS}
    rows = project.report_rows()
    assert all("no final answer within 1 turns" in cells[6] for cells in rows.values())


# --- (e) the baseline: known failures are xfail, regressions fail ---------------------------------


def test_baseline_turns_known_failures_into_xfail_and_regressions_into_failures(project):
    baseline_path = project.path / "out" / "baseline.json"
    first = project.run("--llm=sim", "--update-baseline")
    first.stdout.fnmatch_lines(["*; baseline updated"])
    document = json.loads(baseline_path.read_text(encoding="utf-8"))
    assert document["format"] == 3 and list(document["suites"]) == ["room_selector"]
    baseline = document["suites"]["room_selector"]
    assert baseline["repeats"] == 1 and baseline["grader_weights"] == {"constraints": 0.2, "exact_choice": 0.6, "judge": 0.2}
    assert baseline["prompt_version"] == PromptTemplate(Path("x"), WEAK).version
    assert baseline["agent_model"] == "sim-standin-1" and baseline["threshold"] == 0.8
    assert set(baseline["cases"]) == set(IDS)
    outcomes = project.outcomes(first)
    failing = sorted(tid for tid, case in baseline["cases"].items() if not case["passed"])
    passing = sorted(tid for tid, case in baseline["cases"].items() if case["passed"])
    assert failing == sorted(t for t, o in outcomes.items() if o == "FAILED")
    assert failing and passing, "the weak prompt should fail some cases and pass others"

    # Same prompt again: the known failures are xfailed, the run is green.
    again = project.run("--llm=sim")
    assert project.outcomes(again) == {**{t: "XFAIL" for t in failing}, **{t: "PASSED" for t in passing}}
    assert again.ret == 0
    assert json.loads(baseline_path.read_text(encoding="utf-8")) == document  # not updated without the flag

    # A better prompt: known failures now pass -> XPASS, not strict, still green.
    better = project.run("--llm=sim", "--prompt=prompts/strong.md")
    better_outcomes = project.outcomes(better)
    assert better.ret == 0
    fixed = [t for t in failing if better_outcomes[t] == "XPASS"]
    assert len(fixed) >= len(failing) - 1 and fixed
    assert all(better_outcomes[t] in ("XPASS", "XFAIL") for t in failing)

    # A case the baseline says passed, failing now, is a real failure.
    regressed = failing[0]
    edited = json.loads(baseline_path.read_text(encoding="utf-8"))
    edited["suites"]["room_selector"]["cases"][regressed]["passed"] = True
    baseline_path.write_text(json.dumps(edited), encoding="utf-8")
    worse = project.run("--llm=sim")
    worse_outcomes = project.outcomes(worse)
    assert worse_outcomes[regressed] == "FAILED"
    assert all(worse_outcomes[t] == "XFAIL" for t in failing if t != regressed)
    assert worse.ret == 1
    assert project.failure_text(worse, regressed).startswith("score ")  # the graders' reasons, no traceback


def test_a_cassette_miss_on_a_known_failure_still_fails(project, forbid_models):
    project.run("--eval-record-mode=all", "--update-baseline")
    no_model = forbid_models()
    baseline = json.loads((project.path / "out" / "baseline.json").read_text(encoding="utf-8"))["suites"]["room_selector"]
    failing = sorted(tid for tid, case in baseline["cases"].items() if not case["passed"])
    assert failing

    replay = project.run()
    assert {t: o for t, o in project.outcomes(replay).items() if t in failing} == {t: "XFAIL" for t in failing}

    project.write("prompts/changed.md", "Please. " + WEAK)
    missed = project.run("--prompt=prompts/changed.md")
    outcomes = project.outcomes(missed)
    assert outcomes == {tid: "FAILED" for tid in IDS}  # not XFAIL: a miss is not a known low score
    assert missed.ret == 1
    for tid in failing:
        assert "no recording in" in project.failure_text(missed, tid)
    assert no_model == []


# --- secrets ---------------------------------------------------------------------------------------


def test_a_case_whose_cassette_would_hold_a_secret_fails_alone(project, monkeypatch):
    secret = "sk-test-0f1e2d3c4b5a69788796"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    lines = task_lines(project.expected)
    lines[1] = json.dumps({"id": "t2", "task_input": {**INPUTS["t2"], "needs": [secret]}, "expected_choice": NO_ROOM})
    project.write_tasks(lines)
    calls: list[str] = []
    original = SimTransport.handle_async_request

    async def counting(self, request):
        calls.append(str(request.url))
        return await original(self, request)

    monkeypatch.setattr(SimTransport, "handle_async_request", counting)

    result = project.run("--llm=sim", "--eval-record-mode=all")
    outcomes = project.outcomes(result)
    # Only t2 is refused; every other case is recorded and scored as usual.
    assert outcomes.pop("t2") == "FAILED"
    assert set(outcomes) == set(IDS) - {"t2"}
    assert set(outcomes.values()) <= {"PASSED", "FAILED"}
    assert "refusing to write, it would contain the value of $OPENAI_API_KEY" in project.failure_text(result, "t2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    files = project.cassette_files()
    assert sorted(files) == sorted(str(CASSETTES / f"{tid}.r0.json") for tid in IDS if tid != "t2")
    # Each case ran once: at most an agent round trip and a judge call per case.
    assert len(calls) <= 3 * len(IDS)
    assert project.report.is_file()
    for path in [*(project.path / "recorded").rglob("*"), *(project.path / "out").rglob("*")]:
        if path.is_file():
            assert secret not in path.read_text(encoding="utf-8"), path


# --- (f) user properties in JUnit XML ------------------------------------------------------------


def test_junitxml_carries_the_eval_properties(project):
    result = project.run("--llm=sim", "--junitxml=out/junit.xml")
    outcomes = project.outcomes(result)
    tree = ET.parse(project.path / "out" / "junit.xml")
    cases = {tc.get("name"): tc for tc in tree.iter("testcase")}
    assert set(cases) == {f"test_room_task[{tid}]" for tid in IDS}
    for tid in IDS:
        testcase = cases[f"test_room_task[{tid}]"]
        props = {p.get("name"): p.get("value") for p in testcase.iter("property")}
        assert set(props) >= {"eval_score", "eval_choice", "eval_expected", "eval_reasons", "eval_tokens_in", "eval_tokens_out"}
        assert props["eval_expected"] == project.expected[tid]
        score = float(props["eval_score"])
        assert 0.0 <= score <= 1.0
        assert (score >= 0.8) == (outcomes[tid] == "PASSED")
        assert (testcase.find("failure") is None) == (outcomes[tid] == "PASSED")
        assert int(props["eval_tokens_in"]) > 0
        assert "exact_choice=" in props["eval_reasons"]
        if outcomes[tid] == "PASSED":
            assert props["eval_choice"] == project.expected[tid]


# --- (g) bad input stops the run before any model call ---------------------------------------------


def _bad_tasks_line(project: Project) -> str:
    lines = task_lines(project.expected)
    lines.insert(1, '{"id": "broken", "task_input": {')
    project.write_tasks(lines)
    return "data/tasks.jsonl:2: not valid JSON"


def _huge_number_in_tasks(project: Project) -> str:
    # Valid JSON syntax that Python's decoder still refuses (more than 4300 digits).
    lines = task_lines(project.expected)
    lines.insert(1, '{"id": "big", "task_input": {"attendees": ' + "9" * 5000 + '}, "expected_choice": "R-101"}')
    project.write_tasks(lines)
    return "data/tasks.jsonl:2: "


def _unknown_room(project: Project) -> str:
    lines = task_lines(project.expected)
    lines[2] = json.dumps({"id": "t3", "task_input": INPUTS["t3"], "expected_choice": "R-999"})
    project.write_tasks(lines)
    return "data/tasks.jsonl:3: task 't3': expected_choice 'R-999' is not a room in data/rooms.json"


def _bad_task_input(project: Project) -> str:
    lines = task_lines(project.expected)
    lines[0] = json.dumps({"id": "t1", "task_input": {**INPUTS["t1"], "time": "25:00"}, "expected_choice": "R-101"})
    project.write_tasks(lines)
    return "data/tasks.jsonl:1: task 't1': \"time\" must be HH:MM"


def _unknown_placeholder(project: Project) -> str:
    project.write("prompts/weak.md", "Pick a room.\nFloor {floor}, date {date}.\n")
    return "prompts/weak.md:2: placeholder {floor} is not a task input"


def _missing_prompt(project: Project) -> str:
    (project.path / "prompts" / "weak.md").unlink()
    return "prompts/weak.md: prompt file not found"


def _missing_judge_prompt(project: Project) -> str:
    (project.path / "prompts" / "judge.md").unlink()
    return "prompts/judge.md: prompt file not found"


def _missing_rooms(project: Project) -> str:
    (project.path / "data" / "rooms.json").unlink()
    return "data/rooms.json: rooms file not found"


@pytest.mark.parametrize(
    "breaker",
    [_bad_tasks_line, _huge_number_in_tasks, _unknown_room, _bad_task_input, _unknown_placeholder, _missing_prompt, _missing_judge_prompt, _missing_rooms],
)
@pytest.mark.parametrize("mode", [("--llm=sim",), ("--eval-record-mode=all",)], ids=["live", "record"])
def test_bad_input_is_a_collection_error_before_any_model_call(project, no_model, breaker, mode):
    expected_message = breaker(project)
    result = project.run(*mode)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    lines = result.outlines
    header = next(i for i, line in enumerate(lines) if "ERROR collecting test_rooms.py" in line)
    # The whole error is one line: the message, with no traceback around it.
    shown = "\n".join(lines[header : header + 6])
    assert expected_message in lines[header + 1], shown
    assert lines[header + 2].startswith("====="), shown
    assert no_model == []
    assert not (project.path / "recorded").exists()
    assert not (project.path / "out").exists()


def test_prompt_option_pointing_nowhere_is_a_collection_error(project, no_model):
    result = project.run("--llm=sim", "--prompt=prompts/nope.md")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*prompts/nope.md: prompt file not found; create it or point the prompt setting (or --prompt) at an existing file*"])
    assert no_model == [] and not (project.path / "out").exists()


@pytest.mark.parametrize(
    "args, setup, fragment",
    [
        # A bad --set value is blamed on the option, not on pyproject.toml.
        (("--set", "max_turns=0"), None, "--set max_turns=0: max_turns: "),
        (("--set", "models.planner=x"), None, "--set models.planner=x: models.planner: "),
        (("--set", "nonsense"), None, "--set nonsense: expected KEY=VALUE"),
        ((), ("out/baseline.json", "{not json"), "out/baseline.json: not valid JSON"),
    ],
)
def test_bad_settings_are_a_usage_error(project, no_model, args, setup, fragment):
    if setup:
        project.write(*setup)
    result = project.run("--llm=sim", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert any(fragment in line for line in result.errlines), result.stderr.str()
    assert no_model == []
    assert not (project.path / "out" / "scores.md").exists()


def test_eval_case_in_a_module_without_suite_is_a_collection_error(project, no_model):
    project.write("test_nosuite.py", "def test_x(eval_case):\n    eval_case.check()\n")
    result = project.run("--llm=sim", "test_nosuite.py")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*test_nosuite.py::test_x: uses eval_case but names no suite; decorate it with @<your suite>.cases*"])


def test_unknown_suite_setting_is_a_collection_error(project, no_model):
    result = project.run("--llm=sim", "--set", "roms=data/rooms.json")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*--set roms=data/rooms.json: not a setting of the harness or of suite 'room_selector'*"])
    assert no_model == []


# --- (h) exit codes ---------------------------------------------------------------------------------


def test_a_run_selecting_no_eval_test_exits_5_and_writes_nothing(project, no_model):
    # Documented behaviour (pytest's NO_TESTS_COLLECTED), not a harness choice.
    result = project.run("--llm=sim", "-k", "no_such_case")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED == 5
    assert no_model == []
    assert not (project.path / "out").exists()


# --- (i) the regression gate against a baseline ------------------------------------------------------


def accept_strong_then_weak(project) -> Path:
    """The committed baseline from the weak prompt (its failures are known), a gate baseline from the strong one."""
    strong = project.run("--llm=sim", "--prompt=prompts/strong.md", "--set", "baseline=out/strong.json", "--update-baseline")
    assert (project.path / "out" / "strong.json").is_file(), strong.stdout.str()
    project.run("--llm=sim", "--update-baseline")
    return project.path / "out" / "strong.json"


def section(text: str, title: str) -> str:
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def test_a_significant_drop_fails_the_session_and_lists_the_regressed_tasks_first(project):
    strong = accept_strong_then_weak(project)
    result = project.run("--llm=sim", f"--baseline={strong}")
    # Every case is a known failure of the committed (weak) baseline, so only the gate can fail the run.
    assert set(project.outcomes(result).values()) <= {"PASSED", "XFAIL"}
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["evals room_selector: gate FAILED: significant regression; mean score * vs baseline *, "
                                 "Δ -0.* (95% CI -* to *), p(drop) 0.0*, over 7 tasks*"])
    text = project.report.read_text(encoding="utf-8")
    headings = [h.split(" (")[0] for h in re.findall(r"^## (.+)$", text, re.MULTILINE)]
    assert headings.index("Gate") < headings.index("Regressions") < headings.index("Improvements") < headings.index("Tasks")
    assert "❌ **gate FAILED" in section(text, "Gate")
    regressed = [line.split("|")[1].strip() for line in section(text, "Regressions").splitlines() if re.match(r"\| t\d", line)]
    assert len(regressed) >= 4
    deltas = [float(line.split("|")[6]) for line in section(text, "Regressions").splitlines() if re.match(r"\| t\d", line)]
    assert deltas == sorted(deltas)  # the largest drop first
    assert f"prompt version: `{PromptTemplate(Path('x'), STRONG).version}` → `{PromptTemplate(Path('x'), WEAK).version}`" in text
    metadata = json.loads((project.path / "out" / "scores.json").read_text(encoding="utf-8"))
    gate = metadata["suites"]["room_selector"]["gate"]
    assert gate["failed"] is True and gate["regressions"] == regressed
    assert gate["comparison"]["diff"] < -0.02 and gate["comparison"]["p_drop"] < 0.05


def test_a_run_identical_to_its_baseline_passes_the_gate(project):
    project.run("--llm=sim", "--update-baseline")
    result = project.run("--llm=sim")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["evals room_selector: gate passed: no material drop; *Δ +0.000*p(drop) 1.0000, over 7 tasks*"])
    text = project.report.read_text(encoding="utf-8")
    assert "None." in section(text, "Regressions") and "None." in section(text, "Improvements")


def test_update_baseline_reports_the_gate_but_does_not_enforce_it(project):
    strong = accept_strong_then_weak(project)
    result = project.run("--llm=sim", f"--baseline={strong}", "--update-baseline")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*gate not enforced (--update-baseline accepts this run)*"])


def test_the_gate_thresholds_are_options(project):
    strong = accept_strong_then_weak(project)
    lenient = project.run("--llm=sim", f"--baseline={strong}", "--max-regression=0.9")
    assert lenient.ret == pytest.ExitCode.OK
    lenient.stdout.fnmatch_lines(["*gate passed: no material drop*(fails on a drop > 0.9 with p < 0.05)"])
    strict_alpha = project.run("--llm=sim", f"--baseline={strong}", "--alpha=0.0001")
    assert strict_alpha.ret == pytest.ExitCode.OK
    strict_alpha.stdout.fnmatch_lines(["*gate passed: drop within noise*(fails on a drop > 0.02 with p < 0.0001)"])


def test_a_missing_gate_baseline_is_a_usage_error_unless_optional(project):
    refused = project.run("--llm=sim", "--baseline=out/nowhere.json")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    assert any("--baseline out/nowhere.json: no such file; " in line for line in refused.errlines), refused.stderr.str()
    result = project.run("--llm=sim", "--baseline=out/nowhere.json", "--baseline-optional")
    assert result.ret != pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["*gate not run: no baseline at out/nowhere.json; the gate passes with nothing to compare*"])
    assert "**Not run**: no baseline at out/nowhere.json" in project.report.read_text(encoding="utf-8")


@pytest.mark.parametrize("content, fragment", [
    ("{not json", "not valid JSON"),
    ('{"format": 99, "cases": {}}', "not a baseline of format 3 (format 99"),
])
def test_an_unusable_gate_baseline_is_a_one_line_usage_error(project, no_model, content, fragment):
    project.write("base.json", content)
    result = project.run("--llm=sim", "--baseline=base.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if "base.json" in line]
    assert len(errors) == 1 and fragment in errors[0] and "rewrite it with --update-baseline" in errors[0]


def test_added_tasks_are_new_and_removed_tasks_are_named(project):
    project.run("--llm=sim", "--update-baseline", "-k", "t1 or t2 or t3 or t4 or t5")
    full = project.run("--llm=sim")
    assert full.ret == pytest.ExitCode.OK or "gate FAILED" not in full.stdout.str()
    text = project.report.read_text(encoding="utf-8")
    assert "compared: 5 tasks; new (not in the baseline, not tested): 2" in text
    assert "- new tasks: t6, t7" in text
    rows = project.report_rows()
    assert rows["t6"][4] == rows["t7"][4] == "new"
    project.write_tasks(task_lines(project.expected)[:3])  # t4..t7 removed from the task file
    fewer = project.run("--llm=sim")
    assert fewer.ret == pytest.ExitCode.OK
    text = project.report.read_text(encoding="utf-8")
    assert "in the baseline but not in this run: 2" in text and "- not in this run: t4, t5" in text


def test_an_older_format_baseline_still_gates_and_says_so(project):
    project.run("--llm=sim", "--update-baseline")
    path = project.path / "out" / "baseline.json"
    document = json.loads(path.read_text(encoding="utf-8"))["suites"]["room_selector"]
    older = {"format": 1, "cases": {t: {"score": c["score"], "passed": c["passed"]} for t, c in document["cases"].items()}}
    path.write_text(json.dumps(older), encoding="utf-8")
    result = project.run("--llm=sim")
    assert result.ret == pytest.ExitCode.OK
    assert "older format 1: no run settings or per-grader scores; rewrite it with --update-baseline" in project.report.read_text(encoding="utf-8")


def test_repeats_record_a_cassette_each_and_replay_with_k_of_n(project, forbid_models):
    recorded = project.run("--eval-record-mode=all", "--repeat=2", "--update-baseline")
    files = project.cassette_files()
    assert sorted(files) == sorted(str(CASSETTES / f"{tid}.r{k}.json") for tid in IDS for k in (0, 1))
    baseline = json.loads((project.path / "out" / "baseline.json").read_text(encoding="utf-8"))["suites"]["room_selector"]
    assert baseline["repeats"] == 2 and all(len(c["scores"]) == 2 for c in baseline["cases"].values())
    recorded.stdout.fnmatch_lines(["evals room_selector: 7 cases × 2 repeats (record), *"])
    forbid_models()
    replayed = project.run("--repeat=2", "--min-passes=1")
    assert replayed.ret == pytest.ExitCode.OK, replayed.stdout.str()
    text = project.report.read_text(encoding="utf-8")
    assert "a task passes when 1 of its 2 repeats pass" in text and "| pass@2 " in text
    missing = project.run("--repeat=3")
    assert missing.ret == pytest.ExitCode.TESTS_FAILED
    assert "--repeat=3 --eval-record-mode=" in project.failure_text(missing, "t1")


@pytest.mark.parametrize("args, fragment", [
    (("--repeat=0",), "--repeat 0: must be 1 or more"),
    (("--repeat=2", "--min-passes=3"), "--min-passes 3: must be between 1 and --repeat (2)"),
    (("--alpha=1.5",), "--alpha 1.5: the significance level must lie strictly between 0 and 1"),
    (("--max-regression=-1",), "--max-regression -1: must be a mean score drop of 0 or more"),
    (("--shard=3/2",), "--shard 3/2: expected I/N with 1 <= I <= N"),
])
def test_bad_gate_and_repeat_options_are_usage_errors(project, no_model, args, fragment):
    result = project.run("--llm=sim", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert any(fragment in line for line in result.errlines), result.stderr.str()


def test_the_report_is_appended_to_the_github_step_summary(project, monkeypatch):
    summary = project.path / "step-summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    project.run("--llm=sim")
    assert summary.read_text(encoding="utf-8") == "earlier step\n" + project.report.read_text(encoding="utf-8") + "\n"


def test_switch_to_recording_reloads_a_rewritten_prompt(project):
    # What an optimizer does: rewrite the prompt after collection, then have the session record against it.
    project.write("conftest.py", '' + '''
import pytest
from pathlib import Path
from replaygate.plugin.cases import STATE

@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    state = session.config.stash[STATE]
    Path("prompts/weak.md").write_text(Path("prompts/strong.md").read_text())
    state.switch_to_recording(state.backend, "all", update_baseline=True)
''')
    result = project.run("--llm=sim")
    baseline = json.loads((project.path / "out" / "baseline.json").read_text(encoding="utf-8"))["suites"]["room_selector"]
    strong = PromptTemplate(Path("x"), STRONG).version
    assert baseline["prompt_version"] == strong, result.stdout.str()
    assert f"version `{strong}`" in project.report.read_text(encoding="utf-8")
    assert len(project.cassette_files()) == len(IDS)
