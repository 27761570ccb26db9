"""The reports' Mermaid charts: the score distribution and the optimization trajectory (xychart-beta, GitHub renders it).

These check the chart text, everywhere: the grammar's statements in order, the explicit palette, a caption naming
each series by the colour Mermaid gives it, series that fit the axes, a rollouts axis to scale, and one task set
per chart. `tests/test_mermaid_check.py` renders the blocks with mermaid.js where a browser is installed.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from evals.bench.optimize import trajectories
from replaygate.optimize.summary import (grid_step, render_optimization, run_label, task_set, trajectory_chart,
                                        trajectory_charts)
from replaygate.results.charts import BACKGROUNDS, MIN_CONTRAST, PALETTE, contrast
from replaygate.results.report import BINS, distribution_legend, mermaid_distribution, score_histogram

REPORTS = Path(__file__).resolve().parents[1] / "reports" / "optimization"
scores = st.lists(st.floats(0.0, 1.0, allow_nan=False), max_size=60)
SERIES = re.compile(r'(line|bar) "([^"]+)" \[([-\d., ]*)\]')


def palette(line: str) -> list[str]:
    """The colours of an `%%{init}%%` line, in the order Mermaid gives them to the series."""
    found = re.fullmatch(r"%%\{init: (.*)\}%%", line)
    assert found, line
    return [c.strip() for c in json.loads(found.group(1))["themeVariables"]["xyChart"]["plotColorPalette"].split(",")]


def statements(block: str) -> tuple[list[str], list[str]]:
    lines = block.splitlines()
    assert lines[0] == "```mermaid" and lines[-1] == "```" and lines[2] == "xychart-beta"
    assert palette(lines[1]) == [code for _, code in PALETTE]
    body = [line.strip() for line in lines[3:-1]]
    for line in body:
        assert line.count("[") == line.count("]") <= 1 and line.count('"') % 2 == 0, line
    assert re.fullmatch(r'title "[^"]+"', body[0])
    return [line.split()[0] for line in body], body


def legend(caption: str) -> list[tuple[str, str]]:
    """(colour, series) pairs of a caption "*Colours: blue: this run (bars); orange: baseline (line). …*"."""
    found = re.match(r"\*Colours: (.*?)\.(?: |\*$)", caption)
    assert found and caption.endswith("*"), caption
    return [tuple(part.split(": ", 1)) for part in found.group(1).split("; ")]


def parse(block: str) -> dict:
    """The distribution chart: ten score bins, this run's bars, the baseline's line if there is one."""
    kinds, body = statements(block)
    assert kinds[:4] == ["title", "x-axis", "y-axis", "bar"] and kinds[4:] in ([], ["line"])
    labels = re.findall(r'"([^"]+)"', body[1].split("[", 1)[1])
    top = re.fullmatch(r'y-axis "tasks" 0 --> (\d+)', body[2])
    assert top, body[2]
    series, titles = {}, []
    for line in body[3:]:
        kind, title, values = SERIES.fullmatch(line).groups()
        series[kind] = [int(v) for v in values.split(", ")]
        titles.append(title)
    return {"labels": labels, "top": int(top.group(1)), "series": series, "titles": titles}


def parse_trajectory(lines: list[str]) -> dict:
    """The trajectory chart and its caption: a numeric rollouts axis and one line per run."""
    end = lines.index("```", 1)
    kinds, body = statements("\n".join(lines[: end + 1]))
    assert kinds[:3] == ["title", "x-axis", "y-axis"] and set(kinds[3:]) == {"line"}
    x_axis = re.fullmatch(r'x-axis "rollouts used" (\d+) --> (\d+)', body[1])
    assert x_axis, body[1]
    runs = [SERIES.fullmatch(line).groups()[1:] for line in body[3:]]
    assert lines[end + 1] == ""
    return {"x": (int(x_axis.group(1)), int(x_axis.group(2))), "caption": lines[end + 2],
            "lines": [(title, [float(v) for v in values.split(", ")]) for title, values in runs]}


def mermaid_x(axis: tuple[int, int], count: int) -> list[float]:
    """Where xychart-beta puts the values of a line on a numeric x-axis: evenly from min to max."""
    low, high = axis
    return [low + i * (high - low) / (count - 1) for i in range(count)]


# --- the score distribution ------------------------------------------------------------------------------


@given(scores, st.none() | scores)
def test_the_chart_is_well_formed_and_its_series_fit_the_axes(now, base):
    chart = parse(mermaid_distribution(now, base))
    assert len(chart["labels"]) == BINS
    assert set(chart["series"]) == ({"bar"} if base is None else {"bar", "line"})
    for values in chart["series"].values():
        assert len(values) == BINS and max(values) <= chart["top"]
    assert sum(chart["series"]["bar"]) == len(now)


@given(st.integers(1, 500), st.booleans())
def test_the_caption_names_each_series_by_the_colour_mermaid_gives_it(tasks, with_baseline):
    chart = parse(mermaid_distribution([0.5] * 3, [0.5] * 3 if with_baseline else None))
    caption = distribution_legend(tasks, with_baseline)
    named = legend(caption)
    assert [colour for colour, _ in named] == [name for name, _ in PALETTE[: len(chart["titles"])]]
    assert [series.split(" (")[0] for _, series in named] == chart["titles"] == ["this run", "baseline"][: len(named)]
    assert f"{tasks} tasks" in caption


def test_histogram_bins_put_one_in_the_top_bin_and_edges_up():
    assert score_histogram([0.0, 0.1, 0.15, 0.2, 0.99, 1.0]) == [1, 2, 1, 0, 0, 0, 0, 0, 0, 2]


def test_every_palette_colour_stands_out_on_light_and_dark_pages():
    for name, code in PALETTE:
        assert all(contrast(code, page) >= MIN_CONTRAST for page in BACKGROUNDS), name
    assert len({name for name, _ in PALETTE}) == len(PALETTE)


# --- the optimization trajectory --------------------------------------------------------------------------

SPLITS = {"train": ["t1", "t2", "t3"], "validation": ["v1", "v2"], "holdout": ["h1", "h2"]}


def run(strategy: str, seed: int, points: list[tuple[int, float]], splits: dict = SPLITS) -> dict:
    side = {"version": "v", "splits": {name: {"score": 0.5, "n": len(ids), "of": len(ids)} for name, ids in splits.items()}}
    return {"suite": "s", "strategy": strategy, "seed": seed, "metric": "score", "splits": copy.deepcopy(splits),
            "trajectory": [{"round": i, "rollouts": x, "best_val": v} for i, (x, v) in enumerate(points)],
            "incumbent": side, "best": side, "budget": {"used": 10, "rollouts": 10, "optimizer_calls": 1,
            "paid": 10, "cache_hits": 0, "optimizer_tokens_in": 1, "optimizer_tokens_out": 1, "agent_tokens": 1},
            "accepted": False, "stopped": "budget", "gate": None, "prompt_path": "p.md", "agent_model": "m",
            "optimizer_model": "m", "backend": "b", "repeated_rollouts": 0, "candidates": [], "diff": ""}


@st.composite
def curves(draw) -> list[tuple[int, float]]:
    """A best-so-far trajectory: rollouts never go back, the best score never drops."""
    steps = draw(st.lists(st.tuples(st.integers(0, 120), st.integers(0, 400)), min_size=1, max_size=8))
    x, best, points = 0, 0, []
    for dx, gain in steps:
        x, best = x + dx, min(1000, best + gain)
        points.append((x, best / 1000))
    return points


@given(st.lists(curves(), min_size=1, max_size=len(PALETTE)))
def test_the_trajectory_axis_is_to_scale_and_each_line_is_the_best_so_far(points):
    docs = [run("apo" if i % 2 else "evo", i, curve) for i, curve in enumerate(points)]
    chart = parse_trajectory(trajectory_chart(docs))
    low, high = chart["x"]
    step = grid_step(max(curve[-1][0] for curve in points))
    assert low == 0 and high >= max(curve[-1][0] for curve in points) and high % step == 0
    assert len(chart["lines"]) == len(docs)
    for (title, values), doc, curve in zip(chart["lines"], docs, points):
        assert title == run_label(doc) and len(values) == high // step + 1 <= 51
        xs = mermaid_x(chart["x"], len(values))
        assert xs == [i * step for i in range(len(values))]  # evenly spaced, increasing, exact
        for at, value in zip(xs, values):
            seen = [v for x, v in curve if x <= at]
            assert value == round(max(seen) if seen else curve[0][1], 3)
        assert values == sorted(values) and values[-1] == round(curve[-1][1], 3)
    assert legend(chart["caption"]) == [(PALETTE[i][0], run_label(d)) for i, d in enumerate(docs)]
    assert f"read every {step}:" in chart["caption"] and f"Task set `{task_set(docs[0])}`" in chart["caption"]


def test_grid_steps_are_round_and_at_most_fifty_intervals():
    assert [grid_step(n) for n in (0, 50, 51, 100, 101, 254, 300, 2600)] == [1, 1, 2, 2, 5, 10, 10, 100]


def test_the_task_set_fingerprint_ignores_order_but_not_membership_or_split():
    same = run("apo", 0, [(1, 0.1)], {name: list(reversed(ids)) for name, ids in SPLITS.items()})
    moved = run("apo", 0, [(1, 0.1)], {**SPLITS, "train": ["t1", "t2"], "holdout": ["h1", "h2", "t3"]})
    assert task_set(run("evo", 3, [(1, 0.1)])) == task_set(same) != task_set(moved)
    assert task_set({"strategy": "evo"}) is None


def test_runs_on_another_task_set_are_never_drawn_beside_this_one():
    this, beside = run("apo", 0, [(22, 0.2), (70, 0.4)]), run("evo", 0, [(22, 0.2), (84, 0.7)])
    other = run("evo", 2, [(22, 0.3), (90, 0.9)], {**SPLITS, "validation": ["v1", "t1"], "train": ["v2", "t2", "t3"]})
    text = render_optimization(this, [other, beside])
    section = text.split("## Trajectory\n")[1].split("\n## Candidates")[0]
    chart = parse_trajectory(section.strip("\n").splitlines())
    assert [title for title, _ in chart["lines"]] == ["apo (seed 0, this run)", "evo (seed 0)"]
    assert legend(chart["caption"]) == [("blue", "apo (seed 0, this run)"), ("orange", "evo (seed 0)")]
    assert f"Not drawn: evo (seed 2), on task set `{task_set(other)}`, not this run's `{task_set(this)}`." in section
    table = section.split("## Strategies compared")[1]
    assert [row.split("|")[1].strip() for row in table.splitlines() if row.startswith("| ") and "---" not in row][1:] \
        == ["apo", "evo"]


def test_a_chart_per_task_set_and_at_most_one_run_per_colour():
    docs = [run("apo", i, [(10, 0.1 * i)]) for i in range(len(PALETTE) + 2)]
    docs.append(run("evo", 0, [(10, 0.5)], {**SPLITS, "holdout": ["h1"], "train": ["t1", "t2", "t3", "h2"]}))
    lines = trajectory_charts(docs)
    starts = [i for i, line in enumerate(lines) if line == "```mermaid"]
    charts = [parse_trajectory(lines[i:]) for i in starts]
    assert [len(c["lines"]) for c in charts] == [len(PALETTE), 2, 1]
    assert [title for c in charts for title, _ in c["lines"]] == [run_label(d) for d in docs]
    assert {re.search(r"Task set `(\w+)`", c["caption"]).group(1) for c in charts[:2]} == {task_set(docs[0])}


def test_the_committed_optimization_runs_share_one_chart_with_a_named_legend():
    apo, evo = (json.loads((REPORTS / f"{name}.json").read_text(encoding="utf-8")) for name in ("apo", "evo"))
    section = render_optimization(evo, [apo]).split("## Trajectory\n")[1]
    chart = parse_trajectory(section.strip("\n").splitlines())
    same = task_set(apo) == task_set(evo)
    assert legend(chart["caption"])[: 1 + same] == [("blue", run_label(evo, note="this run")),
                                                    ("orange", run_label(apo))][: 1 + same]


def test_the_benchmark_names_a_variant_beside_its_seed():
    docs = [run("apo", 0, [(10, 0.2)]), run("evo", 0, [(12, 0.3)]), run("evo", 0, [(14, 0.25)])]
    results = [{"doc": d, "label": label} for d, label in zip(docs, ["apo", "evo", "evo (heuristic operators only)"])]
    lines = trajectories(results)
    assert lines[0] == "## Trajectories"
    chart = parse_trajectory(lines[2:])
    assert [name for _, name in legend(chart["caption"])] == \
        ["apo (seed 0)", "evo (seed 0)", "evo (heuristic operators only, seed 0)"]
