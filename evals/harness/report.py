"""`reports/scores.md`: the run's header, its totals and one row per case."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Callable, Sequence

from tabulate import tabulate

from evals.harness.atomic import write_text_atomic
from evals.harness.evaluation import RunInfo
from evals.harness.rollout import Rollout
from evals.harness.runner import CaseResult
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
    results: Sequence[CaseResult],
    threshold: float,
    describe: Callable[[Rollout | None], str],
    minimal_failures: Sequence[CaseResult] = (),
) -> str:
    ordered = sorted(results, key=lambda r: (r.task.id, r.repeat))
    passed = sum(r.passed(threshold) for r in ordered)
    mean = sum(r.value for r in ordered) / len(ordered) if ordered else 0.0
    tokens_in = sum(r.rollout.usage.input_tokens + r.rollout.grading_usage.input_tokens for r in ordered if r.rollout)
    tokens_out = sum(r.rollout.usage.output_tokens + r.rollout.grading_usage.output_tokens for r in ordered if r.rollout)
    kinds = Counter(
        "harness" if r.failure else r.rollout.error_kind or "error"
        for r in ordered
        if r.failure or (r.rollout and r.rollout.error)
    )
    errors = sum(kinds.values())
    retried = sum(r.rollout.retries for r in ordered if r.rollout)
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
    rows = []
    for r in ordered:
        reason = str(r.failure) if r.failure else (r.score.reason if r.score else "")
        rows.append(
            [
                r.task.id if r.repeat == 0 else f"{r.task.id} #{r.repeat}",
                r.task.expected,
                _cell(describe(r.rollout) if r.rollout else "—"),
                f"{r.value:.2f}",
                "pass" if r.passed(threshold) else "FAIL",
                _cell(reason),
            ]
        )
    parts = [f"# Scores: {info.suite}", ""]
    if info.is_simulator:
        parts += [SIMULATOR_NOTE, ""]
    parts += [tabulate(header, headers=["", ""], tablefmt="github"), ""]
    if minimal_failures:
        parts += ["## Smallest failing generated task", "", "Hypothesis shrank a failing property test to this case:", ""]
        for r in minimal_failures:
            reason = str(r.failure) if r.failure else (r.score.reason if r.score else "")
            parts += [
                "```json",
                json.dumps({"id": r.task.id, "task_input": r.task.input, "expected_choice": r.task.expected}, sort_keys=True),
                "```",
                f"- chosen: {_cell(describe(r.rollout) if r.rollout else '—')}",
                f"- reasons: {_cell(reason)}",
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
