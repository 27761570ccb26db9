"""`reports/optimization.md`: trajectory chart, candidates, the accepted diff and the budget used."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from tabulate import tabulate

SIMULATOR_NOTE = (
    "> **Simulator, not a real model.** The agent, critic and editor here were `sim-standin-1`, the "
    "offline stand-in that ships with the harness. These numbers show the optimizer working against "
    "the simulator's documented behaviour, not a real model's."
)


def _num(value: Any, places: int = 3) -> str:
    return "—" if value is None else f"{value:.{places}f}"


def _cell(text: str, limit: int = 90) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _curve(doc: Mapping[str, Any]) -> list[tuple[int, float]]:
    return [(p["rollouts"], p["best_val"]) for p in doc["trajectory"]]


def _chart(docs: Sequence[Mapping[str, Any]]) -> list[str]:
    """A Mermaid line chart of best validation score against rollouts used, one line per strategy."""
    xs = sorted({x for doc in docs for x, _ in _curve(doc)})
    if not xs:
        return []
    lines = [
        "```mermaid",
        "xychart-beta",
        f'    title "Best validation {docs[0].get("metric", "score")} by rollouts used"',
        "    x-axis \"rollouts used\" [" + ", ".join(str(x) for x in xs) + "]",
        '    y-axis "validation score" 0 --> 1',
    ]
    for doc in docs:
        curve = _curve(doc)
        values, last = [], curve[0][1]
        for x in xs:
            # A step function: the best so far holds until the strategy's next point.
            last = max([v for px, v in curve if px <= x], default=last)
            values.append(f"{last:.3f}")
        lines.append("    line [" + ", ".join(values) + "]")
    lines.append("```")
    if len(docs) > 1:
        lines.append("")
        lines.append("Lines, in order: " + ", ".join(f"{d['strategy']} (seed {d['seed']})" for d in docs) + ".")
    return lines


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
    budget, gate = doc["budget"], doc.get("gate")
    parts = [f"# Prompt optimization: {doc['suite']} ({doc['strategy']})", ""]
    if doc.get("simulator"):
        parts += [SIMULATOR_NOTE, ""]
    holdout_before = doc["incumbent"]["splits"]["holdout"]
    holdout_after = doc["best"]["splits"]["holdout"]
    verdict = gate["summary"] if gate else f"not run: {doc['stopped']}"
    summary = [
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
    parts += [tabulate(summary, headers=["", ""], tablefmt="github"), ""]
    parts += ["## Score by split", ""]
    metrics = sorted({k for side in ("incumbent", "best") for s in doc[side]["splits"].values() for k in s}
                     - {"n", "of"})
    rows = []
    for split in doc["splits"]:
        for side, label in (("incumbent", "before"), ("best", "after")):
            cell = doc[side]["splits"][split]
            rows.append([split, label, f"{cell['n']}/{cell['of']}", *(_num(cell.get(m)) for m in metrics)])
    parts += [tabulate(rows, headers=["split", "prompt", "tasks scored", *metrics], tablefmt="github"), ""]
    parts += ["## Trajectory", ""]
    compared = [doc, *[o for o in others if o.get("suite") == doc["suite"]]]
    parts += _chart(compared)
    parts += [""]
    if len(compared) > 1:
        parts += _comparison(compared)
    if doc.get("strategy_data", {}).get("operators"):
        parts += _operators(doc["strategy_data"]["operators"])
    parts += ["## Candidates", ""]
    rows = [
        [c["version"], c["parent"] or "—", c["origin"], c["round"], c["chars"],
         _num(c["minibatch_mean"]) + (f" ({c['minibatch_n']})" if c["minibatch_n"] else ""),
         _num(c["val_mean"]) + (f" ({c['val_n']})" if c["val_n"] else ""),
         _cell(c["status"]), _cell("; ".join(c["notes"]), 60)]
        for c in doc["candidates"]
    ]
    parts += [tabulate(rows, headers=["version", "parent", "origin", "round", "chars", "minibatch", "validation",
                                      "status", "notes"], tablefmt="github"), ""]
    parts += ["## Prompt diff", ""]
    parts += ["```diff", doc["diff"].rstrip("\n") or "(no change)", "```", ""]
    if doc.get("optimizer_failures"):
        parts += ["## Optimizer call failures", ""]
        parts += [f"- {_cell(line, 200)}" for line in doc["optimizer_failures"]] + [""]
    return "\n".join(parts)
