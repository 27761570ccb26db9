"""The optimization run as data: the JSON twin of `reports/optimization.md`, and what renders it."""

from __future__ import annotations

import difflib
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping

from replaygate.optimize.candidate import Candidate
from replaygate.optimize.search import SearchResult
from replaygate.optimize.settings import PACKAGED

FORMAT = 1


def portable(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as a committed file may hold them: the packaged optimizer prompts by package path, not by where this
    machine installed them (another checkout, a temporary copy)."""
    shipped = str(PACKAGED)
    return {key: portable(value) if isinstance(value, dict) else
            f"replaygate/optimize/prompts/{Path(value).name}" if isinstance(value, str) and value.startswith(shipped + "/")
            else value
            for key, value in settings.items()}

def _split_means(result: SearchResult, candidate: Candidate) -> dict[str, dict[str, Any]]:
    """Per split, the mean composite and exact metric over the tasks evaluated so far (no new rollouts)."""
    search = result.search
    evaluator = search.evaluator
    table: dict[str, dict[str, Any]] = {}
    for split, tasks in search.splits.items():
        outcomes = [
            o for task in tasks for r in range(evaluator.repeats)
            if (o := evaluator.lookup(evaluator.key(candidate, task, r))) is not None
        ]
        table[split] = {
            "n": len({o.task_id for o in outcomes}),
            "of": len(tasks),
            "score": round(statistics.fmean(o.score for o in outcomes), 4) if outcomes else None,
            **{
                name: round(statistics.fmean(o.metric(name) for o in outcomes), 4) if outcomes else None
                for name in sorted({g for o in outcomes for g in o.graders})
            },
        }
    return table


def holdout_scores(result: SearchResult) -> dict[str, Any]:
    """The gate's own inputs: each holdout task's metric (repeats averaged) under both prompts, unrounded."""
    holdout = result.holdout
    best = holdout.get("candidate", holdout.get("incumbent", {}) if result.best == result.search.incumbent else {})
    return {"metric": result.search.metric, "incumbent": dict(sorted(holdout.get("incumbent", {}).items())),
            "best": dict(sorted(best.items()))}


def build_document(result: SearchResult, facts: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the report shows; `facts` adds the run's context (suite, models, seed, paths)."""
    search = result.search
    incumbent, best = search.incumbent, result.best
    decision = result.decision
    diff = "".join(
        difflib.unified_diff(
            incumbent.text.splitlines(keepends=True), best.text.splitlines(keepends=True),
            fromfile=f"{incumbent.version} (before)", tofile=f"{best.version} (after)",
        )
    )
    return {
        "format": FORMAT,
        **facts,
        "strategy": facts.get("strategy"),
        "settings": portable(search.settings.model_dump()),
        "split_salt": search.settings.split_salt,
        "splits": {name: [t.id for t in tasks] for name, tasks in search.splits.items()},
        # With the gate's settings above, enough to recompute its verdict (replaygate.results.stats.paired_comparison).
        "holdout_scores": holdout_scores(result),
        "incumbent": {"version": incumbent.version, "text": incumbent.text, "splits": _split_means(result, incumbent)},
        "best": {"version": best.version, "text": best.text, "splits": _split_means(result, best)},
        "gate": None if decision is None else {
            "accepted": decision.accepted,
            "summary": decision.summary,
            **decision.comparison.to_dict(),  # an unbounded interval is null: JSON has no infinity
        },
        "accepted": result.accepted,
        "stopped": result.stopped,
        "diff": diff,
        "trajectory": list(search.trajectory),
        "candidates": [asdict(entry) for entry in search.log.values()],
        "budget": search.budget.to_json(),
        "repeated_rollouts": search.evaluator.paid_count - len(search.evaluator.paid),
        "optimizer_failures": list(search.llm.failures),
    }
