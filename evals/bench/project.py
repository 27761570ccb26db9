"""A throwaway project for running the room suite on a task file of any size, in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PYPROJECT = """
[tool.pytest.ini_options]
eval_pass_threshold = 0.8
addopts = "-p no:cacheprovider"

[tool.replaygate]
tasks = "tasks.jsonl"
rooms = "rooms.json"
prompt = "prompt.md"
judge_prompt = "judge.md"
cassettes = "cassettes"
reports = "reports"
baseline = "reports/baseline.json"
concurrency = {concurrency}

[tool.replaygate.graders]
exact_choice = 0.6
constraints = 0.2
judge = 0.2
"""
SUITE_MODULE = (
    "from evals.rooms.suite import room_suite\nfrom evals.sim import SimTransport\n\nSUITE = room_suite(double=SimTransport)\n\n\n"
    "def test_room_task(eval_case):\n    eval_case.check()\n"
)


def scaffold(root: Path, task_lines: list[str], concurrency: int = 8, prompt: Path | None = None) -> Path:
    """Write a suite project under `root` that uses the repo's rooms, judge prompt and `prompt` (default: the live one)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "tasks.jsonl").write_text("\n".join(task_lines) + "\n", encoding="utf-8")
    shutil.copy(REPO / "evals/rooms/data/rooms.json", root / "rooms.json")
    shutil.copy(prompt or REPO / "prompts/room_selector.md", root / "prompt.md")
    shutil.copy(REPO / "prompts/judge.md", root / "judge.md")
    (root / "pyproject.toml").write_text(PYPROJECT.format(concurrency=concurrency), encoding="utf-8")
    (root / "conftest.py").write_text('', encoding="utf-8")
    (root / "test_rooms.py").write_text(SUITE_MODULE, encoding="utf-8")
    return root


def committed_task_lines() -> list[str]:
    text = (REPO / "evals/rooms/data/room_tasks.jsonl").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def cycled_task_lines(count: int) -> list[str]:
    """`count` tasks: the committed ones over and over, each copy with its own id (so its own cassette)."""
    base = [json.loads(line) for line in committed_task_lines()]
    lines = []
    for index in range(count):
        task = dict(base[index % len(base)])
        task["id"] = f"{task['id']}-c{index // len(base)}"
        lines.append(json.dumps(task))
    return lines


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a child run: no credentials, the repo importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_"))}
    # Byte-code caches on, as on a developer's machine: otherwise every run recompiles pytest's
    # plugins and the harness, a fixed cost that has nothing to do with replay.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


def pytest_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *args]


def run(root: Path, *args: str, env: dict[str, str] | None = None, check: bool = False) -> subprocess.CompletedProcess:
    result = subprocess.run(pytest_command(*args), cwd=root, env=env or clean_env(), capture_output=True, text=True)
    # Exit 1 is expected: weak-prompt cases fail when there is no baseline; anything else is a broken run.
    if check and result.returncode not in (0, 1):
        raise RuntimeError(f"pytest {' '.join(args)} in {root} exited {result.returncode}:\n{result.stdout[-2000:]}")
    return result
