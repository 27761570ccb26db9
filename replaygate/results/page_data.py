"""What `reports/index.html` shows, as one JSON-ready document: suites, cases with transcripts, optimization runs.

Built from what a run already has: its case records and baseline comparison, each case's cassette (the
transcript), the baseline file's entries, the prompt files and history, and `reports/optimization/*.json`.
It holds nothing that changes between two runs of the same inputs (no times in replay), so the page built
from it is byte for byte the same, as scores.md is.
"""

from __future__ import annotations

import difflib
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from replaygate.cassettes.cassette import CaseKey
from replaygate.core.config import EvalConfig
from replaygate.run.evaluation import RunInfo
from replaygate.llm.pricing import load_prices
from replaygate.results.gate import BaselineDiff
from replaygate.results.outcome import UNANSWERED, TaskOutcome
from replaygate.results.record import CaseRecord
from replaygate.results.report import BINS, score_histogram, summary_rows
from replaygate.results.results import RunResults, SuiteResults
from replaygate.results.stats import mean_interval, percentile
from replaygate.results.transcript import transcript

FORMAT = 1
STATUSES = ("pass", "fail", "known failure", "error")  # a case's one status; regression and improvement are flags


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class PageSources:
    """Where the page reads what the records do not carry; `read_text` sees the session's staged files."""

    root: Path  # the project root: prompt paths in the records are relative to it
    cassettes: Path | None = None
    optimization: Path | None = None  # the folder of the optimization runs' JSON documents (its name may be `*`)
    history: Path | None = None  # prompt history (`<stem>/<version>.md`): the baseline's prompt text, for the diff
    read_text: Callable[[Path], str | None] = field(default=_read)


# The optimizer's defaults for where it keeps prompt history and its report (replaygate.optimize.settings; a test
# keeps them equal): results sit below optimize and do not import it.
OPTIMIZE_DEFAULTS = {"history": "prompts/history", "report": "reports/optimization/{suite}.md"}


def page_sources(root: Path, config: EvalConfig, read_text: Callable[[Path], str | None] = _read) -> PageSources:
    """What a project's settings say the page reads: its cassettes, prompt history and optimization runs."""
    optimize = {**OPTIMIZE_DEFAULTS, **{k: v for k, v in config.optimize.items() if k in OPTIMIZE_DEFAULTS and isinstance(v, str)}}
    # The optimizer writes each run's document in the folder named like its report: <report>/<strategy>.json, with
    # `{suite}` in the report's name for every suite (a `*` here, globbed when the page is built).
    report = config.resolve(root, optimize["report"].replace("{suite}", "*"))
    return PageSources(root, config.resolve(root, config.cassettes), report.with_suffix(""),
                       config.resolve(root, optimize["history"]), read_text)


def grader_reasons(reason: str, names: Sequence[str]) -> dict[str, str]:
    """Each grader's reason, read back from the composite's "a, b: why; c: why" (graders at 1.0 are not in it)."""
    known = set(names)
    found: dict[str, str] = {}
    current: list[str] = []
    for part in reason.split("; ") if reason else []:
        head, sep, text = part.partition(": ")
        graders = [g.strip() for g in head.split(",")]
        if sep and graders and all(g in known for g in graders):
            current = graders
            for g in graders:
                found[g] = text
        elif current:  # a reason that itself holds "; "
            for g in current:
                found[g] += "; " + part
    return found


def _round(value: float | None, places: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, places)


def _cassette(sources: PageSources, folders: Sequence[str], model: str, case: str, repeat: int) -> dict | None:
    """The case's cassette, parsed, from the first folder (the suite's, or a group's) that has it for the agent model."""
    if sources.cassettes is None:
        return None
    for folder in folders:
        text = sources.read_text(sources.cassettes / CaseKey(folder, model, case, repeat).relpath)
        try:
            data = json.loads(text) if text is not None else None
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    return None


def _repeat(record: CaseRecord, names: Sequence[str], live: bool, conversation: dict | None) -> dict[str, Any]:
    reasons = grader_reasons(record.reason, names)
    graders = {name: {"score": record.grader_scores[name],
                      "reason": reasons.get(name, "full marks" if record.grader_scores[name] >= 1 else "")}
               for name in names if name in record.grader_scores}
    return {
        "repeat": record.repeat, "score": record.score, "passed": record.passed, "answer": record.chosen,
        "reason": record.reason, "error_kind": record.error_kind, "graders": graders,
        "tokens": {"in": record.tokens_in, "out": record.tokens_out, "grading_in": record.grading_tokens_in,
                   "grading_out": record.grading_tokens_out, "cached": record.tokens_cached,
                   "reasoning": record.tokens_reasoning},
        "retries": record.retries,
        # Replay times measure the replay and change run to run: only a live or recording run shows them.
        "latency_s": record.latency_s if live else None,
        "ttft_s": record.ttft_s if live else None,
        "contaminated": record.contaminated,
        "transcript": conversation,
    }


def _baseline_case(diff: BaselineDiff, task: str) -> dict[str, Any] | None:
    if diff.baseline is None or task not in diff.baseline.cases:
        return None
    case = diff.baseline.cases[task]
    raw = diff.baseline.entry.get("cases", {}).get(task, {}) if isinstance(diff.baseline.entry, Mapping) else {}
    answers = raw.get("answers") if isinstance(raw, Mapping) else None
    answer = raw.get("answer") if isinstance(raw, Mapping) else None
    return {"score": case.score, "passed": case.passed, "scores": list(case.scores), "graders": dict(case.graders),
            "answers": [str(a) for a in answers] if isinstance(answers, list) else
            ([str(answer)] if isinstance(answer, str) else [])}


def _status(o: TaskOutcome, base: dict | None) -> str:
    if any(r.error_kind in UNANSWERED for r in o.records):
        return "error"
    if o.passed:
        return "pass"
    return "known failure" if base is not None and not base["passed"] else "fail"


def _case(name: str, info: RunInfo, o: TaskOutcome, diff: BaselineDiff, flags: Mapping[str, set[str]],
          graders: Sequence[str], sources: PageSources, min_passes: int | None) -> dict[str, Any]:
    live = info.mode != "replay"
    repeats = [_repeat(r, graders, live, _conversation(sources, info, r, [name])) for r in o.records]
    base = _baseline_case(diff, o.task_id)
    worst = o.worst
    needed = o.repeats if min_passes is None else min(min_passes, o.repeats)
    return {
        "id": o.task_id,
        "status": _status(o, base),
        **{flag: o.task_id in tasks for flag, tasks in flags.items()},
        "expected": o.records[0].expected,
        "answer": worst.chosen,
        "score": round(o.mean, 4),
        "delta": _round(diff.deltas.get(o.task_id)),
        "reason": worst.reason,
        "graders": {g: round(math.fsum(r.grader_scores.get(g, 0.0) for r in o.records) / o.repeats, 4)
                    for g in graders if any(g in r.grader_scores for r in o.records)},
        "failing_graders": sorted({g for r in o.records for g, v in r.grader_scores.items() if v < 1}),
        "verdict": {"passes": o.passes, "repeats": o.repeats, "needed": needed, "passed": o.passed,
                    "spread": round(o.spread, 4), "pass_at_k": round(o.pass_at(o.repeats), 4)},
        "repeats": repeats,
        "baseline": base,
    }


def _conversation(sources: PageSources, info: RunInfo, record: CaseRecord, folders: Sequence[str]) -> dict | None:
    if info.mode == "live":
        return None  # a live run records nothing: a cassette on disk is an older run's, not this one's
    cassette = _cassette(sources, folders, info.agent_model, record.task_id, record.repeat)
    return transcript(cassette) if cassette is not None else None


def _order(outcomes: Mapping[str, TaskOutcome], diff: BaselineDiff) -> list[str]:
    """Regressions first (largest drop first), then improvements, then every other case by id, as scores.md."""
    first = [t for t in [*diff.regressions, *diff.improvements] if t in outcomes]
    return first + [t for t in outcomes if t not in set(first)]


def _prompt_diff(suite: SuiteResults, diff: BaselineDiff, sources: PageSources) -> dict[str, Any] | None:
    """The prompt's text against the baseline's, when their versions differ and both texts can be found."""
    info = suite.info
    base_version = diff.baseline.meta.get("prompt_version") if diff.baseline is not None else None
    if not isinstance(base_version, str) or not base_version or base_version == info.prompt_version:
        return None
    path = Path(info.prompt_path)
    now = sources.read_text(path if path.is_absolute() else sources.root / path)
    old = None
    if sources.history is not None:
        old = sources.read_text(sources.history / path.stem / f"{base_version}.md")
    note = "" if old is not None else (f"the baseline's prompt version {base_version} is not kept in the prompt history "
                                       f"({sources.history or 'not set'}), so its text cannot be shown")
    text = ""
    if old is not None and now is not None:
        text = "".join(difflib.unified_diff(old.splitlines(keepends=True), now.splitlines(keepends=True),
                                            f"{base_version} (baseline)", f"{info.prompt_version} (this run)"))
    return {"from": base_version, "to": info.prompt_version, "diff": text, "note": note}


def _grader_rows(info: RunInfo, outcomes: Mapping[str, TaskOutcome], diff: BaselineDiff, graders: Sequence[str]) -> list[dict]:
    """Per grader: its weight, mean now, mean in the baseline over the compared tasks, and tasks at full marks."""
    rows = []
    for g in graders:
        scored = [o for o in outcomes.values() if any(g in r.grader_scores for r in o.records)]
        mean = math.fsum(math.fsum(r.grader_scores.get(g, 0.0) for r in o.records) / o.repeats for o in scored) / len(scored)
        base_cases = diff.baseline.cases if diff.baseline is not None else {}
        compared = [base_cases[t].graders[g] for t in diff.deltas if t in base_cases and g in base_cases[t].graders]
        rows.append({"name": g, "weight": info.grader_weights.get(g), "mean": round(mean, 4),
                     "baseline": _round(math.fsum(compared) / len(compared)) if compared else None,
                     "full": sum(all(r.grader_scores.get(g, 0.0) >= 1 for r in o.records) for o in scored), "of": len(scored)})
    return rows


def _gate(diff: BaselineDiff) -> dict[str, Any]:
    verdict = diff.verdict
    return {"ran": verdict is not None, "failed": diff.failed, "summary": diff.summary(), "baseline": diff.note,
            "comparison": verdict.comparison.to_dict() if verdict else None,
            "max_regression": verdict.max_regression if verdict else None, "alpha": verdict.alpha if verdict else None,
            "new_tasks": len(diff.new_tasks), "missing_tasks": len(diff.missing_tasks),
            "contaminated_tasks": len(diff.contaminated_tasks), "setting_changes": list(diff.setting_changes),
            "regressions": len(diff.regressions), "improvements": len(diff.improvements)}


def _suite(results: RunResults, name: str, diff: BaselineDiff, sources: PageSources) -> dict[str, Any]:
    suite = results.suites[name]
    info = suite.info
    outcomes = suite.outcomes(results.min_passes)
    graders = sorted({g for r in suite.records for g in r.grader_scores})
    prices = load_prices()
    flags = {"regression": set(diff.regressions), "improvement": set(diff.improvements), "new": set(diff.new_tasks),
             "contaminated": set(diff.contaminated_tasks)}
    generated = _generated_folders(sources, name)
    return {
        "name": name,
        "simulator": info.is_simulator,
        "mode": info.mode,
        "agent_model": info.agent_model,
        "judge_model": info.judge_model,
        "prompt": {"path": info.prompt_path, "version": info.prompt_version},
        "threshold": results.threshold_of(suite),
        "repeats": results.repeats,
        "summary_rows": summary_rows(results, suite, outcomes, prices.models, prices.as_of),
        "numbers": _numbers(suite, outcomes),
        "gate": _gate(diff),
        "histogram": _histogram(outcomes, diff),
        "graders": _grader_rows(info, outcomes, diff, graders),
        "prompt_diff": _prompt_diff(suite, diff, sources),
        "cases": [_case(name, info, outcomes[t], diff, flags, graders, sources, results.min_passes)
                  for t in _order(outcomes, diff)],
        "minimal": [{"id": r.task_id, "input": r.task_input, "expected": r.expected, "answer": r.chosen, "reason": r.reason,
                     "graders": dict(sorted(r.grader_scores.items())), "transcript": _conversation(sources, info, r, generated)}
                    for r in suite.minimal],
    }


def _numbers(suite: SuiteResults, outcomes: Mapping[str, TaskOutcome]) -> dict[str, Any]:
    """The suite's headline numbers: cases, passes, mean score with its interval, tokens, latency."""
    means = [o.mean for o in outcomes.values()]
    low, high = mean_interval(means)
    timed = [r.latency_s for r in suite.records if r.error_kind != "harness"]
    return {
        "cases": len(outcomes), "passed": sum(o.passed for o in outcomes.values()),
        "mean": _round(math.fsum(means) / len(means)) if means else None,
        "ci": [_round(low), _round(high)] if means else None,
        "tokens_in": sum(r.tokens_in for r in suite.records), "tokens_out": sum(r.tokens_out for r in suite.records),
        # Replay times measure the replay: no percentiles, as in scores.md.
        "latency": {"p50": _round(percentile(timed, 50)), "p95": _round(percentile(timed, 95))}
        if suite.info.mode != "replay" and timed else None,
    }


def _histogram(outcomes: Mapping[str, TaskOutcome], diff: BaselineDiff) -> dict[str, Any]:
    """Tasks per score bin, this run and (on the same tasks) the baseline."""
    now, base = [o.mean for o in outcomes.values()], None
    if diff.baseline is not None and diff.deltas:
        now = [outcomes[t].mean for t in diff.deltas]  # the same tasks on both sides, as in scores.md
        base = [diff.baseline.cases[t].score for t in diff.deltas]
    return {"bins": BINS, "now": score_histogram(now), "baseline": score_histogram(base) if base is not None else None,
            "tasks": len(now)}


def _generated_folders(sources: PageSources, suite: str) -> list[str]:
    """Cassette folders of the suite's generated cases (`<suite>_<group>`), where a property test records them."""
    if sources.cassettes is None or not sources.cassettes.is_dir():
        return []
    return sorted(p.name for p in sources.cassettes.iterdir() if p.is_dir() and p.name.startswith(f"{suite}_"))


OPTIMIZATION_KEYS = ("strategy", "suite", "seed", "candidates", "trajectory", "diff", "incumbent", "best")


def optimization_runs(sources: PageSources) -> list[dict[str, Any]]:
    """Each optimization run's document in the optimization folder (other JSON there is not a run: skipped)."""
    folder = sources.optimization
    if folder is None or not folder.parent.is_dir():
        return []
    runs = []
    for path in sorted(folder.parent.glob(f"{folder.name}/*.json")):
        text = sources.read_text(path)
        try:
            doc = json.loads(text) if text is not None else None
        except ValueError:
            continue
        if not isinstance(doc, dict) or any(key not in doc for key in OPTIMIZATION_KEYS):
            continue
        holdout = doc.get("holdout_scores") or {}
        before, after = holdout.get("incumbent") or {}, holdout.get("best") or {}
        runs.append({
            "file": path.name,
            "strategy": doc["strategy"], "suite": doc["suite"], "seed": doc["seed"], "accepted": bool(doc.get("accepted")),
            "simulator": bool(doc.get("simulator")), "prompt_path": doc.get("prompt_path"),
            "metric": doc.get("metric", "score"), "stopped": doc.get("stopped"),
            "gate": doc.get("gate"), "budget": doc.get("budget"),
            "from": doc["incumbent"].get("version"), "to": doc["best"].get("version"),
            "splits": {side: doc[side].get("splits") for side in ("incumbent", "best")},
            "diff": doc["diff"],
            "holdout": [{"id": t, "before": before.get(t), "after": after.get(t)} for t in sorted(set(before) | set(after))],
            "candidates": [{k: c.get(k) for k in ("version", "parent", "origin", "round", "chars", "minibatch_mean",
                                                  "minibatch_n", "val_mean", "val_n", "status", "notes")}
                           for c in doc["candidates"] if isinstance(c, dict)],
            "trajectory": [{k: p.get(k) for k in ("round", "rollouts", "best_val", "best", "candidates")}
                           for p in doc["trajectory"] if isinstance(p, dict)],
        })
    return runs


SHARED_MIN = 200  # tool results at least this long that several cases got are stored once


def share_tool_results(suites: Sequence[Mapping[str, Any]]) -> list[str]:
    """Store each long tool result that several cases got once: its entries then hold its index in the list returned.

    Cases that ask the same question get the same (long) tool result; this keeps the page a size a PR can carry."""
    entries = [e for suite in suites
               for t in [r["transcript"] for c in suite["cases"] for r in c["repeats"]] + [m["transcript"] for m in suite["minimal"]]
               if t for e in t["entries"] if e["type"] == "tool_result" and len(e["output"]) >= SHARED_MIN]
    counts = Counter(e["output"] for e in entries)
    texts: list[str] = []
    index: dict[str, int] = {}
    for entry in entries:
        if counts[entry["output"]] > 1:
            if entry["output"] not in index:
                index[entry["output"]] = len(texts)
                texts.append(entry["output"])
            entry["output"] = index[entry["output"]]
    return texts


def page_document(results: RunResults, diffs: Mapping[str, BaselineDiff], sources: PageSources) -> dict[str, Any]:
    """Everything the page shows; JSON-ready, in a stable order."""
    suites = [_suite(results, name, diffs[name], sources) for name in sorted(results.suites)]
    return {
        "format": FORMAT,
        "texts": share_tool_results(suites),
        "statuses": list(STATUSES),
        "threshold": results.threshold,
        "repeats": results.repeats,
        "min_passes": results.min_passes,
        "suites": suites,
        "properties": dict(sorted(results.properties.items())),
        "optimization": optimization_runs(sources),
    }
