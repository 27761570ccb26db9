"""`reports/scores.md`: the run's header, its totals and one row per case."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Sequence

from tabulate import tabulate

from evals.harness.atomic import write_text_atomic
from evals.harness.evaluation import RunInfo
from evals.harness.record import CaseRecord
from evals.harness.secrets import SecretLeakError, find_secrets

SIMULATOR_NOTE = (
    "> **Simulator, not a real model.** These answers come from `evals.sim`, the offline stand-in "
    "model that ships with the harness. Its scores measure prompts against the simulator's "
    "documented behaviour, not any real model's."
)


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_scores(
    info: RunInfo,
    records: Sequence[CaseRecord],
    threshold: float,
    minimal_failures: Sequence[CaseRecord] = (),
) -> str:
    """The markdown report; the same records give the same bytes (no timestamps, stable order)."""
    ordered = sorted(records, key=lambda r: (r.task_id, r.repeat))
    passed = sum(r.passed for r in ordered)
    mean = sum(r.score for r in ordered) / len(ordered) if ordered else 0.0
    tokens_in = sum(r.tokens_in for r in ordered)
    tokens_out = sum(r.tokens_out for r in ordered)
    kinds = Counter(r.error_kind for r in ordered if r.error_kind)
    errors = sum(kinds.values())
    retried = sum(r.retries for r in ordered)
    simulated = " (offline simulator, not a real model)" if info.is_simulator else ""
    provider = info.backend
    if info.is_simulator and "simulator" not in provider:
        provider += ", answers from the offline simulator (not a real model)"
    header = [
        ("suite", info.suite),
        ("provider", provider),
        ("agent model", info.agent_model + simulated),
        ("judge model", (info.judge_model + simulated) if info.judge_model else "not used"),
        ("prompt", f"`{info.prompt_path}` version `{info.prompt_version}`"),
        ("mode", info.mode + ("" if info.mode == "live" else f" (record mode `{info.record_mode}`)")),
        ("cases", str(len(ordered))),
        ("pass rate", f"{passed / len(ordered):.1%} ({passed}/{len(ordered)}, threshold {threshold:g})" if ordered else "n/a"),
        ("mean score", f"{mean:.3f}"),
        ("tokens in / out", f"{tokens_in} / {tokens_out}"),
        ("errors", f"{errors}" + (f" ({', '.join(f'{k}: {v}' for k, v in sorted(kinds.items()))})" if kinds else "")),
    ]
    if retried:
        header.append(("unreadable answers asked again", str(retried)))
    if info.http:
        header.append(("service", info.http))
    rows = [
        [
            r.task_id if r.repeat == 0 else f"{r.task_id} #{r.repeat}",
            r.expected,
            _cell(r.chosen),
            f"{r.score:.2f}",
            "pass" if r.passed else "FAIL",
            _cell(r.reason),
        ]
        for r in ordered
    ]
    parts = [f"# Scores: {info.suite}", ""]
    if info.is_simulator:
        parts += [SIMULATOR_NOTE, ""]
    parts += [tabulate(header, headers=["", ""], tablefmt="github"), ""]
    if minimal_failures:
        parts += ["## Smallest failing generated task", "", "Hypothesis shrank a failing property test to this case:", ""]
        for r in minimal_failures:
            parts += [
                "```json",
                json.dumps({"id": r.task_id, "task_input": r.task_input, "expected_choice": r.expected}, sort_keys=True),
                "```",
                f"- chosen: {_cell(r.chosen)}",
                f"- reasons: {_cell(r.reason)}",
                "",
            ]
    parts += ["## Cases", ""]
    parts += [tabulate(rows, headers=["task", "expected", "chosen", "score", "result", "reasons"], tablefmt="github")]
    return "\n".join(parts) + "\n"


def write_report(path: Path, text: str, secrets: Sequence[tuple[str, str]]) -> None:
    leaked = find_secrets(text, secrets)
    if leaked:
        raise SecretLeakError(f"{path}: refusing to write, it would contain the value of ${leaked[0]}")
    write_text_atomic(path, text)
