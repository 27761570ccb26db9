"""SIGINT in the middle of a recording or an optimization run leaves every file valid: old or new, never a mix."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from evals.bench.project import REPO, clean_env, committed_task_lines, pytest_command, scaffold
from replaygate.cassettes.cassette_format import ReadableJsonSerializer
from evals.sim.server import serve

TASK_COUNT = 24


def project(root: Path) -> None:
    scaffold(root, committed_task_lines()[:TASK_COUNT], concurrency=2)


def run_pytest(root: Path, *args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(pytest_command(*args), cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted((root / "cassettes").rglob("*")) if p.is_file()}


def test_sigint_during_recording_leaves_every_file_old_or_new(tmp_path):
    project(tmp_path)
    env = clean_env()
    first = run_pytest(tmp_path, "--llm=sim", "--eval-record-mode=all", "--update-baseline", env=env)
    first.communicate(timeout=120)
    old = snapshot(tmp_path)
    baseline_before = (tmp_path / "reports/baseline.json").read_bytes()
    assert len(old) == TASK_COUNT

    server = serve(host="127.0.0.1", port=0, latency_ms=250)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        (tmp_path / "prompt.md").write_text("Please book: " + (tmp_path / "prompt.md").read_text())
        env_live = {**env, "OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": "sk-test-interrupt-0123456789"}
        second = run_pytest(tmp_path, "--eval-record-mode=all", "--update-baseline", env=env_live)
        deadline = time.monotonic() + 60
        # Interrupt once some, but not all, cassettes have been rewritten.
        while time.monotonic() < deadline and snapshot(tmp_path) == old:
            time.sleep(0.05)
        second.send_signal(signal.SIGINT)
        output, _ = second.communicate(timeout=60)
    finally:
        server.shutdown()
        server.server_close()

    assert second.returncode == pytest.ExitCode.INTERRUPTED, output
    new = snapshot(tmp_path)
    assert set(new) == set(old), "a file appeared or vanished: " + str(set(new) ^ set(old))
    changed = [name for name in new if new[name] != old[name]]
    assert 0 < len(changed) < TASK_COUNT, "the interrupt should land mid-run"
    for name in changed:
        data = ReadableJsonSerializer.deserialize(new[name])  # complete JSON, loadable by vcrpy's format
        bodies = [json.loads(i["request"]["body"]) for i in data["interactions"]]
        assert all("Please book:" in b["messages"][0]["content"] for b in bodies if b["messages"][0]["role"] == "user" and "tools" in b)
        assert "sk-test-interrupt" not in new[name]
    leftovers = [p for p in tmp_path.rglob(".*.tmp")]
    assert leftovers == []
    # An interrupted run never becomes the baseline.
    assert (tmp_path / "reports/baseline.json").read_bytes() == baseline_before


def test_sigint_during_optimization_leaves_prompts_and_reports_byte_identical(tmp_path):
    """Ctrl-C while `pytest --optimize` searches: prompts/, reports/, cassettes and history stay as they were."""
    scaffold(tmp_path, committed_task_lines(), concurrency=4, prompt=REPO / "tests/data/al_baseline_prompt.md")
    shutil.copytree(REPO / "replaygate/optimize/prompts", tmp_path / "prompts/optimizer")
    (tmp_path / "conftest.py").write_text('')
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/optimization.md").write_text("# an earlier optimization report\n")

    def files() -> dict[str, bytes]:
        return {str(p.relative_to(tmp_path)): p.read_bytes() for p in sorted(tmp_path.rglob("*"))
                if p.is_file() and ".evals" not in p.parts and "__pycache__" not in p.parts}

    before = files()
    server = serve(host="127.0.0.1", port=0, latency_ms=40)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    lines: list[str] = []
    try:
        env = {**clean_env(), "PYTHONUNBUFFERED": "1", "OPENAI_BASE_URL": server.url,
               "OPENAI_API_KEY": "sk-test-optimize-0123456789"}
        run = run_pytest(tmp_path, "--optimize", "--llm=openai", env=env)
        reader = threading.Thread(target=lambda: lines.extend(iter(run.stdout.readline, "")), daemon=True)
        reader.start()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any("round 1:" in line for line in lines):
            time.sleep(0.02)
        run.send_signal(signal.SIGINT)
        run.wait(timeout=60)
        reader.join(timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    output = "".join(lines)
    assert "round 1:" in output and "written back" not in output, output
    assert run.returncode == pytest.ExitCode.INTERRUPTED, output
    assert files() == before  # the prompt, reports, history and cassettes: byte-identical
    assert [p for p in tmp_path.rglob(".*.tmp")] == []
    assert (tmp_path / ".evals/optimize-cache.jsonl").is_file()  # rollouts already paid for are kept
