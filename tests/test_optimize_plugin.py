"""`pytest --optimize` through pytest itself: search, write-back, re-record, then an offline green run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import replaygate.plugin.optimize  # noqa: F401 - keep the plugin's modules loaded across in-process runs
from evals.bench.project import REPO, committed_task_lines, scaffold

# The weak prompt the repo started from; fixed, since --optimize may rewrite prompts/room_selector.md.
WEAK_PROMPT = REPO / "tests/data/al_baseline_prompt.md"

CONFTEST = ''


@pytest.fixture
def suite_project(pytester: pytest.Pytester) -> Path:
    root = pytester.path
    scaffold(root, committed_task_lines(), prompt=WEAK_PROMPT)
    shutil.copytree(REPO / "replaygate/optimize/prompts", root / "prompts/optimizer")
    (root / "conftest.py").write_text(CONFTEST)
    return root


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:hypothesispytest", *args)


def test_optimize_writes_back_records_and_the_next_plain_run_replays_green(pytester, suite_project):
    root = suite_project
    before = (root / "prompt.md").read_text()
    result = run(pytester, "--optimize", "--optimize-budget=300")
    assert result.ret == 0, result.stdout.str()
    out = result.stdout.str()
    assert "each suite's offline test double, not a real model" in out
    assert "round 1:" in out and "written back" in out
    after = (root / "prompt.md").read_text()
    assert after != before
    baseline = json.loads((root / "reports/baseline.json").read_text())["suites"]["room_selector"]
    cassettes = sorted((root / "cassettes/room_selector/sim-standin-1").glob("*.r0.json"))
    assert len(cassettes) == 81 and len(baseline["cases"]) == 81
    assert any(p.name.endswith(".md") for p in (root / "prompts/history/prompt").iterdir())
    assert "Simulator, not a real model" in (root / "reports/optimization/room_selector.md").read_text()  # per suite

    replay = run(pytester)  # no --llm: replay only; a request without a cassette would fail its case
    assert replay.ret == 0, replay.stdout.str()
    replay.assert_outcomes(failed=0, passed=sum(c["passed"] for c in baseline["cases"].values()),
                           xfailed=sum(not c["passed"] for c in baseline["cases"].values()))
    mean = sum(c["score"] for c in baseline["cases"].values()) / 81
    assert mean > 0.8  # the weak prompt scores about 0.26 against the simulator


@pytest.mark.parametrize("args, message", [
    (["--optimize", "--set", "optimize.apo.beam_width=0"],
     "[tool.replaygate.optimize] apo.beam_width: Input should be greater than or equal to 1"),
    (["--optimize", "--optimize-budget=0"], "--optimize-budget 0: must be 1 or more rollouts"),
    (["--optimize", "--optimize-budget=50"], "raise --optimize-budget"),
    (["--optimize", "--set", "optimize.critique_prompt=missing.md"], "missing.md"),
])
def test_bad_optimize_settings_stop_before_any_rollout(pytester, suite_project, args, message):
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert not (suite_project / ".evals").exists()
