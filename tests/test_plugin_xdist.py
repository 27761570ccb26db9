"""`pytest -n 2` and a two-shard merge give the same outcomes, report and verdict as a serial run."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from evals.bench.project import REPO, clean_env, committed_task_lines, pytest_command, scaffold


def outcomes(output: str) -> dict[str, int]:
    return {word: int(count) for count, word in re.findall(r"(\d+) (passed|failed|xfailed|xpassed|error)", output)}


def gate_numbers(root: Path) -> dict:
    document = json.loads((root / "reports/scores.json").read_text(encoding="utf-8"))
    gate = document["suites"]["room_selector"]["gate"]
    return {"failed": gate["failed"], "summary": gate["summary"], "comparison": gate["comparison"]}


def copy(root: Path, name: str) -> Path:
    return Path(shutil.copytree(root, root.parent / name, ignore=shutil.ignore_patterns("__pycache__")))


def test_xdist_and_merged_shards_match_the_serial_run(tmp_path: Path):
    recorded = tmp_path / "recorded"
    scaffold(recorded, committed_task_lines()[:16], concurrency=4, prompt=REPO / "tests/data/al_baseline_prompt.md")
    env = clean_env()
    recording = subprocess.run(pytest_command("--llm=sim", "--eval-record-mode=all", "--update-baseline"),
                               cwd=recorded, env=env, capture_output=True, text=True)
    assert recording.returncode in (0, 1), recording.stdout[-2000:]
    # A gate that has something to say: the baseline claims every task once scored 1.
    baseline = json.loads((recorded / "reports/baseline.json").read_text(encoding="utf-8"))
    for case in baseline["suites"]["room_selector"]["cases"].values():
        case["score"] = 1.0
    (recorded / "high.json").write_text(json.dumps(baseline), encoding="utf-8")
    (recorded / "reports/scores.md").unlink()

    # The serial run, the -n 2 run and the two shards replay the same recording, each in a copy of its own,
    # two runs at a time: the machine's two cores, as xdist itself would use them.
    serial_root, parallel_root, merged_root = (copy(recorded, name) for name in ("serial", "parallel", "merged"))
    runs = {
        "serial": (serial_root, pytest_command("--baseline=high.json")),
        "parallel": (parallel_root, pytest_command("-n", "2", "--baseline=high.json")),
        **{f"shard {i}": (copy(recorded, f"shard-{i}"), pytest_command(f"--shard={i}/2", f"--results-json=shard-{i}.json"))
           for i in (1, 2)},
    }

    def replay(run: tuple[Path, list[str]]) -> subprocess.CompletedProcess:
        return subprocess.run(run[1], cwd=run[0], env=env, capture_output=True, text=True)

    with ThreadPoolExecutor(2) as pool:
        done = dict(zip(runs, pool.map(replay, runs.values())))
    serial, parallel = done["serial"], done["parallel"]
    serial_report = (serial_root / "reports/scores.md").read_bytes()
    serial_gate = gate_numbers(serial_root)

    assert serial.returncode == 1, serial.stdout[-2000:]  # the gate fails; every case is a known failure or a pass
    assert "gate FAILED" in serial.stdout
    assert parallel.returncode == 1, parallel.stdout[-2000:]
    assert outcomes(parallel.stdout) == outcomes(serial.stdout)
    assert sum(outcomes(serial.stdout).values()) == 16
    assert (parallel_root / "reports/scores.md").read_bytes() == serial_report
    # The report page too: only the controller writes it, from the same records and cassettes.
    serial_page = (serial_root / "reports/index.html").read_bytes()
    assert (parallel_root / "reports/index.html").read_bytes() == serial_page
    assert gate_numbers(parallel_root) == serial_gate

    for index in (1, 2):
        shard = done[f"shard {index}"]
        assert shard.returncode == 0, shard.stdout[-2000:]  # a shard does not run the gate
        assert "gate not enforced (a shard" in shard.stdout
        shutil.copy(runs[f"shard {index}"][0] / f"shard-{index}.json", merged_root)
    sizes = [len(json.loads((merged_root / f"shard-{i}.json").read_text())["suites"]["room_selector"]["records"]) for i in (1, 2)]
    assert sum(sizes) == 16 and all(sizes)
    merged = subprocess.run([sys.executable, "-m", "replaygate.results.shards", "merge", "shard-1.json", "shard-2.json",
                             "--baseline", "high.json"], cwd=merged_root, env=env, capture_output=True, text=True)
    assert merged.returncode == 1, merged.stdout + merged.stderr
    assert "gate FAILED" in merged.stdout
    assert (merged_root / "reports/scores.md").read_bytes() == serial_report
    assert (merged_root / "reports/index.html").read_bytes() == serial_page
    assert gate_numbers(merged_root) == serial_gate

    # Shards that leave one out, or overlap, are refused with one line.
    missing = subprocess.run([sys.executable, "-m", "replaygate.results.shards", "merge", "shard-1.json"],
                             cwd=merged_root, env=env, capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.strip() == "error: shard 2/2 is missing; pass every shard's results file"
