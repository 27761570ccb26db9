"""No contamination: seed-free splits, a gate that refuses held-out tasks, cases a prompt shows kept out of the
regression gate, and a gate anyone can recompute from the optimization JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evals.bench.project import REPO, committed_task_lines, scaffold
from evals.rooms.suite import room_suite
from evals.sim import SimTransport
from replaygate.core.config import load_config
from replaygate.run.evaluation import RunInfo
from replaygate.core.task import SPLITS, Task
from replaygate.llm.backend import resolve_backend
from replaygate.optimize.candidate import Candidate
from replaygate.optimize.writeback import held_out_leaks, write_back_decision
from replaygate.optimize.operators import EXAMPLE_LEAD
from replaygate.optimize.run import optimize
from replaygate.optimize.search import Search
from replaygate.optimize.settings import OptimizeSettings, load_settings
from replaygate.optimize.split import assign_splits
from replaygate.results.baseline import load_baseline
from replaygate.results.gate import LEAK_GAP, Leak, compare_to_baseline, find_leak, task_leaks
from replaygate.results.record import CaseRecord
from replaygate.results.report import render_scores
from replaygate.results.results import RunResults, SuiteResults
from replaygate.results.stats import paired_comparison

SIM = resolve_backend("sim", False, {}, {})
WEAK_PROMPT = REPO / "tests/data/al_baseline_prompt.md"
WEAK = WEAK_PROMPT.read_text(encoding="utf-8")
RATIOS = OptimizeSettings().splits.model_dump()


def room_tasks() -> list[Task]:
    rows = [json.loads(line) for line in committed_task_lines()]
    return [Task(row["id"], row["task_input"], row["expected_choice"]) for row in rows]


def example_line(task: Task) -> str:
    """A few-shot line as an older evo wrote them (the issue's "Example: … -> the right answer is No Room")."""
    plain = {k: (", ".join(map(str, v)) or "none") if isinstance(v, list) else v for k, v in task.input.items()}
    return f"{EXAMPLE_LEAD}{'; '.join(f'{k} {v}' for k, v in plain.items())} -> the right answer is {task.expected}."


# --- the detector ------------------------------------------------------------------------------

DATES = st.dates().map(lambda d: d.isoformat())
TIMES = st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda hm: f"{hm[0]:02d}:{hm[1]:02d}")
WORDS = st.sampled_from(["projector", "whiteboard", "tv", "videoconf", "confphone", "ledwall"])
ANSWERS = st.one_of(st.just("No Room"), st.integers(100, 399).map(lambda n: f"R-{n}"))
TASKS = st.builds(
    lambda tid, date, time, minutes, people, needs, flag, answer: Task(
        tid, {"date": date, "time": time, "duration_min": minutes, "attendees": people, "needs": needs,
              "accessible_required": flag}, answer),
    st.from_regex(r"t-[a-z0-9]{1,6}", fullmatch=True), DATES, TIMES, st.integers(15, 240), st.integers(1, 40),
    st.lists(WORDS, max_size=3, unique=True), st.booleans(), ANSWERS,
)
# Prose without digits: rules and filler that name no task's date, time or numbers.
PROSE = st.text(st.sampled_from("abcdefghij klmnop.,:;-\n"), max_size=300)
TEMPLATE = "Find a room on {date} at {time} for {duration_min} minutes, {attendees} attendees. Needs: {needs}.\n"


def key_value_block(task: Task) -> str:
    lines = [f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in task.input.items()]
    return "Input:\n" + "\n".join(lines) + f"\nAnswer: {task.expected}"


def rendered_request(task: Task) -> str:
    values = {k: ", ".join(v) if isinstance(v, list) else v for k, v in task.input.items()}
    return TEMPLATE.format(**values) + f"The right answer: {task.expected}"


@settings(max_examples=80, deadline=None)
@given(task=TASKS, before=PROSE, after=PROSE, shape=st.sampled_from([example_line, key_value_block, rendered_request]))
def test_an_example_of_a_task_is_found_wherever_it_stands_with_its_answer(task, before, after, shape):
    text = before + "\n" + shape(task) + "\n" + after
    assert find_leak(text, task) == Leak(task.id, True)
    # Case and line breaks are not what makes an example.
    assert find_leak(" \n ".join(text.upper().split()), task) == Leak(task.id, True)


@settings(max_examples=80, deadline=None)
@given(task=TASKS, rule=PROSE)
def test_the_template_and_a_short_answer_as_a_rule_show_no_task(task, rule):
    text = TEMPLATE + rule + f"\nWhen nothing fits, answer {task.expected}. Never answer {task.expected} twice.\n"
    assert find_leak(text, task) is None


@settings(max_examples=60, deadline=None)
@given(task=TASKS)
def test_values_scattered_over_a_prompt_are_no_example(task):
    filler = " and ".join(["keep the rules in mind"] * (LEAK_GAP // 20 + 1))
    text = f"\n{filler}\n".join(f"{name} {value}" for name, value in task.input.items())
    assert find_leak(text, task) is None


@settings(max_examples=60, deadline=None)
@given(tasks=st.lists(TASKS, min_size=1, max_size=6, unique_by=lambda t: t.id), data=st.data())
def test_which_tasks_a_text_shows_depends_on_neither_their_order_nor_the_others(tasks, data):
    shown = data.draw(st.lists(st.sampled_from(tasks), max_size=3))
    text = WEAK + "\n".join(example_line(t) for t in shown)
    found = {leak.task_id for leak in task_leaks(text, tasks)}
    assert {t.id for t in shown} <= found
    assert found == {leak.task_id for leak in task_leaks(text, data.draw(st.permutations(tasks)))}
    assert found == {t.id for t in tasks if find_leak(text, t) is not None}


def test_whole_tokens_only_and_too_little_evidence_is_never_flagged():
    task = Task("t", {"date": "2026-03-03", "time": "11:00", "attendees": 11, "minutes": 6}, "R-101")
    # A booking list holds the date and "11:00" and "6:30": neither is 11 attendees or 6 minutes.
    assert find_leak('bookings ["2026-03-03", "11:00", 60], ["2026-03-03", "6:30", 30]', task) is None
    assert find_leak("2026-03-03 at 11:00, 11 people, 6 minutes", task) == Leak("t", False)
    assert find_leak("on 2026-03-03 at 11:00, 11 people for 6 min -> R-101", task) == Leak("t", True)
    assert find_leak("R-101 is the default room.", task) is None  # an answer as a rule is no example
    assert find_leak("pick 3 of them", Task("n", {"n": 3}, "A")) is None  # 3 alone could be anything
    long = Task("q", {"question": "Who?"}, "The capital of Australia is Canberra, not Sydney")
    assert find_leak("Remember: the capital of Australia is Canberra, not Sydney.", long) == Leak("q", True)


# --- splits ------------------------------------------------------------------------------------

IDS = st.lists(st.from_regex(r"[a-z0-9-]{1,10}", fullmatch=True), min_size=4, max_size=40, unique=True)


def placed(splits) -> dict[str, str]:
    return {task.id: name for name, tasks in splits.items() for task in tasks}


@given(IDS, st.randoms(use_true_random=False), st.text(max_size=8))
def test_splits_are_stable_under_reordering(ids, rng, salt):
    tasks = [Task(i, {"x": 1}, "A") for i in ids]
    shuffled = list(tasks)
    rng.shuffle(shuffled)
    assert placed(assign_splits(tasks, RATIOS, salt)) == placed(assign_splits(shuffled, RATIOS, salt))


@settings(max_examples=30, deadline=None)
@given(IDS, st.integers(0, 10**6), st.integers(0, 10**6), st.data())
def test_the_search_seed_never_moves_a_task_and_a_task_s_own_split_wins(ids, seed_a, seed_b, data):
    own = {i: data.draw(st.sampled_from((None, *SPLITS))) for i in ids}
    tasks = [Task(i, {"x": 1}, "A", split=own[i]) for i in ids]
    # Never empty, and a holdout the gate could pass on (5 tasks at alpha 0.05), else the search refuses to start.
    tasks += [Task(f"{s}-pinned-{k}", {"x": 1}, "A", split=s) for s in ("validation", "holdout") for k in range(5)]

    def splits(seed):
        return Search(OptimizeSettings(seed=seed), None, None, tasks, Candidate("Q {x}"), ("x",)).splits

    assert placed(splits(seed_a)) == placed(splits(seed_b)) == placed(assign_splits(tasks, RATIOS, ""))
    assert all(placed(splits(seed_a))[t.id] == t.split for t in tasks if t.split)


# --- the write-back gate -----------------------------------------------------------------------


def test_the_gate_refuses_a_candidate_that_shows_a_validation_or_holdout_task_and_names_it():
    tasks = room_tasks()
    splits = assign_splits(tasks, RATIOS)
    held, checked, trained = splits["holdout"][0], splits["validation"][0], splits["train"][0]
    # A key-value rendering of a validation task, without its answer.
    rest = ", ".join(str(v) for k, v in checked.input.items() if k not in ("date", "time"))
    text = (WEAK + example_line(held) + f"\n{checked.input['date']} at {checked.input['time']}: {rest}\n"
            + example_line(trained))
    assert held_out_leaks(text, splits) == [f"the input of validation task {checked.id}",
                                            f"the input of holdout task {held.id} and its answer"]
    assert held_out_leaks(WEAK + example_line(trained), splits) == []  # train tasks may be examples
    gain = {t: [1.0] for t in "abcdefgh"}
    assert write_back_decision({t: [0.0] for t in gain}, gain, 0.05, 0.05).accepted
    refused = write_back_decision({t: [0.0] for t in gain}, gain, 0.05, 0.05, held_out_leaks(text, splits))
    assert not refused.accepted
    assert f"holds the input of validation task {checked.id} (and 1 more)" in refused.summary


def project(root: Path, prompt: str = WEAK) -> Path:
    scaffold(root, committed_task_lines(), prompt=WEAK_PROMPT)
    (root / "prompt.md").write_text(prompt, encoding="utf-8")
    return root


def run_optimize(root: Path, **settings):
    config = load_config(root / "pyproject.toml", {"prompt": str(root / "prompt.md")})
    raw = {"cache": str(root / ".evals/cache.jsonl"), "history": str(root / "history"),
           "report": str(root / "reports/optimization.md"), **settings}
    return optimize(room_suite(double=SimTransport), config, root, SIM, load_settings(raw), {})


def test_a_live_prompt_that_shows_a_holdout_task_is_refused_before_anything_is_spent(tmp_path):
    held = assign_splits(room_tasks(), RATIOS)["holdout"][0]
    root = project(tmp_path, WEAK + example_line(held) + "\n")
    with pytest.raises(ValueError, match=rf"prompt.md: the live prompt holds the input of holdout task {held.id} "):
        run_optimize(root)
    assert not (root / ".evals").exists()


@pytest.mark.parametrize("strategy, knobs", [
    ("apo", {"budget": 150, "apo": {"beam_rounds": 1}}),
    ("evo", {"budget": 150, "min_gain": 0.5, "evo": {"generations": 2, "llm_operators": False, "operators": ["add_constraint"]}}),
])
def test_the_gate_s_verdict_recomputes_from_the_optimization_json_alone(tmp_path, strategy, knobs):
    run = run_optimize(project(tmp_path), strategy=strategy, **knobs)
    doc = json.loads((tmp_path / f"reports/optimization/{strategy}.json").read_text(encoding="utf-8"))
    assert doc["split_salt"] == "" and doc["gate"] is not None
    scores = doc["holdout_scores"]
    assert scores["metric"] == "score" and set(scores["incumbent"]) == set(scores["best"]) == set(doc["splits"]["holdout"])
    cmp = paired_comparison({t: [v] for t, v in scores["incumbent"].items()}, {t: [v] for t, v in scores["best"].items()})
    assert cmp.to_dict() == {k: doc["gate"][k] for k in cmp.to_dict()}
    gate = doc["settings"]
    accepted = cmp.n > 0 and cmp.diff >= gate["min_gain"] and cmp.p_gain < gate["alpha"]
    assert accepted == doc["gate"]["accepted"] == doc["accepted"] == run.written
    assert strategy == "apo" or not accepted  # one verdict of each kind


# --- the regression gate and the report --------------------------------------------------------


def table_cells(markdown: str) -> list[list[str]]:
    """Every row of every table in `markdown`, as stripped cells."""
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in markdown.splitlines() if line.startswith("|")]


def record(task: str, score: float, contaminated: str = "") -> CaseRecord:
    return CaseRecord(task, 0, "A", "A" if score >= 0.8 else "B", score, score >= 0.8, "", contaminated=contaminated)


def test_contaminated_cases_run_and_show_but_stay_out_of_the_gate(tmp_path):
    tasks = [f"t{i}" for i in range(8)]
    (tmp_path / "baseline.json").write_text(json.dumps({"format": 3, "suites": {"s": {"cases": {
        t: {"score": 1.0, "passed": True} for t in tasks}}}}), encoding="utf-8")
    baseline = load_baseline(tmp_path / "baseline.json")
    # Two cases dropped to 0, but the prompt shows their input: no evidence either way.
    why = "the prompt shows the input of task t0 and its answer"
    records = [record("t0", 0.0, why), record("t1", 0.0, why), *(record(t, 1.0) for t in tasks[2:])]
    info = RunInfo("s", "replay", "sim", True, "m", "", "prompt.md", "v1", "none")
    results = RunResults(0.8, suites={"s": SuiteResults(info, records)})
    diff = compare_to_baseline(results.suites["s"].outcomes(None), baseline, "s", results.run_settings(results.suites["s"]))
    assert diff.contaminated_tasks == ("t0", "t1") and diff.verdict.comparison.n == 6 and not diff.failed
    assert diff.regressions == [] and "t0" not in diff.deltas
    text = render_scores(results, {"s": diff}, {})
    cells = table_cells(text)
    assert ["contaminated", "2 cases whose input appears in the prompt (kept out of the gate)"] in cells
    assert "contaminated (input in the prompt, not tested): 2" in text
    rows = {row[0]: row for row in cells if row[0] in ("t0", "t2")}
    assert rows["t0"][4:6] == ["excluded", "FAIL, contaminated"] and rows["t2"][5] == "pass"


# --- two chained `--optimize=evo` runs, every request the simulator received -------------------


@pytest.fixture
def requests_seen(monkeypatch):
    """Every request body the in-process simulator answered, in order."""
    seen: list[dict] = []
    real = SimTransport._answer

    def answer(self, request):
        seen.append(json.loads(request.content or b"{}"))
        return real(self, request)

    monkeypatch.setattr(SimTransport, "_answer", answer)
    return seen


def optimizer_texts(bodies: list[dict]) -> list[str]:
    """The critic, editor and mutation requests: plain requests about a `<prompt>` (agents get tools)."""
    texts = ["\n".join(str(m.get("content") or "") for m in body.get("messages", []))
             for body in bodies if "tools" not in body]
    return [text for text in texts if "<prompt>" in text]


def test_two_chained_evo_runs_show_no_held_out_task_to_the_optimizer_and_the_report_flags_the_example(
        pytester, requests_seen):
    root = pytester.path
    tasks = room_tasks()
    splits = assign_splits(tasks, RATIOS)
    # As the issue found it: an earlier evo run wrote a train task into the prompt as a few-shot example.
    trained = next(t for t in splits["train"] if t.expected == "No Room")
    project(root, WEAK + example_line(trained) + "\n")

    def pytest_run(*args: str, codes=(0,)) -> pytest.RunResult:
        result = pytester.runpytest("-p", "no:hypothesispytest", *args)
        assert result.ret in codes, result.stdout.str()
        return result

    # The first recording has no baseline yet: the weak prompt's failures fail, then become known failures.
    first = pytest_run("--llm=sim", "--eval-record-mode=all", "--update-baseline", codes=(0, 1))
    flag = f"contaminated: 1 case whose input appears in the prompt, kept out of the gate ({trained.id})"
    assert flag in first.stdout.str()
    evo = ("--optimize=evo", "--optimize-budget=200", "--set", "optimize.evo.generations=3")
    requests_seen.clear()
    documents = []
    for seed in (3, 5):
        pytest_run(*evo, f"--optimize-seed={seed}")
        documents.append(json.loads((root / "reports/optimization/room_selector/evo.json").read_text(encoding="utf-8")))
    sent = optimizer_texts(requests_seen)
    assert sum("## Critique" in text for text in sent) >= 3  # mutation requests went out

    # The splits are the task ids' own: the second seed holds out exactly what the first did.
    assert documents[0]["splits"] == documents[1]["splits"] == {n: [t.id for t in ts] for n, ts in splits.items()}
    guarded = splits["validation"] + splits["holdout"]
    for text in sent:
        assert task_leaks(text, guarded) == []
        for task in guarded:
            assert not re.search(rf"\b{task.id}\b", text)
            date, time, minutes, people = (task.input[k] for k in ("date", "time", "duration_min", "attendees"))
            assert f"{date}; time {time}; duration_min {minutes}; attendees {people};" not in text  # an example
            assert f"on {date} at {time} for {minutes} minutes, {people} attendees" not in text  # a rendered request
    # Not vacuous: the recording holds the prompts sent, train example included.
    assert any(find_leak(text, trained) for text in sent)

    final = (root / "prompt.md").read_text(encoding="utf-8")
    flagged = [leak.task_id for leak in task_leaks(final, tasks)]
    replay = pytest_run()
    report = (root / "reports/scores.md").read_text(encoding="utf-8")
    scores = json.loads((root / "reports/scores.json").read_text(encoding="utf-8"))["suites"]["room_selector"]
    assert scores["gate"]["contaminated_tasks"] == flagged
    assert scores["gate"]["comparison"]["n"] == len(tasks) - len(flagged)
    assert all(c["contaminated"] == "" or c["task_id"] in flagged for c in scores["cases"])
    assert flagged == [trained.id]  # the example survived both runs, and stays flagged
    cells = table_cells(report)
    assert ["contaminated", "1 case whose input appears in the prompt (kept out of the gate)"] in cells
    (row,) = [row for row in cells if row[0] == trained.id]
    assert row[4] == "excluded" and row[5].endswith(", contaminated")
    assert flag in replay.stdout.str()
