"""`python -m evals.bench.optimize`: every optimizer on several offices and seeds, each run as a fresh clone would.

Each (world, seed, strategy) is a real `pytest evals/test_room_selector.py --optimize=<strategy>
--optimize-seed=<seed> --llm=sim` in its own scratch copy of the repository: on the committed office, or
on world `gen-N`, which `python -m evals.rooms office --seed N` writes once and each copy gets. The first
seed of every (world, strategy) is also run again with the cache deleted (same prompt?), with it kept
(no new rollouts, same prompt?) and with it cut off halfway through a line, as an interrupted run leaves
it (same prompt, paying only the rest?). Writes the table, a chart and the acceptance of issue #14 to
reports/optimization-benchmark.md, the same as JSON beside it; exits 1 when that acceptance is not met.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabulate import tabulate

from evals.bench.project import REPO, clean_env
from evals.rooms.offices import tie_style
from evals.rooms.world import load_world
from replaygate.core.atomic import write_text_atomic
from replaygate.optimize.summary import render_optimization, run_label, trajectory_charts
from replaygate.results.charts import init_directive, legend, mermaid_label

IGNORED = shutil.ignore_patterns(".git", ".evals", "__pycache__", ".hypothesis", ".venv", "*.egg-info", ".pytest_cache")
SUITE_TEST = "evals/test_room_selector.py"
PROMPT = "prompts/room_selector.md"
CACHE = ".evals/optimize-cache.jsonl"  # [tool.replaygate.optimize] cache in the committed pyproject.toml
WORLD_DIR = "bench-world"  # inside a scratch copy: the generated office's rooms.json and tasks.jsonl
GATED = ("apo", "evo")
# Not an optimizer of its own: evo with the LLM operators off shows what they add; never gated.
# pyproject.toml leaves evo reflection and merge only; the ablation names its heuristic operator itself.
VARIANTS = {"evo-heuristic": ("evo", ("--set", "optimize.evo.llm_operators=false",
                                      "--set", 'optimize.evo.operators=["add_constraint"]'))}
LABELS = {"evo-heuristic": "evo (heuristic operators only)"}

# Issue #14's acceptance, measured on the simulator at 300 rollouts per run.
MEDIAN_HOLDOUT = 0.90
WORST_HOLDOUT = 0.75
EVO_BEHIND_APO = 0.03
MEDIAN_GAP = 0.08
MAX_CALLS = 20


@dataclass(frozen=True)
class BenchWorld:
    """Which office a benchmark run uses: the committed one, or `gen-N`, generated from seed N."""

    name: str
    seed: int | None = None  # None: the committed office

    @property
    def generated(self) -> bool:
        return self.seed is not None

    def pytest_args(self) -> list[str]:
        if not self.generated:
            return []
        return ["--set", f"suites.room_selector.rooms={WORLD_DIR}/rooms.json",
                "--set", f"suites.room_selector.tasks={WORLD_DIR}/tasks.jsonl"]


@dataclass
class Run:
    """One pytest --optimize run and what its optimization JSON says."""

    world: str
    strategy: str
    seed: int
    # "main"; then on the first seed "cold" (cache deleted), "warm" (cache kept) or "resumed" (cache cut halfway)
    kind: str
    exit: int = -1
    seconds: float = 0.0
    doc: dict[str, Any] | None = None
    prompt: str = ""
    error: str = ""
    root: str = ""
    files: dict[str, str] = field(default_factory=dict)
    kept: int = 0  # "resumed": cached rollouts left from the interrupted run


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments end in one line naming the problem, not a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message}; see --help\n")


def parse_world(text: str) -> BenchWorld:
    if text == "committed":
        return BenchWorld("committed")
    if text.startswith("gen-") and text[4:].isdigit():
        return BenchWorld(text, int(text[4:]))
    raise argparse.ArgumentTypeError(f"{text!r}: a world is 'committed' or 'gen-N' (N a whole number)")


def parse_seeds(text: str) -> list[int]:
    """`0-4` or `0,2,5` (or both, comma-separated)."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            seeds += range(int(low), int(high) + 1) if high else [int(low)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: seeds are like 0-4 or 0,1,7") from None
    if not seeds:
        raise argparse.ArgumentTypeError(f"{text!r}: no seed")
    return list(dict.fromkeys(seeds))


def strategy_args(strategy: str) -> tuple[str, tuple[str, ...]]:
    return VARIANTS.get(strategy, (strategy, ()))


def copy_repo(target: Path) -> Path:
    shutil.copytree(REPO, target, ignore=IGNORED)
    return target


def make_world(world: BenchWorld, folder: Path) -> dict[str, Any]:
    """Generate a world's files once (through the command line, as a user would) and describe it."""
    if world.generated:
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([sys.executable, "-m", "evals.rooms", "office", "--seed", str(world.seed),
                               "--out", str(folder), "--force"], cwd=REPO, env=clean_env(), capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"python -m evals.rooms office --seed {world.seed}: {done.stderr.strip() or done.stdout.strip()}")
        rooms, tasks = folder / "rooms.json", folder / "tasks.jsonl"
    else:
        rooms, tasks = REPO / "evals/rooms/data/rooms.json", REPO / "evals/rooms/data/room_tasks.jsonl"
    office = load_world(rooms)
    lines = [json.loads(line) for line in tasks.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {
        "name": world.name,
        "made_by": f"python -m evals.rooms office --seed {world.seed}" if world.generated else "committed files",
        "rooms": len(office.rooms),
        "dates": list(office.dates),
        "capacities": sorted({r.capacity for r in office.rooms}),
        "equipment": sorted({item for r in office.rooms for item in r.equipment}),
        "tasks": len(lines),
        "no_room": sum(t["expected_choice"] == "No Room" for t in lines),
        "ties": tie_style(world.seed) if world.generated else "as committed",
    }


def interrupt(cache: Path) -> int:
    """Cut the cache as a run stopped midway leaves it: its first half, then a torn line. Returns the lines kept."""
    lines = cache.read_text(encoding="utf-8").splitlines(keepends=True) if cache.is_file() else []
    keep = len(lines) // 2
    if lines:
        cache.write_text("".join(lines[:keep]) + lines[keep][: len(lines[keep]) // 2], encoding="utf-8")
    return keep


def run_pytest(run: Run, world: BenchWorld, world_folder: Path | None, work: Path, budget: int, keep: bool = False,
               cache_from: Path | None = None, cache: str = CACHE) -> Run:
    """Copy the repository, put the world in, optionally a warm cache, run pytest --optimize; keep the copy if asked."""
    root = copy_repo(work / f"{run.world}-{run.strategy}-s{run.seed}-{run.kind}")
    run.root = str(root)
    shutil.rmtree(root / "reports/optimization", ignore_errors=True)  # a stale JSON must never count as this run's
    if world_folder is not None:
        shutil.copytree(world_folder, root / WORLD_DIR)
    if cache_from is not None and (cache_from / ".evals").is_dir():
        shutil.copytree(cache_from / ".evals", root / ".evals")
        if run.kind == "resumed":
            run.kept = interrupt(root / cache)
    strategy, extra = strategy_args(run.strategy)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", SUITE_TEST, f"--optimize={strategy}",
               f"--optimize-seed={run.seed}", f"--optimize-budget={budget}", "--llm=sim", *world.pytest_args(), *extra]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=clean_env(), capture_output=True, text=True)
    run.seconds, run.exit = time.perf_counter() - started, done.returncode
    report = root / f"reports/optimization/{strategy}.json"
    if report.is_file():
        run.doc = json.loads(report.read_text(encoding="utf-8"))
        run.prompt = (root / PROMPT).read_text(encoding="utf-8")
        run.files = {p.name: p.read_text(encoding="utf-8") for p in sorted((root / "reports/optimization").glob(f"{strategy}*"))}
    else:
        tail = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()][-3:]
        run.error = f"exit {done.returncode}, no reports/optimization/{strategy}.json: " + " | ".join(tail)
    if not keep:  # thirty-odd copies with their re-recorded cassettes add up
        shutil.rmtree(root, ignore_errors=True)
    print(f"  {run.world} {run.strategy} seed {run.seed} ({run.kind}): {run.seconds:.1f} s, "
          + (f"holdout {holdout(run, 'before'):.3f} -> {holdout(run, 'after'):.3f}" if run.doc else run.error), flush=True)
    return run


# --- what one run says -------------------------------------------------------------------------------


def _split(run: Run, which: str, split: str) -> dict[str, Any]:
    return ((run.doc or {}).get(which) or {}).get("splits", {}).get(split) or {}


def holdout(run: Run, when: str, metric: str = "exact_choice") -> float:
    """Holdout `metric` of the starting prompt ("before") or of the search's best candidate ("after")."""
    return float(_split(run, "incumbent" if when == "before" else "best", "holdout").get(metric, float("nan")))


def gap(run: Run, metric: str = "exact_choice") -> float:
    """The best candidate's validation minus its holdout: how much the choice overfit validation."""
    return float(_split(run, "best", "validation").get(metric, float("nan"))) - holdout(run, "after", metric)


def budget_of(run: Run, key: str) -> int | None:
    value = ((run.doc or {}).get("budget") or {}).get(key)
    return int(value) if isinstance(value, (int, float)) else None


def accepted(run: Run) -> bool:
    gate = (run.doc or {}).get("gate") or {}
    return bool(gate.get("accepted", (run.doc or {}).get("accepted", False)))


def optimizer_tokens(run: Run) -> int | None:
    parts = [budget_of(run, "optimizer_tokens_in"), budget_of(run, "optimizer_tokens_out")]
    return None if None in parts else sum(parts)  # type: ignore[arg-type]


# --- aggregates ------------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def _min(values: list[float]) -> float:
    values = [v for v in values if v == v]
    return min(values) if values else float("nan")


def summarize(world: str, strategy: str, runs: list[Run]) -> dict[str, Any]:
    ok = [r for r in runs if r.doc]
    tokens = [optimizer_tokens(r) for r in ok]
    agent = [budget_of(r, "agent_tokens") for r in ok]
    return {
        "world": world,
        "strategy": strategy,
        "gated": strategy in GATED,
        "runs": len(runs),
        "failed_runs": len(runs) - len(ok),
        "holdout_before_median": _median([holdout(r, "before") for r in ok]),
        "holdout_before_worst": _min([holdout(r, "before") for r in ok]),
        "holdout_after_median": _median([holdout(r, "after") for r in ok]),
        "holdout_after_worst": _min([holdout(r, "after") for r in ok]),
        "score_before_median": _median([holdout(r, "before", "score") for r in ok]),
        "score_after_median": _median([holdout(r, "after", "score") for r in ok]),
        "score_after_worst": _min([holdout(r, "after", "score") for r in ok]),
        "gap_median": _median([gap(r) for r in ok]),
        "gap_max": max((gap(r) for r in ok), default=float("nan")),
        "accepted": sum(accepted(r) for r in ok),
        # Seeds that end on the same prompt add no information about spread.
        "distinct_prompts": len({(r.doc or {}).get("best", {}).get("version") for r in ok}),
        "rollouts_median": _median([budget_of(r, "used") or 0 for r in ok]),
        "rollouts_max": max((budget_of(r, "used") or 0 for r in ok), default=0),
        "calls_median": _median([budget_of(r, "optimizer_calls") or 0 for r in ok]),
        "calls_max": max((budget_of(r, "optimizer_calls") or 0 for r in ok), default=0),
        "repeated_max": max((int((r.doc or {}).get("repeated_rollouts", 0)) for r in ok), default=0),
        "optimizer_tokens_median": _median([t for t in tokens if t is not None]) if any(t is not None for t in tokens) else None,
        "agent_tokens_median": _median([t for t in agent if t is not None]) if any(t is not None for t in agent) else None,
        "seconds_median": _median([r.seconds for r in runs]),
    }


def check_row(main: Run, cold: Run | None, warm: Run | None, resumed: Run | None) -> dict[str, Any]:
    """First-seed reproducibility of one (world, strategy): cache deleted, kept, and cut as an interrupted run leaves it."""
    best = (main.doc or {}).get("best", {}).get("version")
    paid = budget_of(main, "paid")
    return {
        "world": main.world, "strategy": main.strategy, "seed": main.seed,
        "cold_same_prompt": bool(cold and cold.doc and cold.prompt == main.prompt
                                 and cold.doc.get("best", {}).get("version") == best),
        "warm_new_rollouts": budget_of(warm, "paid") if warm and warm.doc else None,
        "warm_same_prompt": bool(warm and warm.doc and warm.prompt == main.prompt
                                 and warm.doc.get("best", {}).get("version") == best),
        "resumed_kept": resumed.kept if resumed else None,
        "resumed_new_rollouts": budget_of(resumed, "paid") if resumed and resumed.doc else None,
        "resumed_expected_rollouts": None if paid is None or not resumed else paid - resumed.kept,
        "resumed_same_prompt": bool(resumed and resumed.doc and resumed.prompt == main.prompt
                                    and resumed.doc.get("best", {}).get("version") == best),
    }


def acceptance(rows: list[dict], runs: list[Run], checks: list[dict], budget: int) -> list[dict[str, Any]]:
    """Issue #14's criteria, each with the number measured; only apo and evo are gated."""
    gated_runs = [r for r in runs if r.kind == "main" and r.strategy in GATED]
    found: list[dict[str, Any]] = []

    def criterion(text: str, value: str, met: bool) -> None:
        found.append({"criterion": text, "measured": value, "met": met})

    # A smaller run can show the numbers but not claim the acceptance, which is stated over 3 worlds × 5 seeds at 300.
    worlds = {r.world for r in gated_runs}
    seeds = min((len({r.seed for r in gated_runs if (r.world, r.strategy) == (w, s)}) for w in worlds for s in GATED),
                default=0)
    criterion("coverage: apo and evo, ≥ 3 worlds × ≥ 5 seeds, 300 rollouts each",
              f"{len(worlds)} worlds × {seeds} seeds, {budget} rollouts", len(worlds) >= 3 and seeds >= 5 and budget == 300)
    for strategy in GATED:
        mine = [r for r in gated_runs if r.strategy == strategy]
        if not mine:
            continue
        done = [r for r in mine if r.doc]
        criterion(f"{strategy}: every run wrote its optimization JSON", f"{len(done)} of {len(mine)}", len(done) == len(mine))
        median = _median([holdout(r, "after") for r in done])
        worst = _min([holdout(r, "after") for r in done])
        gaps = _median([gap(r) for r in done])
        criterion(f"{strategy}: median holdout exact-choice over all runs ≥ {MEDIAN_HOLDOUT}", f"{median:.3f}", median >= MEDIAN_HOLDOUT)
        criterion(f"{strategy}: no run's holdout exact-choice below {WORST_HOLDOUT}", f"worst {worst:.3f}", worst >= WORST_HOLDOUT)
        criterion(f"{strategy}: median validation − holdout gap ≤ {MEDIAN_GAP}", f"{gaps:+.3f}", gaps <= MEDIAN_GAP)
        calls = max((budget_of(r, "optimizer_calls") or 0 for r in done), default=0)
        criterion(f"{strategy}: at most {MAX_CALLS} optimizer calls per run", f"max {calls}", calls <= MAX_CALLS)
        repeated = sum(int((r.doc or {}).get("repeated_rollouts", 0)) for r in done)
        criterion(f"{strategy}: 0 repeated rollouts", f"{repeated}", repeated == 0)
    by = {(row["world"], row["strategy"]): row for row in rows}
    for world in dict.fromkeys(row["world"] for row in rows):
        apo, evo = by.get((world, "apo")), by.get((world, "evo"))
        if apo and evo:
            behind = evo["holdout_after_median"] - apo["holdout_after_median"]
            criterion(f"{world}: evo median ≥ apo median − {EVO_BEHIND_APO}",
                      f"{evo['holdout_after_median']:.3f} vs {apo['holdout_after_median']:.3f}", behind >= -EVO_BEHIND_APO)
    for check in (c for c in checks if c["strategy"] in GATED):
        where = f"{check['world']} {check['strategy']} seed {check['seed']}"
        criterion(f"{where}: cache deleted, same seed → same prompt", "same" if check["cold_same_prompt"] else "OTHER",
                  check["cold_same_prompt"])
        warm = check["warm_new_rollouts"]
        criterion(f"{where}: warm cache → 0 new rollouts, same prompt",
                  f"{'?' if warm is None else warm} new, " + ("same" if check["warm_same_prompt"] else "OTHER") + " prompt",
                  warm == 0 and check["warm_same_prompt"])
        paid, expected = check["resumed_new_rollouts"], check["resumed_expected_rollouts"]
        criterion(f"{where}: resumed from a cache cut halfway → same prompt, pays only the rest",
                  f"{'?' if paid is None else paid} new of {'?' if expected is None else expected} left, "
                  + ("same" if check["resumed_same_prompt"] else "OTHER") + " prompt",
                  paid is not None and paid == expected and check["resumed_same_prompt"])
    return found


# --- the report --------------------------------------------------------------------------------------


def _f(value: Any, places: int = 3) -> str:
    if value is None:
        return "not recorded"
    if isinstance(value, float) and value != value:
        return "—"
    return f"{value:.{places}f}" if isinstance(value, float) else str(value)


def _k(value: Any) -> str:
    return "not recorded" if value is None else f"{value / 1000:.1f}k"


def table(rows: list[dict]) -> str:
    headers = ["world", "optimizer", "runs", "holdout exact-choice median (before → after)", "worst (before → after)",
               "holdout score median (before → after)", "val − holdout gap (median / max)", "gate accepted", "distinct best prompts",
               "rollouts (median / max)", "optimizer calls (median / max)", "optimizer tokens (median)",
               "agent + judge tokens (median)", "wall time (median)"]
    body = [[
        row["world"], row["strategy"] + ("" if row["gated"] else " (ablation, not gated)"),
        f"{row['runs']}" + (f" ({row['failed_runs']} FAILED)" if row["failed_runs"] else ""),
        f"{_f(row['holdout_before_median'])} → {_f(row['holdout_after_median'])}",
        f"{_f(row['holdout_before_worst'])} → {_f(row['holdout_after_worst'])}",
        f"{_f(row['score_before_median'])} → {_f(row['score_after_median'])}",
        f"{_f(row['gap_median'], 3)} / {_f(row['gap_max'], 3)}",
        f"{row['accepted']}/{row['runs'] - row['failed_runs']}", f"{row['distinct_prompts']}",
        f"{_f(row['rollouts_median'], 0)} / {row['rollouts_max']}",
        f"{_f(row['calls_median'], 0)} / {row['calls_max']}",
        _k(row["optimizer_tokens_median"]), _k(row["agent_tokens_median"]), f"{row['seconds_median']:.1f} s",
    ] for row in rows]
    return tabulate(body, headers=headers, tablefmt="github")


def chart(rows: list[dict]) -> list[str]:
    """Per world and optimizer: median holdout after (bars), worst after and median before (lines)."""
    shown = [row for row in rows if row["gated"] and row["holdout_after_median"] == row["holdout_after_median"]]
    if not shown:
        return []
    labels = ", ".join(f'"{mermaid_label(row["world"] + " " + row["strategy"])}"' for row in shown)
    series = ["median holdout exact-choice after", "worst run's holdout after", "median holdout before"]
    keys = ["holdout_after_median", "holdout_after_worst", "holdout_before_median"]
    # Horizontal, so each "world optimizer" label has a line of its own instead of crowding the x-axis.
    lines = ["```mermaid", init_directive(), "xychart-beta horizontal",
             '    title "Holdout exact-choice per world and optimizer"', f"    x-axis [{labels}]",
             '    y-axis "holdout exact-choice" 0 --> 1']
    lines.append(f'    bar "{series[0]}" [' + ", ".join(f"{row[keys[0]]:.3f}" for row in shown) + "]")
    for name, key in zip(series[1:], keys[1:]):
        lines.append(f'    line "{name}" [' + ", ".join(f"{row[key]:.3f}" for row in shown) + "]")
    lines.append("```")
    note = (f"Acceptance asks for a median of at least {MEDIAN_HOLDOUT} and no run below {WORST_HOLDOUT}; "
            "'after' is the holdout of the best candidate the search returned, whether or not the gate wrote it back.")
    return [*lines, "", legend(series, note)]


def trajectories(results: list[dict[str, Any]]) -> list[str]:
    """Runs' trajectories ({"doc", "label"[, "world"]}), one chart per task set, under their world's name."""
    lines: list[str] = []
    for world in dict.fromkeys(r.get("world") for r in results):
        mine = [r for r in results if r.get("world") == world]
        # "evo (heuristic operators only)" names its variant inside the parentheses, beside the seed.
        labels = [run_label(r["doc"], r["label"].removeprefix(r["doc"]["strategy"]).strip(" ()")) for r in mine]
        charts = trajectory_charts([r["doc"] for r in mine], labels)
        lines += ([f"### {world}", ""] if charts and world is not None else []) + charts
    return ["## Trajectories", "", *lines] if lines else []


def first_seed_trajectories(runs: list[Run]) -> list[str]:
    first = min((r.seed for r in runs), default=0)
    picked = [r for r in runs if r.kind == "main" and r.seed == first and r.doc and r.doc.get("trajectory")]
    return trajectories([{"doc": r.doc, "label": LABELS.get(r.strategy, r.strategy), "world": r.world} for r in picked])


def render(args: argparse.Namespace, command: str, worlds: list[dict], rows: list[dict], checks: list[dict],
           criteria: list[dict], runs: list[Run], seconds: float) -> str:
    met = all(c["met"] for c in criteria)
    world_rows = [[w["name"], w["made_by"], w["rooms"], ", ".join(w["dates"]), ", ".join(map(str, w["capacities"])),
                   ", ".join(w["equipment"]), w["tasks"], w["no_room"], w["ties"]] for w in worlds]
    def n(value: Any) -> str:  # None: the run failed (listed below the tables)
        return "—" if value is None else str(value)

    check_rows = [[c["world"], c["strategy"], c["seed"], "yes" if c["cold_same_prompt"] else "NO",
                   n(c["warm_new_rollouts"]), "yes" if c["warm_same_prompt"] else "NO",
                   f"{n(c['resumed_kept'])} / {n(c['resumed_new_rollouts'])} (expected {n(c['resumed_expected_rollouts'])})",
                   "yes" if c["resumed_same_prompt"] else "NO"] for c in checks]
    failed = [r for r in runs if not r.doc]
    return "\n".join([
        "# Optimization benchmark", "",
        "Measured with the offline simulator `sim-standin-1`, a stand-in that ships with this repository, **not a "
        "real model**: the numbers show how the optimizers behave, not how a real model would score.", "",
        f"Command: `{command}`: seeds {', '.join(map(str, args.seeds))}, budget {args.budget} rollouts per run, "
        f"{len(runs)} pytest runs, {args.jobs} at a time, {seconds / 60:.1f} min in all.", "",
        "Each (world, seed, optimizer) is `pytest evals/test_room_selector.py --optimize=<optimizer> "
        "--optimize-seed=<seed> --optimize-budget=<budget> --llm=sim` in a fresh copy of the repository; generated "
        "worlds are passed with `--set suites.room_selector.rooms=…` and `tasks=…`. Holdout exact-choice is the "
        "primary measure; 'before' is the committed prompt, 'after' the best candidate the search returned; the gap "
        "is that candidate's validation minus its holdout exact-choice. Wall time runs beside other jobs, so it is noisy.",
        "",
        f"## Acceptance (issue #14): {'met' if met else 'NOT met'}", "",
        tabulate([[c["criterion"], c["measured"], "met" if c["met"] else "NOT met"] for c in criteria],
                 headers=["criterion", "measured", "verdict"], tablefmt="github"), "",
        "## Results", "",
        table(rows), "",
        *chart(rows), "",
        "## Reproducibility (first seed of each world and optimizer)", "",
        "The first seed's run again in a fresh copy: with the cache deleted; with its cache; and with its cache cut "
        "to the first half of its lines plus half a line, as a run stopped midway leaves it.", "",
        tabulate(check_rows, headers=["world", "optimizer", "seed", "cache deleted: same prompt",
                                      "warm cache: new rollouts", "warm cache: same prompt",
                                      "resumed: cached / new rollouts", "resumed: same prompt"], tablefmt="github")
        if check_rows else "Skipped (--no-checks).", "",
        "## Worlds", "",
        tabulate(world_rows, headers=["world", "made by", "rooms", "dates", "capacities", "equipment", "tasks", "'No Room' tasks",
                                      "twin rooms differ by"], tablefmt="github"), "",
        *([f"Runs that failed: " + "; ".join(f"{r.world} {r.strategy} seed {r.seed} ({r.kind}): {r.error}" for r in failed), ""]
          if failed else []),
        *first_seed_trajectories(runs),
    ]) + "\n"


def twin(args: argparse.Namespace, command: str, worlds: list[dict], rows: list[dict], checks: list[dict],
         criteria: list[dict], runs: list[Run], seconds: float) -> str:
    def clean(value: Any) -> Any:
        return None if isinstance(value, float) and value != value else value

    per_run = [{
        "world": r.world, "strategy": r.strategy, "seed": r.seed, "kind": r.kind, "exit": r.exit,
        "seconds": round(r.seconds, 2), "error": r.error or None,
        "holdout_before": clean(holdout(r, "before")) if r.doc else None,
        "holdout_after": clean(holdout(r, "after")) if r.doc else None,
        "score_before": clean(holdout(r, "before", "score")) if r.doc else None,
        "score_after": clean(holdout(r, "after", "score")) if r.doc else None,
        "gap": clean(gap(r)) if r.doc else None, "accepted": accepted(r) if r.doc else None,
        "budget": (r.doc or {}).get("budget"), "repeated_rollouts": (r.doc or {}).get("repeated_rollouts"),
        "best_version": (r.doc or {}).get("best", {}).get("version"), "stopped": (r.doc or {}).get("stopped"),
    } for r in runs]
    doc = {
        "format": 1, "simulator": "sim-standin-1 (offline stand-in, not a real model)", "command": command,
        "budget": args.budget, "seeds": args.seeds, "strategies": args.strategies, "jobs": args.jobs,
        "seconds": round(seconds, 1), "worlds": worlds,
        "rows": [{k: clean(v) for k, v in row.items()} for row in rows],
        "checks": checks, "acceptance": criteria, "met": all(c["met"] for c in criteria), "runs": per_run,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# --- main ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m evals.bench.optimize", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worlds", default="committed,gen-1,gen-2",
                        help="comma-separated: committed and gen-N (the office `python -m evals.rooms office --seed N` writes)")
    parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-4"), help="optimizer seeds, e.g. 0-4 or 0,3")
    parser.add_argument("--strategies", default="apo,evo",
                        help="comma-separated: apo, evo, and the ungated ablation evo-heuristic (LLM operators off)")
    parser.add_argument("--jobs", type=int, default=2, help="pytest runs at once, each in its own copy (default 2)")
    parser.add_argument("--budget", type=int, default=300, help="rollouts per run (the acceptance is stated at 300)")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "optimization-benchmark.md",
                        help="the markdown report; its JSON twin is written beside it (.json)")
    parser.add_argument("--no-checks", action="store_true",
                        help="skip the reproducibility runs on the first seed (cache deleted, kept, cut halfway)")
    args = parser.parse_args(argv)
    try:
        worlds = [parse_world(w) for w in args.worlds.split(",") if w]
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    strategies = [s for s in args.strategies.split(",") if s]
    unknown = [s for s in strategies if strategy_args(s)[0] not in ("apo", "evo")]
    if unknown or not worlds or args.jobs < 1 or args.budget < 1:
        parser.error(f"unknown strategy {unknown[0]!r}; use apo, evo or evo-heuristic" if unknown
                     else "need at least one world, --jobs ≥ 1 and --budget ≥ 1")
    command = " ".join(["python -m evals.bench.optimize", *(sys.argv[1:] if argv is None else argv)])
    started = time.perf_counter()
    first = min(args.seeds)
    checked = [s for s in strategies if s in GATED]  # the ablation is never gated, so not checked either
    with tempfile.TemporaryDirectory(prefix="evals-opt-bench-") as tmp:
        work = Path(tmp)
        print(f"worlds: {', '.join(w.name for w in worlds)} ...", flush=True)
        folders = {w.name: (work / "worlds" / w.name if w.generated else None) for w in worlds}
        described = [make_world(w, folders[w.name] or work) for w in worlds]
        by_name = {w.name: w for w in worlds}
        plans = [Run(w.name, s, seed, "main") for w in worlds for s in strategies for seed in args.seeds]
        if not args.no_checks:
            plans += [Run(w.name, s, first, "cold") for w in worlds for s in checked]
        print(f"{len(plans)} runs, {args.jobs} at a time ...", flush=True)
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            runs = list(pool.map(lambda r: run_pytest(r, by_name[r.world], folders[r.world], work, args.budget,
                                                      keep=r.kind == "main" and r.seed == first), plans))
        if not args.no_checks:
            mains = {(r.world, r.strategy): r for r in runs if r.kind == "main" and r.seed == first}
            warm_plans = [Run(w.name, s, first, kind) for w in worlds for s in checked for kind in ("warm", "resumed")]

            def again(r: Run) -> Run:
                main = mains[r.world, r.strategy]
                cache = ((main.doc or {}).get("settings") or {}).get("cache") or CACHE
                return run_pytest(r, by_name[r.world], folders[r.world], work, args.budget,
                                  cache_from=Path(main.root), cache=cache)

            with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                runs += list(pool.map(again, warm_plans))
    seconds = time.perf_counter() - started
    main_runs = [r for r in runs if r.kind == "main"]
    rows = [summarize(w.name, s, [r for r in main_runs if r.world == w.name and r.strategy == s])
            for w in worlds for s in strategies]
    checks = []
    if not args.no_checks:
        for w in worlds:
            for s in checked:
                pick = {r.kind: r for r in runs if r.world == w.name and r.strategy == s and r.seed == first}
                checks.append(check_row(pick["main"], pick.get("cold"), pick.get("warm"), pick.get("resumed")))
    criteria = acceptance(rows, runs, checks, args.budget)
    text = render(args, command, described, rows, checks, criteria, runs, seconds)
    out = Path(args.out)
    write_text_atomic(out, text)
    write_text_atomic(out.with_suffix(".json"), twin(args, command, described, rows, checks, criteria, runs, seconds))
    if out.resolve().parent == (REPO / "reports").resolve():
        write_optimization_reports([r for r in main_runs if r.world == "committed" and r.seed == first and r.doc
                                    and r.strategy in GATED])
    print(text)
    return 0 if all(c["met"] for c in criteria) else 1


def write_optimization_reports(runs: list[Run]) -> None:
    """The committed office's first-seed runs become reports/optimization.md and reports/optimization/*."""
    for run in runs:
        for name, body in run.files.items():
            write_text_atomic(REPO / "reports/optimization" / name, body)
    if runs:
        write_text_atomic(REPO / "reports/optimization.md", render_optimization(runs[0].doc, [r.doc for r in runs[1:]]))


if __name__ == "__main__":
    sys.exit(main())
