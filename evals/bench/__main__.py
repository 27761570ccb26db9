"""`python -m evals.bench [--quick]`: measure everything in one run, print a table, write reports/benchmarks.md."""

from __future__ import annotations

import argparse
import platform
import os
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

from evals.bench import runs
from evals.bench.project import REPO, committed_task_lines, cycled_task_lines
from replaygate.core.atomic import write_text_atomic


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes and one repeat: a smoke run, not for the record")
    parser.add_argument("--out", default=str(REPO / "reports" / "benchmarks.md"))
    args = parser.parse_args(argv)
    sizes = (100, 300) if args.quick else (100, 1000, 5000)
    repeats = 1 if args.quick else 3
    latency_ms = 200
    levels = (1, 4, 16, 64)
    started = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="evals-bench-") as tmp:
        work = Path(tmp)
        print("start-up: collect-only, replay of the committed suite, imports ...", flush=True)
        committed_root = runs.committed_copy(work)
        startup = runs.start_up(committed_root, runs.control_project(work / "control-1", 1), repeats)
        imports_replay = runs.import_times(committed_root, "evals")
        imports_collect = runs.import_times(committed_root, "--collect-only", "evals")
        print("generated property test ...", flush=True)
        examples = runs.property_examples(committed_root, repeats)
        print("replay: committed suite vs control ...", flush=True)
        committed = runs.replay_vs_control(work, committed_task_lines(), repeats)
        scaling = []
        for size in sizes:
            print(f"replay: {size} generated cases vs control ...", flush=True)
            scaling.append(runs.replay_vs_control(work, cycled_task_lines(size), 1 if size > 1000 else repeats))
        memory_case = next((s for s in scaling if s["cases"] >= 1000), scaling[-1])
        print(f"memory: peak RSS replaying {memory_case['cases']} cases ...", flush=True)
        rss = runs.peak_rss_mb(work / f"suite-{memory_case['cases']}")
        print("live: HTTP simulator with injected latency ...", flush=True)
        live_cases = 32 if args.quick else 64
        live = runs.live_concurrency(levels, cases=live_cases, latency_ms=latency_ms)
        print("live: whole pytest process at C=16 ...", flush=True)
        live_process_s = runs.live_whole_process(work, live_cases, 16, latency_ms, repeats)
    print("throughput: in-process simulator ...", flush=True)
    throughput = runs.rollout_throughput(repeats=2 if args.quick else 4, concurrency=16)
    elapsed = time.perf_counter() - started

    big = max(scaling, key=lambda s: s["cases"])
    replay_slope = runs.slope_ms_per_case([(s["cases"], s["suite_s"]) for s in scaling])
    control_slope = runs.slope_ms_per_case([(s["cases"], s["control_s"]) for s in scaling])
    collect_slope = runs.slope_ms_per_case([(s["cases"], s["collect_s"]) for s in scaling])
    by_level = {row["concurrency"]: row for row in live}
    c16, c1 = by_level[16], by_level[1]
    speedup = c1["seconds"] / c16["seconds"]
    process_ratio = live_process_s / c16["bound_s"]
    # Marginal cost at 1,000 cases: the overhead over the control from the smallest size to 1,000, per added case.
    small, thousand = scaling[0], next((s for s in scaling if s["cases"] == 1000), scaling[-1])
    marginal = ((thousand["suite_s"] - thousand["control_s"]) - (small["suite_s"] - small["control_s"])) \
        / (thousand["cases"] - small["cases"]) * 1000
    per_example = examples["seconds"] / examples["examples"] * 1000
    harness_per_example = examples["harness_s"] / examples["examples"] * 1000
    per_listed = committed["suite_s"] / committed["cases"] * 1000

    targets = [
        ["`pytest --collect-only evals` (committed suite), best of 3", f"{startup['collect_s']:.2f} s "
         f"(one-test bare pytest: {startup['floor_s']:.2f} s)", "≤ 0.8 s", verdict(startup["collect_s"] <= 0.8)],
        ["`pytest evals` replay of the committed suite, best of 3", f"{startup['replay_s']:.2f} s", "≤ 1.2 s",
         verdict(startup["replay_s"] <= 1.2)],
        ["generated property test, whole test per example", f"{per_example:.1f} ms ({examples['examples']} examples in "
         f"{examples['seconds']:.2f} s, Hypothesis included)", "≤ 15 ms", verdict(per_example <= 15)],
        ["generated property test, harness per example (`eval_runner.run`)", f"{harness_per_example:.1f} ms "
         f"(a listed case: {per_listed:.1f} ms incl. start-up)", "≤ 15 ms", verdict(harness_per_example <= 15)],
        [f"replay marginal cost per case above control, {small['cases']} → {thousand['cases']} cases", f"{marginal:.2f} ms",
         "≤ 2.5 ms", verdict(marginal <= 2.5)],
        [f"live C=16, whole pytest process against the latency bound", f"{process_ratio:.2f}× ({live_process_s:.2f} s vs "
         f"{c16['bound_s']:.2f} s)", "≤ 1.5×", verdict(process_ratio <= 1.5)],
        ["replay overhead per case, committed suite (81 cases, incl. start-up)",
         f"{committed['overhead_ms_per_case']:.2f} ms ({committed['suite_s']:.2f} s vs control {committed['control_s']:.2f} s)", "≤ 3 ms",
         verdict(committed["overhead_ms_per_case"] <= 3)],
        [f"replay overhead per case, {big['cases']} cases",
         f"{big['overhead_ms_per_case']:.2f} ms ({big['suite_s']:.2f} s vs control {big['control_s']:.2f} s)", "≤ 3 ms",
         verdict(big["overhead_ms_per_case"] <= 3)],
        ["replay marginal cost per case above control (slope)", f"{replay_slope - control_slope:.2f} ms", "≤ 3 ms",
         verdict(replay_slope - control_slope <= 3)],
        ["live C=16 against the latency bound", f"{c16['ratio']:.2f}× ({c16['seconds']:.2f} s vs {c16['bound_s']:.2f} s)", "≤ 1.3×",
         verdict(c16["ratio"] <= 1.3)],
        ["live C=16 speed-up over C=1", f"{speedup:.1f}×", "≥ 10×", verdict(speedup >= 10)],
        [f"peak RSS, {memory_case['cases']}-case replay", f"{rss:.0f} MB", "≤ 300 MB", verdict(rss <= 300)],
        ["rollouts per second, in-process simulator", f"{throughput['per_second']:.0f} ({throughput['rollouts']} in {throughput['seconds']:.2f} s)", "—", "—"],
        ["collection slope", f"{collect_slope:.2f} ms per case", "linear", "see scaling"],
    ]
    import_rows = [[name, f"{imports_replay.get(name, 0.0):.0f}", f"{imports_collect.get(name, 0.0):.0f}"]
                   for name in (*runs.IMPORT_ROOTS, "(all)")]
    live_rows = [[r["concurrency"], r["cases"], r["calls"], f"{r['seconds']:.2f}", f"{r['bound_s']:.2f}", f"{r['ratio']:.2f}×"] for r in live]
    scale_rows = [[s["cases"], f"{s['collect_s']:.2f}", f"{s['suite_s']:.2f}", f"{s['control_s']:.2f}",
                   f"{s['suite_s'] / s['cases'] * 1000:.2f}", f"{s['overhead_ms_per_case']:.2f}"] for s in scaling]
    text = "\n".join([
        "# Benchmarks",
        "",
        "Written by `python -m evals.bench`; every figure comes from the same run on the same machine.",
        "Live figures use `evals.sim` over HTTP, the offline simulator (not a real model), with injected latency.",
        "",
        f"Machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores; run took {elapsed:.0f} s"
        + (" (--quick: smoke sizes, not for the record)" if args.quick else "") + ".",
        "",
        "## Targets",
        "",
        tabulate(targets, headers=["figure", "measured", "target", ""], tablefmt="github"),
        "",
        "## Start-up: import time by package",
        "",
        "Self time of every module of the package, in ms, from `python -X importtime -m pytest -s evals` on the",
        "committed suite (replay) and with `--collect-only`. `pytest` counts `_pytest`; the rest is other packages.",
        "",
        tabulate(import_rows, headers=["package", "replay (ms)", "collect-only (ms)"], tablefmt="github"),
        "",
        f"## Live runs against the simulator at {latency_ms} ms per call",
        "",
        "Bound = ceil(calls / C) × latency: what the calls would take at perfect concurrency.",
        "",
        tabulate(live_rows, headers=["C", "cases", "calls", "seconds", "bound (s)", "ratio"], tablefmt="github"),
        "",
        f"The whole `pytest --llm=openai` process at C=16 ({live_cases} cases; start-up, collection, run and report) took "
        f"{live_process_s:.2f} s: {process_ratio:.2f}× the bound, against {c16['ratio']:.2f}× for the run alone.",
        "",
        "## Scaling (replay)",
        "",
        f"Least-squares slopes: collection {collect_slope:.2f} ms/case, replay {replay_slope:.2f} ms/case, "
        f"control {control_slope:.2f} ms/case.",
        "",
        tabulate(scale_rows, headers=["cases", "collect (s)", "replay (s)", "control (s)", "replay ms/case", "overhead ms/case"], tablefmt="github"),
        "",
    ])
    print(text)
    write_text_atomic(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
