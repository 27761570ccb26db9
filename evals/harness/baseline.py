"""The committed baseline: each case's score and pass state from an accepted run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from evals.harness.atomic import write_text_atomic
from evals.harness.errors import InputError
from evals.harness.runner import CaseResult

FORMAT = 1


class BaselineError(InputError):
    pass


@dataclass(frozen=True)
class BaselineCase:
    score: float
    passed: bool


@dataclass(frozen=True)
class Baseline:
    path: Path
    cases: Mapping[str, BaselineCase]
    meta: Mapping[str, object]

    def known_failure(self, case_id: str) -> bool:
        case = self.cases.get(case_id)
        return case is not None and not case.passed


def load_baseline(path: Path) -> Baseline | None:
    """None when there is no baseline yet; a clear error when the file is unusable."""
    if not path.is_file():
        return None
    fix = "restore it from git, or rewrite it with --update-baseline"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BaselineError(f"{path}: not valid JSON ({exc}); {fix}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("cases"), dict):
        raise BaselineError(f"{path}: not a baseline of format {FORMAT}; {fix}")
    cases: dict[str, BaselineCase] = {}
    for case_id, entry in data["cases"].items():
        try:
            if not isinstance(entry["passed"], bool):
                raise TypeError("passed must be true or false")
            cases[case_id] = BaselineCase(score=float(entry["score"]), passed=entry["passed"])
        except (KeyError, TypeError, ValueError):
            raise BaselineError(f"{path}: case {case_id!r} lacks a numeric score and a passed flag; {fix}") from None
    meta = {key: value for key, value in data.items() if key not in ("format", "cases")}
    return Baseline(path=path, cases=cases, meta=meta)


def updated_baseline(
    old: Baseline | None, results: Iterable[CaseResult], threshold: float, meta: Mapping[str, object]
) -> dict:
    """The new baseline document: cases that ran are replaced, cases that did not are kept (like syrupy)."""
    cases = {case_id: {"score": c.score, "passed": c.passed} for case_id, c in (old.cases.items() if old else [])}
    for result in results:
        if result.failure is not None or result.repeat != 0:
            continue
        cases[result.task.id] = {"score": round(result.value, 4), "passed": result.passed(threshold)}
    return {"format": FORMAT, **meta, "threshold": threshold, "cases": dict(sorted(cases.items()))}


def write_baseline(path: Path, document: dict) -> None:
    write_text_atomic(path, json.dumps(document, indent=1, sort_keys=True) + "\n")
