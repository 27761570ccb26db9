"""Publishing a run: the baseline comparison, scores.md, scores.json and index.html, and GitHub's job summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

from replaygate.cassettes.secrets import write_checked
from replaygate.core.changeset import Changeset, checkpoint
from replaygate.results.baseline import Baseline
from replaygate.results.gate import BaselineDiff, GateSettings, compare_to_baseline
from replaygate.llm.pricing import load_prices
from replaygate.results.page import PAGE_NAME, build_page
from replaygate.results.page_data import PageSources
from replaygate.results.report import append_step_summary, render_scores, run_metadata
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
    changes: Changeset | None = None,
    page: PageSources | None = None,
) -> str:
    """Write scores.md and scores.json under `reports` (and append to GitHub's job summary); returns the markdown.

    With `page`, index.html too (what it reads beyond the records: cassettes, prompt history, optimization runs).
    With `changes` the reports are staged there, to switch in with the session's other files.
    """
    prices = load_prices()
    text = render_scores(results, diffs, prices.models, prices.as_of)
    document = run_metadata(results, diffs, {**dict(metadata), "prices_as_of": prices.as_of}, prices.models)
    payload = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    outputs = [(reports / "scores.md", text), (reports / "scores.json", payload)]
    if page is not None:
        outputs.append((reports / PAGE_NAME, build_page(results, diffs, page, secrets, str(reports / PAGE_NAME))))
    write_checked(outputs, secrets, changes)
    if changes is not None:
        checkpoint("report")
    if step_summary:
        append_step_summary(Path(step_summary), text, secrets)
    return text
