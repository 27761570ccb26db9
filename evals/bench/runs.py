"""Each benchmark measurement: it sets up what it needs, times it, and returns plain numbers."""

from __future__ import annotations

import json
import math
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from evals.bench.project import REPO, clean_env, committed_task_lines, pytest_command, run, scaffold
from replaygate.llm.backend import Backend, resolve_backend
from replaygate.core.config import load_config
from replaygate.run.evaluation import Evaluation
from evals.sim import SimTransport
from evals.rooms.suite import room_suite


def wall(command: list[str], cwd: Path, repeats: int) -> float:
    """Best wall time of a command over `repeats` runs, in seconds, after one untimed warm-up run.

    Best, not median: on a shared machine the noise only ever adds time.
    """
    return best_wall(command, cwd, repeats)


def best_wall(command: list[str], cwd: Path, repeats: int, env: dict[str, str] | None = None) -> float:
    """Fastest wall time of a command over `repeats` runs, after one untimed warm-up run (bytecode caches on)."""
    env = env or clean_env()
    subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
    return min(times)


def committed_copy(work: Path) -> Path:
    """The committed suite (settings, root conftest, prompts, cassettes, baseline, evals/) copied aside: runs never touch the repo."""
    root = work / "committed"
    if root.exists():
        return root
    root.mkdir(parents=True)
    for name in ("pyproject.toml", "conftest.py"):
        shutil.copy(REPO / name, root / name)
    ignore = shutil.ignore_patterns("__pycache__")
    for folder in ("evals", "prompts", "cassettes"):
        shutil.copytree(REPO / folder, root / folder, ignore=ignore)
    (root / "reports").mkdir()
    shutil.copy(REPO / "reports/baseline.json", root / "reports/baseline.json")
    return root


def start_up(root: Path, floor: Path, repeats: int) -> dict[str, float]:
    """Best wall of `pytest --collect-only evals` and of a replay of the committed suite; `floor`: a one-test control."""
    env = clean_env(PYTHONPATH=str(root))
    return {
        "collect_s": best_wall(pytest_command("--collect-only", "evals"), root, repeats, env),
        "replay_s": best_wall(pytest_command("evals"), root, repeats, env),
        "floor_s": best_wall(pytest_command(), floor, repeats),
    }


# What a replay imports, by top-level package: the floor (pytest, the SDK) and what could wait.
IMPORT_ROOTS = ("pytest", "pydantic", "httpx2", "openai", "vcr", "hypothesis", "yaml", "tabulate", "replaygate", "evals")


def import_times(root: Path, *args: str) -> dict[str, float]:
    """Milliseconds of import (self time summed over each package's modules) in `pytest <args>`, by package.

    From `python -X importtime`, with capture off so the imports during collection and the run are seen too.
    """
    env = clean_env(PYTHONPATH=str(root))
    command = [sys.executable, "-X", "importtime", "-m", "pytest", "-q", "-s", "-p", "no:randomly", *args]
    subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)  # warm the bytecode caches
    stderr = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True).stderr
    totals: dict[str, float] = {}
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if match:
            package = match.group(2).split(".")[0].lstrip("_")
            totals[package] = totals.get(package, 0.0) + int(match.group(1)) / 1000
    totals["(all)"] = sum(totals.values())
    return totals


PROBE = """
import json, sys, pytest
class Probe:
    found = {}
    def pytest_runtest_logreport(self, report):
        props = dict(report.user_properties)
        if report.when == "call" and "eval_property" in props:
            Probe.found = {"seconds": report.duration, "examples": props.get("eval_examples"),
                           "harness_s": props.get("eval_examples_s")}
pytest.main(["-q", "-p", "no:randomly", *sys.argv[1:]], plugins=[Probe()])
print("PROBE", json.dumps(Probe.found))
"""


def property_examples(root: Path, repeats: int) -> dict[str, float]:
    """The generated property test after the suite's batch (so the SDK is loaded): seconds, examples, harness seconds.

    Best of `repeats` by whole-test time; the harness's share is the time spent in `eval_runner.run`.
    """
    env = clean_env(PYTHONPATH=str(root))
    best: dict[str, float] = {}
    for _ in range(repeats + 1):  # the first run warms the bytecode caches
        out = subprocess.run([sys.executable, "-c", PROBE, "evals/test_room_selector.py", "evals/test_room_properties.py"],
                             cwd=root, env=env, capture_output=True, text=True).stdout
        found = next((json.loads(line[6:]) for line in out.splitlines() if line.startswith("PROBE ")), {})
        if not found.get("examples"):
            raise RuntimeError(f"the property test did not report its examples:\n{out[-1500:]}")
        if not best or found["seconds"] < best["seconds"]:
            best = found
    return best


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


def live_whole_process(work: Path, cases: int, concurrency: int, latency_ms: int, repeats: int) -> float:
    """Best wall of a whole `pytest --llm=openai` process (start-up, collection, run, report) against the HTTP simulator."""
    root = scaffold(work / f"live-{cases}", committed_task_lines()[:cases], concurrency=concurrency)
    process, url = start_simulator(latency_ms)
    try:
        env = clean_env(OPENAI_BASE_URL=url, OPENAI_API_KEY="sk-bench-not-a-real-key")
        return best_wall(pytest_command("--llm=openai"), root, repeats, env)
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
