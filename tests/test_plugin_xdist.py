"""`pytest -n 2` gives the same outcomes and a byte-identical report as a serial run."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from evals.bench.project import clean_env, committed_task_lines, pytest_command, scaffold


def outcomes(output: str) -> dict[str, int]:
    return {word: int(count) for count, word in re.findall(r"(\d+) (passed|failed|xfailed|xpassed|error)", output)}


def test_xdist_run_matches_the_serial_run(tmp_path: Path):
    scaffold(tmp_path, committed_task_lines()[:16], concurrency=4)
    env = clean_env()
    recorded = subprocess.run(pytest_command("--llm=sim", "--record-mode=all", "--update-baseline"),
                              cwd=tmp_path, env=env, capture_output=True, text=True)
    assert recorded.returncode in (0, 1), recorded.stdout[-2000:]

    serial = subprocess.run(pytest_command(), cwd=tmp_path, env=env, capture_output=True, text=True)
    serial_report = (tmp_path / "reports/scores.md").read_bytes()
    (tmp_path / "reports/scores.md").unlink()
    parallel = subprocess.run(pytest_command("-n", "2"), cwd=tmp_path, env=env, capture_output=True, text=True)

    assert serial.returncode == 0, serial.stdout[-2000:]
    assert parallel.returncode == 0, parallel.stdout[-2000:]
    assert outcomes(parallel.stdout) == outcomes(serial.stdout)
    assert sum(outcomes(serial.stdout).values()) == 16
    assert (tmp_path / "reports/scores.md").read_bytes() == serial_report
