"""SIGINT in the middle of a recording run leaves every file valid: old or new, never a mix."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from evals.bench.project import clean_env, committed_task_lines, pytest_command, scaffold
from evals.harness.cassette_format import ReadableJsonSerializer
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
    first = run_pytest(tmp_path, "--llm=sim", "--record-mode=all", "--update-baseline", env=env)
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
        second = run_pytest(tmp_path, "--record-mode=all", "--update-baseline", env=env_live)
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
