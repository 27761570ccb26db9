"""`pytest -n 2` and a two-shard merge give the same outcomes, report and verdict as a serial run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from evals.bench.project import REPO, clean_env, committed_task_lines, pytest_command, scaffold


def outcomes(output: str) -> dict[str, int]:
    return {word: int(count) for count, word in re.findall(r"(\d+) (passed|failed|xfailed|xpassed|error)", output)}


def gate_numbers(root: Path) -> dict:
    document = json.loads((root / "reports/scores.json").read_text(encoding="utf-8"))
    gate = document["suites"]["room_selector"]["gate"]
    return {"failed": gate["failed"], "summary": gate["summary"], "comparison": gate["comparison"]}


def test_xdist_and_merged_shards_match_the_serial_run(tmp_path: Path):
    scaffold(tmp_path, committed_task_lines()[:16], concurrency=4, prompt=REPO / "tests/data/al_baseline_prompt.md")
    env = clean_env()
    recorded = subprocess.run(pytest_command("--llm=sim", "--eval-record-mode=all", "--update-baseline"),
                              cwd=tmp_path, env=env, capture_output=True, text=True)
    assert recorded.returncode in (0, 1), recorded.stdout[-2000:]
    # A gate that has something to say: the baseline claims every task once scored 1.
    baseline = json.loads((tmp_path / "reports/baseline.json").read_text(encoding="utf-8"))
    for case in baseline["suites"]["room_selector"]["cases"].values():
        case["score"] = 1.0
    (tmp_path / "high.json").write_text(json.dumps(baseline), encoding="utf-8")

    serial = subprocess.run(pytest_command("--baseline=high.json"), cwd=tmp_path, env=env, capture_output=True, text=True)
    serial_report = (tmp_path / "reports/scores.md").read_bytes()
    serial_gate = gate_numbers(tmp_path)
    (tmp_path / "reports/scores.md").unlink()
    parallel = subprocess.run(pytest_command("-n", "2", "--baseline=high.json"), cwd=tmp_path, env=env, capture_output=True, text=True)

    assert serial.returncode == 1, serial.stdout[-2000:]  # the gate fails; every case is a known failure or a pass
    assert "gate FAILED" in serial.stdout
    assert parallel.returncode == 1, parallel.stdout[-2000:]
    assert outcomes(parallel.stdout) == outcomes(serial.stdout)
    assert sum(outcomes(serial.stdout).values()) == 16
    assert (tmp_path / "reports/scores.md").read_bytes() == serial_report
    assert gate_numbers(tmp_path) == serial_gate

    (tmp_path / "reports/scores.md").unlink()
    for index in (1, 2):
        shard = subprocess.run(pytest_command(f"--shard={index}/2", f"--results-json=shard-{index}.json"),
                               cwd=tmp_path, env=env, capture_output=True, text=True)
        assert shard.returncode == 0, shard.stdout[-2000:]  # a shard does not run the gate
        assert "gate not enforced (a shard" in shard.stdout
    sizes = [len(json.loads((tmp_path / f"shard-{i}.json").read_text())["suites"]["room_selector"]["records"]) for i in (1, 2)]
    assert sum(sizes) == 16 and all(sizes)
    merged = subprocess.run([sys.executable, "-m", "replaygate.results.shards", "merge", "shard-1.json", "shard-2.json",
                             "--baseline", "high.json"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert merged.returncode == 1, merged.stdout + merged.stderr
    assert "gate FAILED" in merged.stdout
    assert (tmp_path / "reports/scores.md").read_bytes() == serial_report
    assert gate_numbers(tmp_path) == serial_gate

    # Shards that leave one out, or overlap, are refused with one line.
    missing = subprocess.run([sys.executable, "-m", "replaygate.results.shards", "merge", "shard-1.json"],
                             cwd=tmp_path, env=env, capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.strip() == "error: shard 2/2 is missing; pass every shard's results file"
