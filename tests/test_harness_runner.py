"""The runner, the backend choice and one Evaluation wired from files (rooms suite, simulator)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import openai
import pytest

from replaygate.llm.backend import REPLAY_BASE_URL, SIM_BASE_URL, Backend, resolve_backend
from replaygate.cassettes.cassette import CassetteMiss
from replaygate.core.config import load_config
from replaygate.core.errors import InputError
from replaygate.run.evaluation import Evaluation
from replaygate.core.prompt import PromptFileError
from replaygate.core.rollout import Rollout
from replaygate.run.runner import CaseResult, evaluate, run_case
from replaygate.core.score import Score
from replaygate.cassettes.secrets import SecretLeakError
from replaygate.core.task import Task
from evals.rooms.oracle import choose
from evals.rooms.request import RoomRequest
from evals.sim import SimTransport
from evals.rooms.suite import room_suite
from evals.rooms.world import load_world

REPO = Path(__file__).resolve().parents[1]
ROOMS = REPO / "evals" / "rooms" / "data" / "rooms.json"


def task(tid: str) -> Task:
    return Task(id=tid, input={}, expected="x")


# --- evaluate / run_case ------------------------------------------------------------------------


def test_evaluate_returns_results_in_case_order_and_limits_concurrency():
    in_flight, peak, finished_order = 0, 0, []

    async def solver(t: Task, repeat: int) -> Rollout:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(10 - int(t.id)):  # later cases finish first
            await asyncio.sleep(0)
        in_flight -= 1
        return Rollout(task_id=t.id, repeat=repeat, final_text=t.id)

    def grader(t: Task, rollout: Rollout) -> Score:
        return Score(1.0 if int(t.id) % 2 == 0 else 0.0, "even" if int(t.id) % 2 == 0 else "odd")

    cases = [(task(str(n)), 0) for n in range(8)]
    results = asyncio.run(
        evaluate(cases, solver, {"g": grader}, {"g": 1.0}, concurrency=3, on_result=lambda r: finished_order.append(r.task.id))
    )
    assert [r.task.id for r in results] == [str(n) for n in range(8)]
    assert [r.value for r in results] == [1.0, 0.0] * 4
    assert peak <= 3
    assert sorted(finished_order) == sorted(str(n) for n in range(8))  # on_result once per case


def test_one_broken_case_does_not_stop_the_others():
    async def solver(t: Task, repeat: int) -> Rollout:
        if t.id == "boom":
            raise RuntimeError("solver exploded")
        return Rollout(task_id=t.id)

    def grader(t: Task, rollout: Rollout) -> Score:
        if t.id == "bad-grade":
            raise KeyError("grader bug")
        return Score(1.0, "ok")

    results = asyncio.run(
        evaluate([(task("ok"), 0), (task("boom"), 0), (task("bad-grade"), 0)], solver, {"g": grader}, {"g": 1.0}, 2)
    )
    ok, boom, bad = results
    assert ok.passes(0.8) and ok.failure is None
    assert isinstance(boom.failure, RuntimeError) and boom.rollout is None and not boom.passes(0.0)
    assert isinstance(bad.failure, KeyError) and bad.rollout is not None and not bad.passes(0.0)
    assert boom.value == 0.0


def test_run_case_composes_the_weighted_score():
    async def solver(t, repeat):
        return Rollout(task_id=t.id, repeat=repeat)

    result = asyncio.run(
        run_case(task("a"), 2, solver, {"x": lambda t, r: Score(1.0, "ok"), "y": lambda t, r: Score(0.0, "no")}, {"x": 3.0, "y": 1.0})
    )
    assert result.repeat == 2
    assert result.value == pytest.approx(0.75)
    assert result.score.reason == "y: no"
    assert result.passes(0.75) and not result.passes(0.76)


def test_case_result_without_score_never_passes():
    assert not CaseResult(task=task("a"), repeat=0).passes(0.0)


# --- backend choice -----------------------------------------------------------------------------


def test_replay_unless_a_backend_is_asked_for_or_recording():
    backend = resolve_backend(None, False, {"OPENAI_API_KEY": "sk-x-12345678"}, {})
    assert backend.kind == "replay" and backend.base_url == REPLAY_BASE_URL
    assert backend.transport(8) is None  # nothing may be reached
    assert not backend.is_simulator


@pytest.mark.parametrize(
    "env, kind",
    [
        ({}, "sim"),
        ({"OPENAI_API_KEY": "sk-1"}, "openai"),
        ({"AZURE_OPENAI_ENDPOINT": "https://a.invalid", "AZURE_OPENAI_API_KEY": "k", "OPENAI_API_KEY": "sk-1"}, "azure"),
        ({"AZURE_OPENAI_ENDPOINT": "https://a.invalid", "OPENAI_API_KEY": "sk-1"}, "openai"),  # Azure needs both
    ],
)
def test_auto_prefers_azure_then_openai_then_the_simulator(env, kind):
    assert resolve_backend("auto", False, env, {}).kind == kind
    assert resolve_backend(None, True, env, {}).kind == kind  # recording without --llm means auto


def test_simulator_backend():
    backend = resolve_backend("sim", False, {"OPENAI_API_KEY": "sk-1"}, {})
    assert backend.is_simulator and backend.base_url == SIM_BASE_URL
    # Under --llm=sim each suite's own test double answers; a suite without one is refused by name.
    assert type(backend.with_double(SimTransport, "rooms").transport(4)).__name__ == "SimTransport"
    with pytest.raises(InputError, match="suite 'bare' has no offline test double"):
        backend.with_double(None, "bare")


def test_openai_backend_reads_key_and_base_url():
    backend = resolve_backend("openai", False, {"OPENAI_API_KEY": "sk-1", "OPENAI_BASE_URL": "http://localhost:9/v1"}, {})
    assert (backend.api_key, backend.base_url) == ("sk-1", "http://localhost:9/v1")
    assert resolve_backend("openai", False, {"OPENAI_API_KEY": "sk-1"}, {}).base_url == "https://api.openai.com/v1"


def test_azure_backend_deployments_and_version():
    env = {"AZURE_OPENAI_ENDPOINT": "https://a.invalid", "AZURE_OPENAI_API_KEY": "k", "AZURE_OPENAI_JUDGE_DEPLOYMENT": "env-judge"}
    backend = resolve_backend("azure", False, env, {"agent": "cfg-agent", "judge": "cfg-judge"})
    assert backend.deployments == {"agent": "cfg-agent", "judge": "env-judge", "optimizer": "env-judge"}
    assert backend.api_version == "2024-10-21"
    assert resolve_backend("azure", False, {**env, "AZURE_OPENAI_API_VERSION": "2025-01-01"}, {}).api_version == "2025-01-01"


@pytest.mark.parametrize(
    "llm, env, fragment",
    [
        ("openai", {}, "--llm=openai: OPENAI_API_KEY is not set"),
        # An endpoint without a key signs in with Entra ID; asking for key auth without a key is the error.
        ("azure", {"AZURE_OPENAI_ENDPOINT": "https://a.invalid", "AZURE_OPENAI_AUTH": "key"},
         "--llm=azure: AZURE_OPENAI_AUTH=key but AZURE_OPENAI_API_KEY is not set"),
        ("gemini", {}, "--llm=gemini: unknown backend; use one of auto, openai, azure, sim"),
    ],
)
def test_backend_errors_are_one_line(llm, env, fragment):
    with pytest.raises(InputError) as info:
        resolve_backend(llm, False, env, {})
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_replay_clients_never_retry_and_live_clients_do():
    import httpx2

    http = httpx2.AsyncClient()
    replay = Backend("replay", "r", base_url=REPLAY_BASE_URL).client("agent", http, 5.0)
    live = Backend("sim", "s", base_url=SIM_BASE_URL).client("agent", http, 5.0)
    azure = Backend("azure", "a", base_url="https://a.invalid", api_key="k", api_version="v", deployments={"agent": "dep"}).client("agent", http, 5.0)
    assert replay.max_retries == 0
    assert live.max_retries > 0
    assert isinstance(azure, openai.AsyncAzureOpenAI)
    assert "/deployments/dep" in str(azure.base_url)
    asyncio.run(http.aclose())


# --- one Evaluation from files ----------------------------------------------------------------------

PROMPT = (
    "[system]\nCall the tool only once. The room must be free for the whole slot; capacity at least the number of "
    "attendees; it must have all of the required equipment; accessible when accessibility is required. Prefer the "
    "smallest capacity surplus, then the fewest extra equipment items, then the nearest, then the fewest bookings. "
    'Reply with only the room id, or "No Room".\n\n[user]\nFind a room on {date} at {time} for {duration_min} minutes, '
    "{attendees} attendees. Needs: {needs}. Accessible required: {accessible_required}\n"
)
INPUTS = {
    "a": {"date": "2026-03-03", "time": "09:00", "duration_min": 60, "attendees": 2, "needs": [], "accessible_required": False},
    "b": {"date": "2026-03-04", "time": "14:00", "duration_min": 30, "attendees": 4, "needs": ["whiteboard"], "accessible_required": False},
}


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("EVALS_AGENT_MODEL", raising=False)
    monkeypatch.delenv("EVALS_JUDGE_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(ROOMS, tmp_path / "rooms.json")
    world = load_world(ROOMS)
    lines = [
        json.dumps({"id": tid, "task_input": inp, "expected_choice": choose(world, RoomRequest.from_input(inp, tid))})
        for tid, inp in INPUTS.items()
    ]
    (tmp_path / "tasks.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "agent.md").write_text(PROMPT, encoding="utf-8")
    return tmp_path


def make(root: Path, backend: Backend, record_mode: str = "none", environ=None, **settings) -> Evaluation:
    overrides = {"tasks": "tasks.jsonl", "prompt": "agent.md", "rooms": "rooms.json", "cassettes": "cas", **settings}
    config = load_config(None, overrides)
    return Evaluation(room_suite(double=SimTransport), config, root, backend, record_mode, environ or {})


SIM = Backend("sim", "simulator", base_url=SIM_BASE_URL)
REPLAY = Backend("replay", "replay", base_url=REPLAY_BASE_URL)


def test_live_run_on_the_simulator_scores_every_case_and_writes_no_cassette(root):
    evaluation = make(root, SIM)
    assert evaluation.mode == "live"
    results = evaluation.run(evaluation.loaded.tasks)
    assert [r.task.id for r in results] == ["a", "b"]
    assert all(r.failure is None and r.passes(0.8) for r in results)
    assert all(r.rollout.answer == r.task.expected for r in results)
    assert not (root / "cas").exists()
    info = evaluation.info()
    assert (info.suite, info.mode, info.is_simulator, info.prompt_path) == ("room_selector", "live", True, "agent.md")
    assert info.judge_model == ""  # default graders: no judge


def test_record_then_replay_at_the_harness_level(root):
    recorder = make(root, SIM, "once")
    assert recorder.mode == "record"
    recorded = recorder.run(recorder.loaded.tasks)
    files = sorted(p.name for p in (root / "cas" / "room_selector" / "sim-standin-1").iterdir())
    assert files == ["a.r0.json", "b.r0.json"]

    player = make(root, REPLAY)
    assert player.mode == "replay"
    replayed = player.run(player.loaded.tasks)
    assert [(r.rollout.answer, r.value) for r in replayed] == [(r.rollout.answer, r.value) for r in recorded]
    assert player.info().is_simulator  # seen in the recorded answers

    # A second repeat was never recorded: it misses, repeat 0 still replays.
    missing = player.run(player.loaded.tasks, repeats=2)
    assert [type(r.failure) for r in missing] == [type(None), CassetteMiss, type(None), CassetteMiss]
    assert [r.repeat for r in missing] == [0, 1, 0, 1]


def test_replay_without_cassettes_fails_each_case_with_a_miss(root):
    evaluation = make(root, REPLAY)
    results = evaluation.run(evaluation.loaded.tasks)
    assert all(isinstance(r.failure, CassetteMiss) and r.failure.record_mode_hint == "once" for r in results)
    assert not (root / "cas").exists()


def test_unknown_setting_and_grader_are_input_errors(root):
    with pytest.raises(InputError, match=r"--set roomz=x: not a setting of the harness or of suite 'room_selector'"):
        make(root, SIM, roomz="x")
    with pytest.raises(InputError, match=r"grader weights of suite 'room_selector': vibes: no such grader; use one of constraints, exact_choice, judge"):
        make(root, SIM, graders={"exact_choice": 1.0, "vibes": 1.0})


def test_judge_prompt_is_checked_only_when_the_judge_counts(root):
    make(root, SIM, graders={"exact_choice": 1.0, "judge": 0.0}, judge_prompt="missing.md")
    with pytest.raises(PromptFileError, match=r"missing\.md: prompt file not found"):
        make(root, SIM, graders={"exact_choice": 1.0, "judge": 0.5}, judge_prompt="missing.md")


def test_case_key_uses_the_agent_model_env_override(root, monkeypatch):
    evaluation = make(root, SIM)
    monkeypatch.setenv("EVALS_AGENT_MODEL", "gpt-test")
    key = evaluation.case_key(evaluation.loaded.tasks[0], 3)
    assert key.relpath == "room_selector/gpt-test/a.r3.json"


def test_a_secret_in_one_case_fails_that_case_only(root):
    secret = "sk-test-aa11bb22cc33dd44"
    lines = (root / "tasks.jsonl").read_text(encoding="utf-8").splitlines()
    leaky = json.loads(lines[1])
    leaky["task_input"]["needs"] = [secret]
    lines[1] = json.dumps(leaky)
    (root / "tasks.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    evaluation = make(root, SIM, "all", environ={"OPENAI_API_KEY": secret})
    results = evaluation.run(evaluation.loaded.tasks)  # must not raise: one case's problem is that case's failure
    ok, leaked = results
    assert ok.failure is None
    assert isinstance(leaked.failure, SecretLeakError)
    assert (root / "cas" / "room_selector" / "sim-standin-1" / "a.r0.json").is_file()
    assert not (root / "cas" / "room_selector" / "sim-standin-1" / "b.r0.json").exists()
