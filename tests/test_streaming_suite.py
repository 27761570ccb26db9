"""A streaming agent as a suite: chat and Responses, `stream=True` and the `.stream()` helpers, sync and async,
recorded through its FunctionModel under `--llm=sim --eval-record-mode=all` and replayed by a plain `pytest`,
scores the same answers, tokens and tool calls as its unstreamed twin, and reports time to first token."""

from __future__ import annotations

import json
import re
import shutil
import socket
from pathlib import Path

import pytest

from replaygate.double.transport import FunctionTransport

AGENT = Path(__file__).parent / "data" / "streams" / "agent.py"
PYPROJECT = """
[tool.pytest.ini_options]
eval_pass_threshold = 0.8

[tool.replaygate]
prompt = "prompts/plans.md"
cassettes = "cassettes"
reports = "reports"
"""
MODULE = """
from agent import DOUBLE, GRADERS, TASKS, {solver}
from replaygate import Suite

SUITE = Suite("{solver}", solver={solver}, tasks=TASKS, double=DOUBLE, graders=GRADERS)


@SUITE.cases
def test_plans(eval_case):
    eval_case.check()
"""
SUITES = ("streamed_async", "streamed_sync", "plain")


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT",
                 "EVALS_AGENT_MODEL", "EVALS_JUDGE_MODEL"):
        monkeypatch.delenv(name, raising=False)
    shutil.copyfile(AGENT, pytester.path / "agent.py")
    pytester.makefile(".toml", pyproject=PYPROJECT)
    (pytester.path / "prompts").mkdir()
    (pytester.path / "prompts" / "plans.md").write_text("[system]\nAnswer with the plan name only; look it up.\n"
                                                        "[user]\n{who}\n", encoding="utf-8")
    for solver in SUITES:
        (pytester.path / f"test_{solver}.py").write_text(MODULE.format(solver=solver), encoding="utf-8")
    return pytester


def cases(root: Path) -> dict[str, dict[str, dict]]:
    scores = json.loads((root / "reports" / "scores.json").read_text(encoding="utf-8"))
    return {name: {case["task_id"]: case for case in suite["cases"]} for name, suite in scores["suites"].items()}


def graded(case: dict) -> tuple:
    return case["chosen"], case["score"], case["tokens_in"], case["tokens_out"], case["grader_scores"]


@pytest.mark.slow  # three suites of eight cases, recorded and replayed in process: seconds
def test_a_streaming_suite_scores_as_its_unstreamed_twin_recorded_and_replayed(project, monkeypatch):
    recorded = project.runpytest("-p", "no:hypothesispytest", "--llm=sim", "--eval-record-mode=all")
    assert recorded.ret == pytest.ExitCode.OK, recorded.stdout.str()
    live = cases(project.path)
    twin = live["plain"]
    assert len(twin) == 8 and all(case["passed"] for case in twin.values())
    assert all(case["tokens_in"] > 0 and case["tokens_out"] > 0 for case in twin.values())
    for name in ("streamed_async", "streamed_sync"):
        # Answers, tokens and each tool-call grader read off the streamed events as off the unstreamed bodies.
        assert {task: graded(case) for task, case in live[name].items()} == {task: graded(case) for task, case in twin.items()}
        assert all(case["ttft_s"] is not None and case["ttft_s"] > 0 for case in live[name].values())
    assert all(case["ttft_s"] is None for case in twin.values())
    scores = json.loads((project.path / "reports" / "scores.json").read_text(encoding="utf-8"))
    ttft = scores["suites"]["streamed_async"]["ttft_s"]
    assert ttft["streamed_cases"] == 8 and ttft["measures"] == "model time to first token" and ttft["p50"] > 0
    assert scores["suites"]["plain"]["ttft_s"] is None
    report = (project.path / "reports" / "scores.md").read_text(encoding="utf-8")
    assert report.count("| time to first token p50 / p95 |") == 2  # the two streamed suites, not the twin

    def refuse(*args, **kwargs):
        raise AssertionError("a model was called in replay")

    monkeypatch.setattr(FunctionTransport, "handle_request", refuse)
    monkeypatch.setattr(FunctionTransport, "handle_async_request", refuse)
    replayed = project.runpytest("-p", "no:hypothesispytest")
    assert replayed.ret == pytest.ExitCode.OK, replayed.stdout.str()
    again = cases(project.path)
    for name in SUITES:
        assert {t: graded(c) for t, c in again[name].items()} == {t: graded(c) for t, c in live[name].items()}
    assert all(case["ttft_s"] is not None for case in again["streamed_sync"].values())
    assert json.loads((project.path / "reports" / "scores.json").read_text())["suites"]["streamed_sync"]["ttft_s"][
        "measures"] == "replay time"
    cassette = next((project.path / "cassettes" / "streamed_async").rglob("responses-helper-ann.r0.json"))
    bodies = [i["response"]["body"] for i in json.loads(cassette.read_text(encoding="utf-8"))["interactions"]]
    assert all(body["string"].startswith("event: response.created\n") for body in bodies)


def test_the_streaming_example_in_the_docs_records_and_replays(pytester, monkeypatch):
    """docs/streaming.md's files, as a user would copy them: record through the double, replay with no socket."""
    for name in ("EVALS_AGENT_MODEL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT", "AZURE_AI_PROJECT_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    text = (Path(__file__).parents[1] / "docs" / "streaming.md").read_text(encoding="utf-8")
    files = re.findall(r"```\w+\n# ([\w./]+)\n(.*?)```", text, re.S)
    assert [name for name, _ in files] == ["pyproject.toml", "evals/plans.yaml", "prompts/plans.md", "evals/test_plans.py"]
    for name, body in files:
        (pytester.path / name).parent.mkdir(parents=True, exist_ok=True)
        (pytester.path / name).write_text(body, encoding="utf-8")
    recorded = pytester.runpytest("-p", "no:hypothesispytest", "--llm=sim", "--eval-record-mode=all")
    recorded.assert_outcomes(passed=2)
    live = cases(pytester.path)["plans"]
    assert all(case["ttft_s"] > 0 and case["tokens_in"] > 0 for case in live.values())

    def refuse(self, address):
        raise AssertionError(f"replay opened a socket to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    pytester.runpytest("-p", "no:hypothesispytest").assert_outcomes(passed=2)
    assert {t: graded(c) for t, c in cases(pytester.path)["plans"].items()} == {t: graded(c) for t, c in live.items()}
