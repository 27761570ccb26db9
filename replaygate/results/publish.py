"""Publishing a run: the baseline comparison, scores.md and scores.json, and GitHub's job summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

from replaygate.results.baseline import Baseline
from replaygate.results.gate import BaselineDiff, GateSettings, compare_to_baseline
from replaygate.llm.pricing import load_prices
from replaygate.results.report import append_step_summary, render_scores, run_metadata, write_report
from replaygate.results.results import RunResults


def compare_run(results: RunResults, baseline: Baseline | None, gate: GateSettings, missing_note: str = "") -> dict[str, BaselineDiff]:
    """Each suite against its own entry in the baseline: other suites' tasks are not its business."""
    return {
        name: compare_to_baseline(suite.outcomes(results.min_passes), baseline, name, results.run_settings(suite), gate,
                                  missing_note)
        for name, suite in sorted(results.suites.items())
    }


def publish(
    results: RunResults,
    diffs: Mapping[str, BaselineDiff],
    reports: Path,
    secrets: Sequence[tuple[str, str]],
    step_summary: str | None = None,
    metadata: Mapping[str, object] = (),
) -> str:
    """Write scores.md and scores.json under `reports` (and append to GitHub's job summary); returns the markdown."""
    prices = load_prices()
    text = render_scores(results, diffs, prices.models, prices.as_of)
    write_report(reports / "scores.md", text, secrets)
    document = run_metadata(results, diffs, {**dict(metadata), "prices_as_of": prices.as_of})
    write_report(reports / "scores.json", json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n", secrets)
    if step_summary:
        append_step_summary(Path(step_summary), text, secrets)
    return text
