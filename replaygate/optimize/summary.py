"""`reports/optimization.md`: trajectory chart, candidates, the accepted diff and the budget used."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from typing import Any, Mapping, Sequence

from tabulate import tabulate

from replaygate.results.charts import PALETTE, colour_name, init_directive, legend, mermaid_label

MAX_POINTS = 50  # intervals on the rollouts axis: fine enough to place each round, few enough to read

SIMULATOR_NOTE = (
    "> **Simulator, not a real model.** The agent, critic and editor here were {backend}, the suite's "
    "offline stand-in. These numbers show the optimizer working against that stand-in's behaviour, "
    "not a real model's."
)


def _num(value: Any, places: int = 3) -> str:
    return "—" if value is None else f"{value:.{places}f}"


def _cell(text: str, limit: int = 90) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def task_set(doc: Mapping[str, Any]) -> str | None:
    """A fingerprint of the run's tasks, split by split: two runs share a chart only when theirs match.

    The JSON records task ids per split, not task contents, so ids are what it hashes."""
    splits = doc.get("splits")
    if not splits:
        return None
    canonical = json.dumps({name: sorted(ids) for name, ids in splits.items()}, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def _same_chart(doc: Mapping[str, Any]) -> tuple:
    # Validation scores compare only on the same tasks, the same way scored.
    return doc.get("suite"), doc.get("metric", "score"), task_set(doc)


def run_label(doc: Mapping[str, Any], variant: str = "", note: str = "") -> str:
    """How a chart names a run: "apo (seed 0)", "evo (heuristic operators only, seed 0, this run)"."""
    return f"{doc['strategy']} ({variant + ', ' if variant else ''}seed {doc['seed']}{', ' + note if note else ''})"


def _curve(doc: Mapping[str, Any]) -> list[tuple[int, float]]:
    return [(p["rollouts"], p["best_val"]) for p in doc["trajectory"]]


def grid_step(end: int) -> int:
    """The smallest step of 1, 2 or 5 times a power of ten that spans `end` in at most MAX_POINTS intervals."""
    for power in itertools.count():
        for factor in (1, 2, 5):
            if end <= factor * 10**power * MAX_POINTS:
                return factor * 10**power
    raise AssertionError("unreachable")


def resample(curve: Sequence[tuple[int, float]], grid: Sequence[int]) -> list[float]:
    """The best score so far at each grid point: the highest value at or before it, the first value before any."""
    return [max((v for x, v in curve if x <= at), default=curve[0][1]) for at in grid]


def trajectory_chart(docs: Sequence[Mapping[str, Any]], labels: Sequence[str] = ()) -> list[str]:
    """Best validation score against rollouts used, one line per run, the x-axis to scale.

    xychart-beta spaces a line's values evenly over a numeric x-axis, so each curve is read at the same
    evenly spaced rollout counts. The runs must share a task set; at most one per palette colour."""
    drawn = [(doc, labels[i] if labels else run_label(doc)) for i, doc in enumerate(docs) if doc["trajectory"]]
    if not drawn:
        return []
    if len(drawn) > len(PALETTE) or len({_same_chart(doc) for doc, _ in drawn}) > 1:
        raise ValueError("one chart holds runs on the same task set, one per palette colour")
    metric = drawn[0][0].get("metric", "score")
    ends = [_curve(doc)[-1][0] for doc, _ in drawn]
    step = grid_step(max(ends))
    top = max(step, -(-max(ends) // step) * step)
    grid = range(0, top + 1, step)
    values = [resample(_curve(doc), grid) for doc, _ in drawn]
    y_top = max(1, math.ceil(max(max(v) for v in values)))
    lines = [
        "```mermaid",
        init_directive(),
        "xychart-beta",
        f'    title "Best validation {mermaid_label(metric)} by rollouts used"',
        f'    x-axis "rollouts used" 0 --> {top}',
        f'    y-axis "validation {mermaid_label(metric)}" 0 --> {y_top}',
    ]
    for (doc, name), curve in zip(drawn, values):
        lines.append(f'    line "{mermaid_label(name)}" [' + ", ".join(f"{v:.3f}" for v in curve) + "]")
    lines.append("```")
    ended = ", ".join(f"{colour_name(i)} at {end}" for i, end in enumerate(ends))
    fingerprint = task_set(drawn[0][0])
    validation = len(drawn[0][0].get("splits", {}).get("validation", []))
    note = (f"The x-axis is rollouts to scale, read every {step}: each line is its run's best validation "
            f"{metric} so far, flat before its first round (the starting prompt's score) and after its last "
            f"({ended} rollouts). " + (f"Task set `{fingerprint}`, {validation} validation tasks." if fingerprint
                                        else "Task set not recorded."))
    return [*lines, "", legend([name for _, name in drawn], note)]


def trajectory_charts(docs: Sequence[Mapping[str, Any]], labels: Sequence[str] = ()) -> list[str]:
    """A chart per suite, metric and task set, in the order first met; more runs than colours take more charts."""
    labels = list(labels) or [run_label(doc) for doc in docs]
    groups: dict[tuple, list[int]] = {}
    for i, doc in enumerate(docs):
        groups.setdefault(_same_chart(doc), []).append(i)
    parts: list[str] = []
    for members in groups.values():
        for start in range(0, len(members), len(PALETTE)):
            chunk = members[start:start + len(PALETTE)]
            chart = trajectory_chart([docs[i] for i in chunk], [labels[i] for i in chunk])
            parts += [*chart, ""] if chart else []
    return parts


def _why_apart(other: Mapping[str, Any], doc: Mapping[str, Any]) -> str:
    if other.get("metric", "score") != doc.get("metric", "score"):
        return f"scored on {other.get('metric', 'score')}, not {doc.get('metric', 'score')}"
    if task_set(other) != task_set(doc):
        return f"on task set `{task_set(other)}`, not this run's `{task_set(doc)}`"
    return f"past the palette's {len(PALETTE)} colours"


def _comparison(docs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Strategies side by side: what each reached on validation and holdout, and what it spent."""
    rows = []
    for d in docs:
        metric = d.get("metric", "score")
        before, after = d["incumbent"]["splits"]["holdout"], d["best"]["splits"]["holdout"]
        rows.append([
            d["strategy"], d["seed"], d["incumbent"]["version"], f"{d['budget']['used']} of {d['budget']['rollouts']}",
            d["budget"]["optimizer_calls"], _num(d["trajectory"][-1]["best_val"] if d["trajectory"] else None),
            f"{_num(before.get(metric))} → {_num(after.get(metric))}",
            "; ".join(f"{name} {_num(before.get(name))} → {_num(after.get(name))}" for name in _graders(after, metric)) or "—",
            "yes" if d["accepted"] else "no",
        ])
    headers = ["strategy", "seed", "from", "rollouts", "optimizer calls", "best validation", "holdout metric",
               "holdout by grader", "accepted"]
    return ["## Strategies compared", "", tabulate(rows, headers=headers, tablefmt="github"), ""]


def _graders(split: Mapping[str, Any], metric: str) -> list[str]:
    """The suite's own graders in a split's scores: every key but the composite, the metric and the counts."""
    return sorted(key for key in split if key not in {"score", metric, "n", "of"})


def _operators(stats: Sequence[Mapping[str, Any]]) -> list[str]:
    """The evolutionary search's operator statistics: what each proposed and how often it improved."""
    rows = [[s["operator"], s["proposed"], s["rejected"], s["screened_out"], s["validated"], s["improved"],
             s["optimizer_calls"], _num(s["posterior_mean"])] for s in stats]
    headers = ["operator", "proposed", "rejected by lint", "screened out", "validated", "improved", "optimizer calls",
               "P(improves)"]
    return ["## Operators", "", tabulate(rows, headers=headers, tablefmt="github"), ""]


def render_optimization(doc: Mapping[str, Any], others: Sequence[Mapping[str, Any]] = ()) -> str:
    parts = [f"# Prompt optimization: {doc['suite']} ({doc['strategy']})", ""]
    if doc.get("simulator"):
        parts += [SIMULATOR_NOTE.format(backend=doc.get("backend") or "a test double"), ""]
    parts += [tabulate(_overview(doc), headers=["", ""], tablefmt="github"), ""]
    parts += _score_by_split(doc)
    parts += _trajectory(doc, others)
    if doc.get("strategy_data", {}).get("operators"):
        parts += _operators(doc["strategy_data"]["operators"])
    parts += _candidates(doc)
    parts += ["## Prompt diff", ""]
    parts += ["```diff", doc["diff"].rstrip("\n") or "(no change)", "```", ""]
    if doc.get("optimizer_failures"):
        parts += ["## Optimizer call failures", ""]
        parts += [f"- {_cell(line, 200)}" for line in doc["optimizer_failures"]] + [""]
    return "\n".join(parts)


def _overview(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The run at a glance: the prompt's versions, the gate's verdict, the holdout score and what was spent."""
    budget, gate = doc["budget"], doc.get("gate")
    holdout_before = doc["incumbent"]["splits"]["holdout"]
    holdout_after = doc["best"]["splits"]["holdout"]
    verdict = gate["summary"] if gate else f"not run: {doc['stopped']}"
    return [
        ("prompt", f"`{doc['prompt_path']}`: `{doc['incumbent']['version']}` → `{doc['best']['version']}`"
         + (" (written back)" if doc["accepted"] else " (unchanged)")),
        ("write-back gate", verdict),
        ("holdout score", f"{_num(holdout_before['score'])} → {_num(holdout_after['score'])}"),
        ("stopped", doc["stopped"]),
        ("rollouts", f"{budget['used']} of {budget['rollouts']} ({budget.get('paid', budget['used'])} run, "
                     f"{budget['cache_hits']} from the cache); repeated rollouts: {doc['repeated_rollouts']}"),
        ("optimizer calls", f"{budget['optimizer_calls']} ({budget['optimizer_tokens_in']} tokens in, "
                            f"{budget['optimizer_tokens_out']} out)"),
        ("agent and judge tokens", str(budget["agent_tokens"])),
        ("models", f"agent `{doc['agent_model']}`, optimizer `{doc['optimizer_model']}` via {doc['backend']}"),
        ("seed", str(doc["seed"])),
        ("splits", ", ".join(f"{name} {len(ids)}" for name, ids in doc["splits"].items())),
    ]


def _score_by_split(doc: Mapping[str, Any]) -> list[str]:
    """Before and after, split by split, every metric the run recorded."""
    metrics = sorted({k for side in ("incumbent", "best") for s in doc[side]["splits"].values() for k in s}
                     - {"n", "of"})
    rows = []
    for split in doc["splits"]:
        for side, label in (("incumbent", "before"), ("best", "after")):
            cell = doc[side]["splits"][split]
            rows.append([split, label, f"{cell['n']}/{cell['of']}", *(_num(cell.get(m)) for m in metrics)])
    return ["## Score by split", "",
            tabulate(rows, headers=["split", "prompt", "tasks scored", *metrics], tablefmt="github"), ""]


def _trajectory(doc: Mapping[str, Any], others: Sequence[Mapping[str, Any]]) -> list[str]:
    """This run's chart with the suite's other runs that measure the same thing, why the rest are not drawn,
    and the runs drawn side by side."""
    parts = ["## Trajectory", ""]
    same_suite = [o for o in others if o.get("suite") == doc["suite"]]
    # Only runs on this run's tasks and metric: their validation scores measure the same thing.
    compared = [doc, *[o for o in same_suite if _same_chart(o) == _same_chart(doc)]][: len(PALETTE)]
    parts += trajectory_chart(compared, [run_label(doc, note="this run"), *map(run_label, compared[1:])])
    parts += [""]
    apart = [o for o in same_suite if o not in compared]
    if apart:
        parts += ["Not drawn: " + "; ".join(f"{run_label(o)}, {_why_apart(o, doc)}" for o in apart) + ".", ""]
    if len(compared) > 1:
        parts += _comparison(compared)
    return parts


def _candidates(doc: Mapping[str, Any]) -> list[str]:
    """Every candidate the search proposed: where it came from, what it scored and what became of it."""
    rows = [
        [c["version"], c["parent"] or "—", c["origin"], c["round"], c["chars"],
         _num(c["minibatch_mean"]) + (f" ({c['minibatch_n']})" if c["minibatch_n"] else ""),
         _num(c["val_mean"]) + (f" ({c['val_n']})" if c["val_n"] else ""),
         _cell(c["status"]), _cell("; ".join(c["notes"]), 60)]
        for c in doc["candidates"]
    ]
    return ["## Candidates", "", tabulate(rows, headers=["version", "parent", "origin", "round", "chars", "minibatch",
                                                         "validation", "status", "notes"], tablefmt="github"), ""]
