"""`reports/scores.md` for reviewers (deterministic: the PR diff is the score diff) and `reports/scores.json` for machines."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Mapping, Sequence

from tabulate import tabulate

from replaygate.core.errors import InputError, os_error_message
from replaygate.run.evaluation import RunInfo
from replaygate.results.charts import init_directive, legend
from replaygate.results.gate import BaselineDiff
from replaygate.results.outcome import TaskOutcome
from replaygate.llm.pricing import Price, estimated_cost, format_cost, unpriced
from replaygate.results.record import CaseRecord
from replaygate.results.results import RunResults, SuiteResults
from replaygate.cassettes.secrets import refuse_secrets, write_checked
from replaygate.results.stats import format_p, mean_interval, percentile

SIMULATOR_NOTE = (
    "> **A test double, not a real model.** These answers come from the suite's offline stand-in "
    "(a simulator or a `FunctionModel` kept with the project). Its scores measure prompts against "
    "the double's documented behaviour, not any real model's."
)
BINS = 10  # score histogram: [0, 0.1), [0.1, 0.2), ... [0.9, 1.0]


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table(rows: list[list[str]], headers: list[str]) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def _signed(value: float) -> str:
    return "0" if abs(value) < 5e-5 else f"{value:+.2f}"


def render_scores(
    results: RunResults,
    diffs: Mapping[str, BaselineDiff],
    prices: Mapping[str, Price],
    prices_as_of: str = "",
) -> str:
    """The markdown report of every suite in the run; the same inputs give the same bytes.

    One suite keeps its own page layout; several get an overview table, then a `## <suite>` section each."""
    names = sorted(results.suites)
    if len(names) <= 1:
        return "\n".join(render_suite(results, name, results.suites[name], diffs[name], prices, prices_as_of) for name in names)
    parts = [_overview(results, diffs)]
    parts += [render_suite(results, name, results.suites[name], diffs[name], prices, prices_as_of, level=2) for name in names]
    return "\n".join(parts)


def _overview(results: RunResults, diffs: Mapping[str, BaselineDiff]) -> str:
    rows = []
    for name, suite in sorted(results.suites.items()):
        outcomes = suite.outcomes(results.min_passes)
        count, passed = len(outcomes), sum(o.passed for o in outcomes.values())
        mean, low, high = _mean_interval(outcomes)
        rows.append([name, str(count), f"{passed}/{count} ({passed / count:.1%})" if count else "n/a",
                     f"{mean:.3f} ± {_half_width(low, high)}" if count else "n/a", _verdict_cell(diffs[name])])
    lines = ["# Scores", "", f"{len(rows)} suites, each gated against its own entry in the baseline.", "",
             _table(rows, ["suite", "cases", "passed", "mean score ± 95% CI", "gate"]), ""]
    return "\n".join(lines)


def _verdict_cell(diff: BaselineDiff) -> str:
    if diff.verdict is None:
        return "not run: new suite, not in the baseline" if diff.new_suite else "not run: no baseline"
    verdict = diff.verdict.summary.split(";")[0].removeprefix("gate ")
    return f"{'❌' if diff.failed else '✅'} {verdict}"


def _mean_interval(outcomes: Mapping[str, TaskOutcome]) -> tuple[float, float, float]:
    means = [o.mean for o in outcomes.values()]
    mean = math.fsum(means) / len(means) if means else 0.0
    return (mean, *mean_interval(means))


def render_suite(
    results: RunResults,
    name: str,
    suite: SuiteResults,
    diff: BaselineDiff,
    prices: Mapping[str, Price],
    prices_as_of: str = "",
    level: int = 1,
) -> str:
    """One suite's page: its title at heading `level` (1 alone, 2 under a several-suite overview), sections one below."""
    info = suite.info
    outcomes = suite.outcomes(results.min_passes)
    h = "#" * (level + 1)
    parts = [f"# Scores: {name}" if level == 1 else f"{'#' * level} {name}", ""]
    if info.is_simulator:
        parts += [SIMULATOR_NOTE, ""]
    parts += [f"{h} Summary", "", _table(summary_rows(results, suite, outcomes, prices, prices_as_of), ["", ""]), ""]
    parts += _gate_section(diff, h)
    parts += _changes_section(outcomes, diff, h)
    parts += _chart_section(outcomes, diff, h)
    parts += _graders_section(outcomes, diff, info, h)
    if suite.minimal:
        parts += [f"{h} Smallest failing generated task", "",
                  "A property test failed; this is the smallest failing example Hypothesis found (shrunk when it was "
                  "drawn, and replayed from the recorded examples since):", ""]
        for r in suite.minimal:
            parts += [
                "```json",
                json.dumps({"id": r.task_id, "input": r.task_input, "expected": None if r.expected == "—" else r.expected},
                           sort_keys=True, ensure_ascii=False),
                "```",
                f"- chosen: {_cell(r.chosen)}",
                f"- reasons: {_cell(r.reason)}",
                "",
            ]
    parts += [f"{h} Tasks", "", _tasks_table(outcomes, diff, results.repeats)]
    return "\n".join(parts) + "\n"


# --- summary ---------------------------------------------------------------------------------------


def summary_rows(results: RunResults, suite: SuiteResults, outcomes: Mapping[str, TaskOutcome],
                  prices: Mapping[str, Price], prices_as_of: str) -> list[list[str]]:
    info, records = suite.info, suite.records
    rows = _identity_rows(info) + _score_rows(results, suite, outcomes)
    rows += _cost_rows(info, records, prices, prices_as_of) + _kept_out_rows(outcomes, records)
    retried = sum(r.retries for r in records)
    if retried:
        rows.append(["unreadable answers asked again", str(retried)])
    if info.http:
        rows.append(["service", info.http])
    return rows


def _identity_rows(info: RunInfo) -> list[list[str]]:
    """What ran: the suite, who answered it, its prompt and how (live or replayed)."""
    simulated = " (offline test double, not a real model)" if info.is_simulator else ""
    provider = info.backend
    if info.is_simulator and "simulator" not in provider:
        provider += ", answers from an offline test double (not a real model)"
    return [
        ["suite", info.suite],
        ["provider", provider],
        ["agent model", info.agent_model + simulated],
        ["judge model", (info.judge_model + simulated) if info.judge_model else "not used"],
        ["prompt", f"`{info.prompt_path}` version `{info.prompt_version}`"],
        ["mode", info.mode + ("" if info.mode == "live" else f" (record mode `{info.record_mode}`)")],
    ]


def _score_rows(results: RunResults, suite: SuiteResults, outcomes: Mapping[str, TaskOutcome]) -> list[list[str]]:
    """How it scored: cases, pass rate, mean score, and with repeats pass@k and the spread."""
    count = len(outcomes)
    passed = sum(o.passed for o in outcomes.values())
    rule = ""
    if results.repeats > 1:
        needed = results.min_passes or results.repeats
        rule = f", a task passes when {needed} of its {results.repeats} repeats pass"
    mean, low, high = _mean_interval(outcomes)
    rows = [
        ["cases", f"{count}" + (f" tasks × {results.repeats} repeats" if results.repeats > 1 else "")],
        ["pass rate", f"{passed / count:.1%} ({passed}/{count}, threshold {results.threshold_of(suite):g}{rule})" if count else "n/a"],
        ["mean score", f"{mean:.3f} ± {_half_width(low, high):s} (95% CI {_range(low, high)})" if count else "n/a"],
    ]
    if results.repeats > 1 and count:
        at_1 = sum(o.pass_at(1) for o in outcomes.values()) / count
        at_n = sum(o.pass_at(results.repeats) for o in outcomes.values()) / count
        spread = sum(o.spread for o in outcomes.values()) / count
        rows.append([f"pass@1 / pass@{results.repeats}", f"{at_1:.1%} / {at_n:.1%}"])
        rows.append(["spread over repeats", f"{spread:.3f} (mean standard deviation per task)"])
    return rows


def _cost_rows(info: RunInfo, records: Sequence[CaseRecord], prices: Mapping[str, Price],
               prices_as_of: str) -> list[list[str]]:
    """What running it took: tokens, estimated cost, latency, and the errors met."""
    kinds = Counter(r.error_kind for r in records if r.error_kind)
    rows = [["tokens in / out", _tokens(records)],
            ["estimated cost", _cost(info, records, prices, prices_as_of)],
            ["latency p50 / p95", _latency(info, records)]]
    if any(r.ttft_s is not None for r in records):
        rows.append(["time to first token p50 / p95", _ttft(info, records)])
    rows.append(["errors", f"{sum(kinds.values())}" + (f" ({', '.join(f'{k}: {v}' for k, v in sorted(kinds.items()))})" if kinds else "")])
    return rows


def _kept_out_rows(outcomes: Mapping[str, TaskOutcome], records: Sequence[CaseRecord]) -> list[list[str]]:
    """Cases that tell nothing about the prompt: contaminated ones, and ones whose model calls escaped the harness."""
    rows = []
    contaminated = sum(any(r.contaminated for r in o.records) for o in outcomes.values())
    if contaminated:
        rows.append(["contaminated", f"{contaminated} case{'s' if contaminated != 1 else ''} whose input appears in the "
                                     "prompt (kept out of the gate)"])
    silent = sorted({r.task_id for r in records if r.model_calls == 0})
    if silent:
        rows.append(["no model call", f"{len(silent)} case{'s' if len(silent) != 1 else ''} sent no model request through "
                                      f"the harness ({', '.join(silent[:5])}{', …' if len(silent) > 5 else ''}); "
                                      "never accepted into the baseline"])
    return rows


def _half_width(low: float, high: float) -> str:
    return "∞" if math.isinf(high) else f"{(high - low) / 2:.3f}"


def _range(low: float, high: float) -> str:
    return "unbounded with one task" if math.isinf(high) else f"{low:.3f} to {high:.3f}"


def _usage_by_model(info: RunInfo, records: Sequence[CaseRecord]) -> dict[str, list[int]]:
    """[input, cached input, output] per model: the model each answer named, else the role's configured model."""
    usage: dict[str, list[int]] = {}

    def add(model: str, counts: Sequence[int]) -> None:
        total = usage.setdefault(model, [0, 0, 0])
        for index, count in enumerate(counts):
            total[index] += count

    for r in records:
        # The grading part of the cached tokens is not kept apart: the named grading models' share is, the rest
        # of the cached tokens goes to the agent's configured model (the usual case: no cache, or no judge).
        cached_named = sum(c[1] for c in r.models.values()) + sum(c[1] for c in r.grading_models.values())
        for configured, named, tokens_in, cached, tokens_out in (
            (info.agent_model, r.models, r.tokens_in - r.grading_tokens_in, r.tokens_cached - cached_named,
             r.tokens_out - r.grading_tokens_out),
            (info.judge_model, r.grading_models, r.grading_tokens_in, 0, r.grading_tokens_out),
        ):
            for model, counts in named.items():
                add(model, counts)
            rest = [tokens_in - sum(c[0] for c in named.values()), max(cached, 0),
                    tokens_out - sum(c[2] for c in named.values())]
            if rest[0] > 0 or rest[2] > 0:
                add(configured, [rest[0], min(rest[1], rest[0]), rest[2]])
    return usage


def _tokens(records: Sequence[CaseRecord]) -> str:
    tokens_in, tokens_out = sum(r.tokens_in for r in records), sum(r.tokens_out for r in records)
    cached, reasoning = sum(r.tokens_cached for r in records), sum(r.tokens_reasoning for r in records)
    return f"{tokens_in} / {tokens_out} ({cached} of the input cached, {reasoning} of the output reasoning)"


def _cost(info: RunInfo, records: Sequence[CaseRecord], prices: Mapping[str, Price], as_of: str) -> str:
    usage = _usage_by_model(info, records)
    cost = estimated_cost(usage, prices)
    if cost is None:
        return (format_cost(None, ", ".join(unpriced(usage, prices)))
                + "; add it to the price table replaygate/llm/prices.toml")
    what = " (the offline test double costs nothing)" if info.is_simulator and cost == 0 else ""
    # A replay makes no calls: the figure is what the recorded calls cost.
    billed = ", what the recorded calls cost" if info.mode == "replay" and not what else ""
    return format_cost(cost) + what + billed + (f"; prices as of {as_of}" if as_of and not what else "")


def _ttft(info: RunInfo, records: Sequence[CaseRecord]) -> str:
    if info.mode == "replay":
        return "not measured in replay (replay times are in scores.json)"  # as latency: it would change run to run
    timed = [r.ttft_s for r in records if r.ttft_s is not None]
    return f"{percentile(timed, 50) * 1000:.0f} ms / {percentile(timed, 95) * 1000:.0f} ms, first streamed call per rollout"


def _latency(info: RunInfo, records: Sequence[CaseRecord]) -> str:
    if info.mode == "replay":
        # Replay time is not model latency, and it changes run to run: it would break the byte-identical report.
        return "not measured in replay (replay times are in scores.json)"
    timed = [r.latency_s for r in records if r.error_kind != "harness"]
    if not timed:
        return "n/a"
    return f"{percentile(timed, 50):.2f} s / {percentile(timed, 95):.2f} s per rollout"


# --- against the baseline --------------------------------------------------------------------------


def _gate_section(diff: BaselineDiff, h: str) -> list[str]:
    lines = [f"{h} Gate", ""]
    if diff.verdict is None:
        return lines + [f"**Not run**: {diff.note}.", ""]
    mark = "❌" if diff.failed else "✅"
    lines += [f"{mark} **{diff.verdict.summary}**", ""]
    c = diff.verdict.comparison
    lines += [
        f"- baseline: {diff.note}",
        f"- test: paired over tasks ({c.method}), repeats averaged within a task; p(gain) {format_p(c.p_gain)}",
        f"- compared: {c.n} tasks; new (not in the baseline, not tested): {len(diff.new_tasks)}; "
        f"in the baseline but not in this run: {len(diff.missing_tasks)}"
        + (f"; could not run: {len(diff.unscored_tasks)}" if diff.unscored_tasks else "")
        + (f"; contaminated (input in the prompt, not tested): {len(diff.contaminated_tasks)}"
           if diff.contaminated_tasks else ""),
    ]
    if diff.new_tasks:
        lines.append(f"- new tasks: {_cell(', '.join(diff.new_tasks), 400)}")
    if diff.missing_tasks:
        lines.append(f"- not in this run: {_cell(', '.join(diff.missing_tasks), 400)}")
    for change in diff.setting_changes:
        lines.append(f"- changed since the baseline: {change}")
    return lines + [""]


def _change_row(o: TaskOutcome, diff: BaselineDiff) -> list[str]:
    base = diff.baseline.cases[o.task_id]
    was = "pass" if base.passed else "FAIL"
    now = "pass" if o.passed else "FAIL"
    return [o.task_id, o.records[0].expected, _cell(_chosen(o)), f"{base.score:.2f}", f"{o.mean:.2f}",
            _signed(diff.deltas[o.task_id]), f"{was} → {now}" if was != now else now, _cell(o.worst.reason)]


def _changes_section(outcomes: Mapping[str, TaskOutcome], diff: BaselineDiff, h: str) -> list[str]:
    if diff.baseline is None:
        return []
    headers = ["task", "expected", "chosen", "baseline", "score", "Δ", "result", "reasons"]
    lines = []
    for title, tasks in (("Regressions", diff.regressions), ("Improvements", diff.improvements)):
        lines += [f"{h} {title} ({len(tasks)})", ""]
        if tasks:
            lines += [_table([_change_row(outcomes[t], diff) for t in tasks], headers), ""]
        else:
            lines += ["None.", ""]
    return lines


def score_histogram(scores: Sequence[float]) -> list[int]:
    counts = [0] * BINS
    for score in scores:
        counts[min(BINS - 1, int(score * BINS + 1e-9))] += 1
    return counts


def mermaid_distribution(now: Sequence[float], base: Sequence[float] | None) -> str:
    """An xychart-beta (GitHub renders it): tasks per score bin, this run as bars, the baseline as a line."""
    labels = ", ".join(f'"{i / BINS:.1f}-{(i + 1) / BINS:.1f}"' for i in range(BINS))
    bars = score_histogram(now)
    line = score_histogram(base) if base is not None else None
    top = max(bars + (line or []) + [1])
    title = "Tasks by mean score: this run (bars)" + (" vs baseline (line)" if line is not None else "")
    rows = ["```mermaid", init_directive(), "xychart-beta", f'    title "{title}"', f'    x-axis "score" [{labels}]',
            f'    y-axis "tasks" 0 --> {top}', f'    bar "this run" [{", ".join(map(str, bars))}]']
    if line is not None:
        rows.append(f'    line "baseline" [{", ".join(map(str, line))}]')
    return "\n".join(rows + ["```"])


def distribution_legend(tasks: int, with_baseline: bool) -> str:
    """The caption under the distribution chart, naming its bars and line by colour."""
    if not with_baseline:
        return legend(["this run (bars)"], f"{tasks} tasks; no baseline to compare.")
    return legend(["this run (bars)", "baseline (line)"], f"Both count the same {tasks} tasks.")


def _chart_section(outcomes: Mapping[str, TaskOutcome], diff: BaselineDiff, h: str) -> list[str]:
    if not outcomes:
        return []
    now = [o.mean for o in outcomes.values()]
    base = None
    if diff.baseline is not None and diff.deltas:
        # Same tasks on both sides, so the two shapes compare like with like.
        now = [outcomes[t].mean for t in diff.deltas]
        base = [diff.baseline.cases[t].score for t in diff.deltas]
    return [f"{h} Score distribution", "", mermaid_distribution(now, base), "",
            distribution_legend(len(now), base is not None), ""]


def _graders_section(outcomes: Mapping[str, TaskOutcome], diff: BaselineDiff, info: RunInfo, h: str) -> list[str]:
    names = sorted({n for o in outcomes.values() for r in o.records for n in r.grader_scores})
    if not names:
        return []
    rows = []
    for name in names:
        values = {t: sum(r.grader_scores.get(name, 0.0) for r in o.records) / o.repeats for t, o in outcomes.items()}
        mean = sum(values.values()) / len(values)
        perfect = sum(v >= 1.0 for v in values.values())
        base_cell = delta_cell = "n/a"
        if diff.baseline is not None:
            common = [t for t in diff.deltas if name in diff.baseline.cases[t].graders]
            if common:
                base_mean = sum(diff.baseline.cases[t].graders[name] for t in common) / len(common)
                now_mean = sum(values[t] for t in common) / len(common)
                base_cell, delta_cell = f"{base_mean:.3f}", _signed(now_mean - base_mean)
        weight = info.grader_weights.get(name)
        rows.append([name, f"{weight:g}" if weight is not None else "", f"{mean:.3f}", base_cell, delta_cell,
                     f"{perfect}/{len(values)}"])
    return [f"{h} Graders", "", _table(rows, ["grader", "weight", "mean", "baseline", "Δ", "tasks at 1.0"]), ""]


# --- per task --------------------------------------------------------------------------------------


def _chosen(o: TaskOutcome) -> str:
    if o.repeats == 1:
        return o.records[0].chosen
    counts = Counter(r.chosen for r in o.records)
    return ", ".join(choice if n == 1 else f"{choice} ×{n}" for choice, n in sorted(counts.items(), key=lambda c: (-c[1], c[0])))


def _tasks_table(outcomes: Mapping[str, TaskOutcome], diff: BaselineDiff, repeats: int) -> str:
    headers = ["task", "expected", "chosen", "score", "Δ", "result", "reasons"]
    if repeats > 1:
        headers[4:4] = ["spread", "passes", f"pass@{repeats}"]
    rows = []
    for task, o in outcomes.items():
        if task in diff.deltas:
            delta = _signed(diff.deltas[task])
        elif diff.baseline is not None and task in diff.baseline.cases:
            delta = "—"  # in the baseline, but no repeat could run
        else:
            delta = "new" if diff.baseline is not None or diff.new_suite else ""
        result = "pass" if o.passed else "FAIL"
        if task in diff.contaminated_tasks:
            delta, result = "excluded", f"{result}, contaminated"  # the prompt shows its input: no test
        row = [task, o.records[0].expected, _cell(_chosen(o)), f"{o.mean:.2f}", delta, result, _cell(o.worst.reason)]
        if repeats > 1:
            row[4:4] = [f"{o.spread:.2f}", f"{o.passes}/{o.repeats}", f"{o.pass_at(repeats):.2f}"]
        rows.append(row)
    return _table(rows, headers)


# --- files -----------------------------------------------------------------------------------------


def usage_summary(info: RunInfo, records: Sequence[CaseRecord], prices: Mapping[str, Price] | None) -> dict:
    """A suite's tokens (agent and graders), per model as priced, and their estimated cost (None: a model is unpriced)."""
    by_model = _usage_by_model(info, records)
    return {
        "tokens_in": sum(r.tokens_in for r in records),
        "tokens_cached": sum(r.tokens_cached for r in records),
        "tokens_out": sum(r.tokens_out for r in records),
        "tokens_reasoning": sum(r.tokens_reasoning for r in records),
        "by_model": {model: dict(zip(("tokens_in", "tokens_cached", "tokens_out"), counts))
                     for model, counts in sorted(by_model.items()) if any(counts)},
        "estimated_cost_usd": None if prices is None else estimated_cost(by_model, prices),
    }


def run_metadata(results: RunResults, diffs: Mapping[str, BaselineDiff], extra: Mapping[str, object],
                 prices: Mapping[str, Price] | None = None) -> dict:
    """`scores.json`: the report's numbers plus what scores.md leaves out (times, durations, versions)."""
    suites = {name: _suite_metadata(results, suite, diffs[name], prices) for name, suite in sorted(results.suites.items())}
    return {**extra, "threshold": results.threshold, "repeats": results.repeats, "min_passes": results.min_passes,
            "suites": suites}


def _suite_metadata(results: RunResults, suite: SuiteResults, diff: BaselineDiff,
                    prices: Mapping[str, Price] | None) -> dict:
    """One suite's entry of `scores.json`: its scores, times, usage, gate and every case record."""
    outcomes = suite.outcomes(results.min_passes)
    timed = [r.latency_s for r in suite.records if r.error_kind != "harness"]
    ttfts = [r.ttft_s for r in suite.records if r.ttft_s is not None]
    means = [o.mean for o in outcomes.values()]
    return {
        "info": asdict(suite.info),
        "threshold": results.threshold_of(suite),
        "tasks": len(outcomes),
        "passed": sum(o.passed for o in outcomes.values()),
        "mean_score": round(sum(means) / len(means), 6) if means else None,
        "latency_s": {"p50": percentile(timed, 50), "p95": percentile(timed, 95),
                      "measures": "replay time" if suite.info.mode == "replay" else "model round trips"} if timed else None,
        "usage": usage_summary(suite.info, suite.records, prices),
        # Of each rollout's first streamed call: request sent to the first chunk of its answer.
        "ttft_s": {"p50": percentile(ttfts, 50), "p95": percentile(ttfts, 95), "streamed_cases": len(ttfts),
                   "measures": "replay time" if suite.info.mode == "replay" else "model time to first token"}
        if ttfts else None,
        "gate": _gate_metadata(diff),
        "cases": [asdict(r) for r in sorted(suite.records, key=lambda r: (r.task_id, r.repeat))],
    }


def _gate_metadata(diff: BaselineDiff) -> dict:
    return {
        "failed": diff.failed,
        "summary": diff.summary(),
        "comparison": diff.verdict.comparison.to_dict() if diff.verdict else None,
        "baseline": diff.note,
        "new_suite": diff.new_suite,
        "regressions": diff.regressions,
        "improvements": diff.improvements,
        "new_tasks": list(diff.new_tasks),
        "missing_tasks": list(diff.missing_tasks),
        "contaminated_tasks": list(diff.contaminated_tasks),
        "setting_changes": list(diff.setting_changes),
    }


def write_report(path: Path, text: str, secrets: Sequence[tuple[str, str]]) -> None:
    """Write atomically, after checking the text holds no credential's value."""
    write_checked([(path, text)], secrets)


def append_step_summary(path: Path, text: str, secrets: Sequence[tuple[str, str]]) -> None:
    """Add the report to GitHub's job summary (`$GITHUB_STEP_SUMMARY`), which is appended to, never replaced."""
    refuse_secrets(path, text, secrets)
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    except OSError as exc:
        raise InputError(os_error_message(path, exc, "job summary", "$GITHUB_STEP_SUMMARY", writing=True)) from None
