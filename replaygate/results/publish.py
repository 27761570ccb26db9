"""Publishing a run: the baseline comparison, scores.md and scores.json, and GitHub's job summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

from replaygate.cassettes.secrets import SecretLeakError, find_secrets
from replaygate.core.atomic import write_text_atomic
from replaygate.core.changeset import Changeset, pause_point
from replaygate.results.baseline import Baseline
from replaygate.results.gate import BaselineDiff, GateSettings, compare_to_baseline
from replaygate.llm.pricing import load_prices
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
) -> str:
    """Write scores.md and scores.json under `reports` (and append to GitHub's job summary); returns the markdown.

    With `changes` both reports are staged there, to switch in with the session's other files.
    """
    prices = load_prices()
    text = render_scores(results, diffs, prices.models, prices.as_of)
    document = run_metadata(results, diffs, {**dict(metadata), "prices_as_of": prices.as_of})
    payload = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    outputs = ((reports / "scores.md", text), (reports / "scores.json", payload))
    for path, body in outputs:  # both checked before either is written
        leaked = find_secrets(body, secrets)
        if leaked:
            raise SecretLeakError(f"{path}: refusing to write, it would contain the value of ${leaked[0]}")
    for path, body in outputs:
        if changes is None:
            write_text_atomic(path, body)
        else:
            changes.write(path, body)
            pause_point("report")
    if step_summary:
        append_step_summary(Path(step_summary), text, secrets)
    return text
