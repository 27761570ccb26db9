"""Cassettes no case uses: a plain run lists them in one line, a whole re-record deletes them, `-k` touches nothing it did not run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import replaygate.plugin.optimize  # noqa: F401 - keep the plugin's modules loaded across in-process runs
from evals.bench.project import REPO, committed_task_lines, scaffold

WEAK_PROMPT = REPO / "tests/data/al_baseline_prompt.md"
SUITE_FOLDER = Path("cassettes/room_selector/sim-standin-1")
GROUP_FOLDER = Path("cassettes/generated/sim-standin-1")
# The suite's cases, and a test that runs two tasks of its own under a group folder, with a note
# beside them, as the repo's Hypothesis test does.
TESTS = '''
import dataclasses

from evals.rooms.suite import room_suite
from evals.sim import SimTransport
from replaygate import write_text_atomic

SUITE = room_suite(double=SimTransport)


def test_room_task(eval_case):
    eval_case.check()


def test_generated(eval_runner):
    tasks = [dataclasses.replace(task, id=f"gen-{task.id}") for task in eval_runner.setup(SUITE).tasks[:2]]
    if eval_runner.mode(SUITE) == "record":
        write_text_atomic(eval_runner.cassette_folder(SUITE, "generated") / "hypothesis-version.txt", "6.0\\n")
    assert all(result.failure is None for result in eval_runner.run(SUITE, tasks, group="generated"))
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    """Six tasks recorded with their baseline, then a cassette of a task since removed in each folder."""
    root = pytester.path
    scaffold(root, committed_task_lines()[:6], prompt=WEAK_PROMPT)
    (root / "test_rooms.py").write_text(TESTS, encoding="utf-8")
    recorded = run(pytester, "--llm=sim", "--eval-record-mode=all", "--update-baseline")
    assert recorded.ret in (0, 1), recorded.stdout.str()
    shutil.copy(root / SUITE_FOLDER / "room-001.r0.json", root / SUITE_FOLDER / "room-999.r0.json")
    shutil.copy(root / GROUP_FOLDER / "gen-room-001.r0.json", root / GROUP_FOLDER / "gen-gone.r0.json")
    (root / SUITE_FOLDER / "notes.txt").write_text("not a cassette\n", encoding="utf-8")
    return root


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:hypothesispytest", *args)


def stray(root: Path) -> list[str]:
    return [str(p) for p in (SUITE_FOLDER / "room-999.r0.json", GROUP_FOLDER / "gen-gone.r0.json") if (root / p).is_file()]


def test_a_plain_run_lists_unused_cassettes_in_one_line_and_deletes_nothing(pytester, project):
    result = run(pytester)
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([
        f"evals: 2 unused cassettes in {GROUP_FOLDER}/, {SUITE_FOLDER}/; "
        "re-record with `pytest --eval-record-mode=all` to delete them"])
    assert len(stray(project)) == 2


def test_a_run_of_some_cases_lists_and_deletes_nothing(pytester, project):
    listed = run(pytester, "-k", "room-001 or room-002")
    assert listed.ret == 0 and "unused cassette" not in listed.stdout.str(), listed.stdout.str()
    rerecorded = run(pytester, "--llm=sim", "--eval-record-mode=all", "-k", "room-001 or room-002")
    assert "unused cassette" not in rerecorded.stdout.str(), rerecorded.stdout.str()
    assert len(stray(project)) == 2


def test_a_whole_re_record_deletes_only_the_unused_cassettes_of_what_it_ran(pytester, project):
    suite_only = run(pytester, "--llm=sim", "--eval-record-mode=all", "--update-baseline", "-k", "room_task")
    suite_only.stdout.fnmatch_lines([f"evals: deleted 1 unused cassette in {SUITE_FOLDER}/ (no case of this run uses them)"])
    assert stray(project) == [str(GROUP_FOLDER / "gen-gone.r0.json")]  # the group's test did not run

    everything = run(pytester, "--llm=sim", "--eval-record-mode=all", "--update-baseline")
    everything.stdout.fnmatch_lines([f"evals: deleted 1 unused cassette in {GROUP_FOLDER}/ (no case of this run uses them)"])
    assert stray(project) == []
    assert (project / GROUP_FOLDER / "hypothesis-version.txt").is_file() and (project / SUITE_FOLDER / "notes.txt").is_file()
    assert len(list((project / SUITE_FOLDER).glob("*.json"))) == 6 and len(list((project / GROUP_FOLDER).glob("*.json"))) == 2

    replay = run(pytester)
    assert replay.ret == 0 and "unused cassette" not in replay.stdout.str(), replay.stdout.str()


def test_optimize_deletes_unused_cassettes_in_the_same_switch(pytester):
    root = pytester.path
    scaffold(root, committed_task_lines(), prompt=WEAK_PROMPT)
    shutil.copytree(REPO / "replaygate/optimize/prompts", root / "prompts/optimizer")
    assert run(pytester, "--llm=sim", "--eval-record-mode=all", "--update-baseline").ret in (0, 1)
    shutil.copy(root / SUITE_FOLDER / "room-001.r0.json", root / SUITE_FOLDER / "room-999.r0.json")

    optimized = run(pytester, "--optimize", "--set", "optimize.apo.beam_rounds=2")
    assert optimized.ret == 0, optimized.stdout.str()
    optimized.stdout.fnmatch_lines(["*written back*", f"evals: deleted 1 unused cassette in {SUITE_FOLDER}/*"])
    assert not (root / SUITE_FOLDER / "room-999.r0.json").exists()
    assert len(list((root / SUITE_FOLDER).glob("*.json"))) == 81
    assert not (root / ".replaygate-staging").exists()
