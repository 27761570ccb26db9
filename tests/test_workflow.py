"""`.github/workflows/evals.yml`: valid, and every `run:` command works locally, in order, on a small copy of the repo.

The copy is a git repository with an "origin" whose main branch holds the accepted baseline;
the working tree is a PR branch that rewrote its own baseline, to show the gate ignores it.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "evals.yml"
TASKS = 6  # a few committed tasks keep this test to a few seconds; the commands are the workflow's own


def steps(workflow: dict, job: str) -> list[dict]:
    return workflow["jobs"][job]["steps"]


def run_commands(workflow: dict, job: str) -> list[str]:
    return [step["run"] for step in steps(workflow, job) if "run" in step]


def test_the_workflow_is_valid_and_does_what_the_readme_says():
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert set(workflow["jobs"]) == {"shard", "report"}
    assert workflow["jobs"]["shard"]["strategy"]["matrix"]["shard"] == [1, 2]
    assert workflow["jobs"]["report"]["needs"] == "shard"
    uses = [step.get("uses", "") for job in workflow["jobs"] for step in steps(workflow, job)]
    assert "marocchino/sticky-pull-request-comment@v2" in uses  # one comment, updated in place
    assert sum(u.startswith("actions/upload-artifact@") for u in uses) == 2  # shard results, then the reports
    comment = next(s for s in steps(workflow, "report") if s.get("uses", "").startswith("marocchino/"))
    assert comment["with"]["path"] == "reports/scores.md"
    for job in workflow["jobs"]:
        for command in run_commands(workflow, job):
            assert "OPENAI" not in command and "AZURE" not in command  # replay only: no keys


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def small_repo(root: Path) -> None:
    """The repo's suite, prompts, cassettes and baseline as last committed, with a task file cut to a few tasks.

    Taken from HEAD, not the working tree: `pytest --optimize` rewrites the prompt before this test
    runs and re-records the cassettes only after it, so the working tree may pair a new prompt
    with old recordings. A commit always holds a prompt with its own cassettes.
    """
    archive = subprocess.run(["git", "archive", "HEAD", "evals", "prompts", "cassettes", "reports/baseline.json",
                              "conftest.py", "pyproject.toml"], cwd=REPO, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(root, filter="data")
    lines = (root / "evals/rooms/data/room_tasks.jsonl").read_text(encoding="utf-8").splitlines()[:TASKS]
    (root / "evals/rooms/data/room_tasks.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def local(command: str, matrix_shard: int | None = None) -> str | None:
    """The command as it runs here: the matrix filled in, `pip install` skipped (this interpreter has the package),
    and `python` this interpreter, not whichever `python` PATH finds (none, when the venv is not activated)."""
    if command.strip() == "pip install -e .":
        return None
    if matrix_shard is not None:
        command = command.replace("${{ matrix.shard }}", str(matrix_shard))
    assert "${{" not in command, f"a GitHub expression this test does not fill in: {command}"
    return re.sub(r"(?<![\w./-])python(?= )", shlex.quote(sys.executable).replace("\\", "\\\\"), command)


def without_venv(env: dict[str, str]) -> dict[str, str]:
    """The environment of a shell where this venv is not activated: its bin/ is off PATH."""
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
    return {**{k: v for k, v in env.items() if k != "VIRTUAL_ENV"}, "PATH": path}


def shell(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    # As GitHub runs a `run:` step: bash, stop on the first error.
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", command],
                          cwd=cwd, env=env, capture_output=True, text=True)


def test_every_workflow_command_runs_locally_and_the_gate_uses_the_base_branch_baseline(tmp_path: Path):
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    origin, work = tmp_path / "origin", tmp_path / "work"
    origin.mkdir()
    small_repo(origin)
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", ".")
    git(origin, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    git(tmp_path, "clone", "-q", str(origin), str(work))
    git(work, "checkout", "-q", "-b", "pr")
    # The PR rewrites its own baseline to claim every task scored 0: the gate must not believe it.
    own = json.loads((work / "reports/baseline.json").read_text(encoding="utf-8"))
    for case in own["suites"]["room_selector"]["cases"].values():
        case["score"] = 0.0
    (work / "reports/baseline.json").write_text(json.dumps(own), encoding="utf-8")

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "PYTEST_"))}
    env.update(GITHUB_BASE_REF="main", GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"), RUNNER_TEMP=str(tmp_path))
    env = without_venv(env)

    # The matrix jobs run side by side, as on GitHub.
    commands = [c for shard in (1, 2) for c in map(lambda c: local(c, shard), run_commands(workflow, "shard")) if c]
    assert len(commands) == 2
    with ThreadPoolExecutor(2) as pool:
        for command, done in zip(commands, pool.map(lambda c: shell(c, work, env), commands)):
            assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
    assert sorted(p.name for p in (work / "shards").iterdir()) == ["shard-1.json", "shard-2.json"]

    report_commands = [c for c in map(local, run_commands(workflow, "report")) if c]
    fetch, merge, fail = report_commands
    assert shell(fetch, work, env).returncode == 0
    fetched = tmp_path / "base-baseline.json"
    assert json.loads(fetched.read_text(encoding="utf-8")) == json.loads((origin / "reports/baseline.json").read_text(encoding="utf-8"))
    merged = shell(merge, work, env)
    assert merged.returncode == 0, merged.stdout + merged.stderr  # the PR replays the base's own answers
    assert "gate passed: no material drop" in merged.stdout
    metadata = json.loads((work / "reports/scores.json").read_text(encoding="utf-8"))
    comparison = metadata["suites"]["room_selector"]["gate"]["comparison"]
    assert comparison["n"] == TASKS and comparison["diff"] == 0.0 and comparison["mean_base"] > 0  # not the PR's zeros
    scores = (work / "reports/scores.md").read_text(encoding="utf-8")
    assert (tmp_path / "summary.md").read_text(encoding="utf-8") == scores + "\n"

    # The last step fails the job exactly when the gate did.
    assert shell(fail, work, env).returncode == 1


def test_without_a_baseline_on_the_base_branch_the_merge_says_so_and_passes(tmp_path: Path):
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    fetch, merge, _ = [c for c in map(local, run_commands(workflow, "report")) if c]
    origin, work = tmp_path / "origin", tmp_path / "work"
    origin.mkdir()
    (origin / "README").write_text("first commit, no baseline yet\n", encoding="utf-8")
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", ".")
    git(origin, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    git(tmp_path, "clone", "-q", str(origin), str(work))
    env = without_venv({**os.environ, "GITHUB_BASE_REF": "main", "RUNNER_TEMP": str(tmp_path)})
    env.pop("GITHUB_STEP_SUMMARY", None)
    assert shell(fetch, work, env).returncode == 0
    assert not (tmp_path / "base-baseline.json").exists()
    assert "git show" in fetch and f"{shlex.quote(sys.executable)} -m replaygate.results.shards merge" in merge
    # The merge opts in to a missing baseline: here it gets past the baseline and stops at the (absent) shards.
    assert "--baseline-optional" in merge
    merged = shell(merge, work, env)
    assert merged.returncode == 2 and "shards/shard-1.json: results file not found" in merged.stderr, merged.stderr
    assert "--baseline" not in merged.stderr
    refused = shell(merge.replace(" --baseline-optional", ""), work, env)
    assert refused.returncode == 2 and "base-baseline.json: no such file" in refused.stderr, refused.stderr
