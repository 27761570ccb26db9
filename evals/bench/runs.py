"""Each benchmark measurement: it sets up what it needs, times it, and returns plain numbers."""

from __future__ import annotations

import math
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from evals.bench.project import REPO, clean_env, pytest_command, run, scaffold
from replaygate.llm.backend import Backend, resolve_backend
from replaygate.core.config import load_config
from replaygate.core.evaluation import Evaluation
from evals.sim import SimTransport
from evals.rooms.suite import room_suite


def wall(command: list[str], cwd: Path, repeats: int) -> float:
    """Median wall time of a command, in seconds, after one untimed warm-up run."""
    subprocess.run(command, cwd=cwd, env=clean_env(), capture_output=True, text=True)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=clean_env(), capture_output=True, text=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def control_project(root: Path, count: int) -> Path:
    """Bare pytest with `count` trivial parametrized tests: the floor any plugin adds to.

    The harness loads through pytest11 entry points into every run in this environment, so the
    control turns it off by name: otherwise the floor would include the plugin's own imports.
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        "[tool.pytest.ini_options]\naddopts = \"-p no:cacheprovider -p no:replaygate -p no:replaygate-optimize\"\n")
    (root / "test_control.py").write_text(
        f"import pytest\n\n\n@pytest.mark.parametrize('case', range({count}))\ndef test_case(case):\n    assert case >= 0\n"
    )
    return root


def recorded_suite(root: Path, task_lines: list[str]) -> Path:
    """A suite project whose cassettes and baseline were just recorded from the in-process simulator.

    With a baseline, weak-prompt cases are known failures (xfail), as in the committed suite;
    without one, pytest would spend most of the run formatting failure tracebacks.
    """
    scaffold(root, task_lines)
    run(root, "--llm=sim", "--eval-record-mode=all", "--update-baseline", check=True)
    return root


def replay_vs_control(work: Path, task_lines: list[str], repeats: int) -> dict[str, float]:
    n = len(task_lines)
    suite = recorded_suite(work / f"suite-{n}", task_lines)
    control = control_project(work / f"control-{n}", n)
    suite_s = wall(pytest_command(), suite, repeats)
    control_s = wall(pytest_command(), control, repeats)
    collect_s = wall(pytest_command("--collect-only"), suite, repeats)
    control_collect_s = wall(pytest_command("--collect-only"), control, repeats)
    return {
        "cases": n,
        "suite_s": suite_s,
        "control_s": control_s,
        "overhead_ms_per_case": (suite_s - control_s) / n * 1000,
        "collect_s": collect_s,
        "control_collect_s": control_collect_s,
    }


def slope_ms_per_case(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of seconds against cases, in ms per case."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs) * 1000


def peak_rss_mb(suite: Path) -> float:
    """Peak resident memory of a whole replay run of the suite, in a fresh process."""
    code = (
        "import resource, sys, pytest\n"
        "pytest.main(['-q', '-p', 'no:randomly'])\n"
        "print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=suite, env=clean_env(), capture_output=True, text=True).stdout
    match = re.search(r"MAXRSS_KB (\d+)", out)
    if not match:
        raise RuntimeError(f"no memory figure from the run in {suite}:\n{out[-1500:]}")
    return int(match.group(1)) / 1024


def start_simulator(latency_ms: int) -> tuple[subprocess.Popen, str]:
    """The HTTP simulator in its own process, so serving does not compete with the client for the GIL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "evals.sim", "--port", "0", "--latency-ms", str(latency_ms)],
        cwd=REPO, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    line = process.stdout.readline()
    match = re.search(r"(http://\S+/v1)", line)
    if not match:
        process.kill()
        raise RuntimeError(f"simulator did not start: {line!r}")
    # Keep reading what it prints, so a full pipe can never stall the server.
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return process, match.group(1)


def evaluation(backend: Backend, concurrency: int) -> Evaluation:
    config = load_config(REPO / "pyproject.toml", {"concurrency": concurrency}, suite="room_selector")
    return Evaluation(room_suite(double=SimTransport), config, REPO, backend, "none", {})


def live_concurrency(levels: tuple[int, ...], cases: int, latency_ms: int) -> list[dict[str, float]]:
    """Wall time of a live run against the HTTP simulator at each concurrency, against ceil(calls / C) x latency."""
    process, url = start_simulator(latency_ms)
    try:
        backend = resolve_backend("openai", False, {"OPENAI_API_KEY": "sk-bench-not-a-real-key", "OPENAI_BASE_URL": url}, {})
        rows = []
        for level in levels:
            ev = evaluation(backend, level)
            tasks = list(ev.loaded.tasks)[:cases]
            start = time.perf_counter()
            results = ev.run(tasks)
            seconds = time.perf_counter() - start
            calls = sum(r.rollout.usage.calls + r.rollout.grading_usage.calls for r in results if r.rollout)
            bound = math.ceil(calls / level) * latency_ms / 1000
            rows.append({"concurrency": level, "cases": len(tasks), "calls": calls, "seconds": seconds,
                         "bound_s": bound, "ratio": seconds / bound})
        return rows
    finally:
        process.terminate()
        process.wait(timeout=10)


def rollout_throughput(repeats: int, concurrency: int) -> dict[str, float]:
    """Rollouts per second with the in-process simulator: what an optimizer can spend per second."""
    backend = resolve_backend("sim", False, {}, {})
    ev = evaluation(backend, concurrency)
    tasks = list(ev.loaded.tasks)
    start = time.perf_counter()
    results = ev.run(tasks, repeats=repeats)
    seconds = time.perf_counter() - start
    return {"rollouts": len(results), "seconds": seconds, "per_second": len(results) / seconds}
