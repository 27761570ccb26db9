"""Start-up loads what the run needs and no more: no SDK to collect, no optimizer, report writer or Hypothesis to replay.

Behaviour, not timing (timings are `python -m evals.bench`'s): each run happens in a fresh process,
which then lists the modules it loaded. Hypothesis's own pytest plugin imports Hypothesis at the end
of every session, so the runs here switch it off to see what the harness itself loads; they run in a
scaffold project, whose conftest (unlike this repository's) registers no Hypothesis profiles.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evals.bench.project import REPO, clean_env, committed_task_lines, run, scaffold

LIST_MODULES = """
import json, sys, pytest
code = pytest.main(sys.argv[1:])
print("MODULES", json.dumps(sorted(sys.modules)))
raise SystemExit(code)
"""
SDK = ("openai", "vcr")
DEFERRED = ("hypothesis", "tabulate", "replaygate.optimize.run", "replaygate.optimize.search",
            "replaygate.results.report", "replaygate.results.publish", "replaygate.results.charts")


def modules_after(root: Path, *args: str) -> set[str]:
    """The modules a fresh `pytest <args>` process in `root` has loaded when it ends."""
    command = [sys.executable, "-c", LIST_MODULES, "-q", "-p", "no:randomly", "-p", "no:hypothesispytest", *args]
    done = subprocess.run(command, cwd=root, env=clean_env(), capture_output=True, text=True)
    line = next((line for line in done.stdout.splitlines() if line.startswith("MODULES ")), None)
    assert line is not None, done.stdout[-2000:] + done.stderr[-2000:]
    return set(json.loads(line.removeprefix("MODULES ")))


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [name for name in names if name in modules]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    """A three-task room suite recorded from the in-process simulator, with its baseline."""
    root = scaffold(tmp_path_factory.mktemp("startup"), committed_task_lines()[:3])
    run(root, "--llm=sim", "--eval-record-mode=all", "--update-baseline", check=True)
    return root


def test_collecting_a_suite_loads_no_sdk_optimizer_report_or_hypothesis(recorded):
    modules = modules_after(recorded, "--collect-only")
    assert loaded(modules, SDK + DEFERRED) == []
    assert "replaygate.plugin.cases" in modules  # the plugin itself did load


def test_a_plain_replay_loads_the_sdk_but_no_optimizer_and_no_hypothesis(recorded):
    modules = modules_after(recorded)
    # The real request path: the SDK builds every request, vcrpy plays it.
    assert loaded(modules, SDK) == list(SDK)
    assert loaded(modules, ("hypothesis", "replaygate.optimize.run", "replaygate.optimize.search")) == []
    # The report is written at the end of the session, so its writers load then.
    assert "replaygate.results.report" in modules
    assert (recorded / "reports/scores.md").is_file()


def test_importing_the_committed_test_modules_loads_no_sdk_and_no_hypothesis():
    """Declaring a suite, and a property test that generates its cases, loads neither until a test runs."""
    code = ("import sys; import evals.test_room_selector, evals.test_room_properties; "
            "print([m for m in ('openai', 'vcr', 'hypothesis', 'evals.rooms.strategies') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=clean_env(), capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr[-2000:]
