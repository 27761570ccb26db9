"""The committed baseline: each case's score and pass state from an accepted run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from evals.harness.atomic import write_text_atomic
from evals.harness.errors import InputError
from evals.harness.record import CaseRecord

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
    # Property tests over generated cases, by test id: did they pass?
    properties: Mapping[str, bool] = field(default_factory=dict)

    def known_failure(self, case_id: str) -> bool:
        case = self.cases.get(case_id)
        return case is not None and not case.passed

    def known_property_failure(self, test_id: str) -> bool:
        return self.properties.get(test_id) is False


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
        if isinstance(entry, dict) and "passed" in entry and not isinstance(entry["passed"], bool):
            raise BaselineError(f"{path}: case {case_id!r}: passed must be true or false, got {entry['passed']!r}; {fix}")
        try:
            cases[case_id] = BaselineCase(score=float(entry["score"]), passed=entry["passed"])
        except (KeyError, TypeError, ValueError):
            raise BaselineError(f"{path}: case {case_id!r} lacks a numeric score and a passed flag; {fix}") from None
    properties = data.get("properties", {})
    if not isinstance(properties, dict) or not all(isinstance(v, bool) for v in properties.values()):
        raise BaselineError(f"{path}: \"properties\" must map test ids to true or false; {fix}")
    meta = {key: value for key, value in data.items() if key not in ("format", "cases", "properties")}
    return Baseline(path=path, cases=cases, meta=meta, properties=properties)


def updated_baseline(
    old: Baseline | None,
    records: Iterable[CaseRecord],
    threshold: float,
    meta: Mapping[str, object],
    properties: Mapping[str, bool] | None = None,
) -> dict:
    """The new baseline document: what ran is replaced, what did not run is kept (like syrupy)."""
    cases = {case_id: {"score": c.score, "passed": c.passed} for case_id, c in (old.cases.items() if old else [])}
    for record in records:
        if record.error_kind == "harness" or record.repeat != 0:
            continue  # a case that could not run (a cassette miss, say) says nothing about the prompt
        cases[record.task_id] = {"score": record.score, "passed": record.passed}
    merged = {**(old.properties if old else {}), **(properties or {})}
    document = {"format": FORMAT, **meta, "threshold": threshold, "cases": dict(sorted(cases.items()))}
    if merged:
        document["properties"] = dict(sorted(merged.items()))
    return document


def write_baseline(path: Path, document: dict) -> None:
    write_text_atomic(path, json.dumps(document, indent=1, sort_keys=True) + "\n")
