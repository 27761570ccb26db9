"""The committed baseline: each case's score and pass state from an accepted run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from replaygate.core.atomic import write_text_atomic
from replaygate.core.errors import InputError
from replaygate.results.outcome import TaskOutcome

FORMAT = 2
READABLE_FORMATS = (1, 2)  # format 1 lacks the run's settings and per-grader scores, and is still read


class BaselineError(InputError):
    pass


@dataclass(frozen=True)
class BaselineCase:
    score: float  # mean over repeats
    passed: bool
    scores: tuple[float, ...] = ()  # per repeat, when the baseline run had more than one
    graders: Mapping[str, float] = field(default_factory=dict)  # per-grader mean

    @property
    def repeat_scores(self) -> list[float]:
        return list(self.scores) or [self.score]


@dataclass(frozen=True)
class Baseline:
    path: Path
    cases: Mapping[str, BaselineCase]
    meta: Mapping[str, object]
    # Property tests over generated cases, by test id: did they pass?
    properties: Mapping[str, bool] = field(default_factory=dict)
    format: int = FORMAT

    def known_failure(self, case_id: str) -> bool:
        case = self.cases.get(case_id)
        return case is not None and not case.passed

    def known_property_failure(self, test_id: str) -> bool:
        return self.properties.get(test_id) is False

    @property
    def older_format(self) -> bool:
        return self.format < FORMAT


def load_baseline(path: Path) -> Baseline | None:
    """None when there is no baseline yet; a clear error when the file is unusable."""
    if not path.is_file():
        return None
    fix = "restore it from git, or rewrite it with --update-baseline"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BaselineError(f"{path}: not valid JSON ({exc}); {fix}") from None
    found = data.get("format") if isinstance(data, dict) else None
    if found not in READABLE_FORMATS or not isinstance(data.get("cases"), dict):
        what = f"format {found!r}" if isinstance(data, dict) and "format" in data else "no format"
        raise BaselineError(f"{path}: not a baseline of format {FORMAT} ({what}, or no \"cases\" object); {fix}")
    cases: dict[str, BaselineCase] = {}
    for case_id, entry in data["cases"].items():
        if isinstance(entry, dict) and "passed" in entry and not isinstance(entry["passed"], bool):
            raise BaselineError(f"{path}: case {case_id!r}: passed must be true or false, got {entry['passed']!r}; {fix}")
        try:
            cases[case_id] = BaselineCase(
                score=float(entry["score"]),
                passed=entry["passed"],
                scores=tuple(float(v) for v in entry.get("scores", ())),
                graders={str(k): float(v) for k, v in entry.get("graders", {}).items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise BaselineError(f"{path}: case {case_id!r} lacks a numeric score and a passed flag; {fix}") from None
    properties = data.get("properties", {})
    if not isinstance(properties, dict) or not all(isinstance(v, bool) for v in properties.values()):
        raise BaselineError(f"{path}: \"properties\" must map test ids to true or false; {fix}")
    meta = {key: value for key, value in data.items() if key not in ("format", "cases", "properties")}
    return Baseline(path=path, cases=cases, meta=meta, properties=properties, format=found)


def updated_baseline(
    old: Baseline | None,
    outcomes: Mapping[str, TaskOutcome],
    threshold: float,
    meta: Mapping[str, object],
    properties: Mapping[str, bool] | None = None,
) -> dict:
    """The new baseline document: what ran is replaced, what did not run is kept (like syrupy)."""
    cases: dict[str, dict] = {}
    for case_id, c in (old.cases.items() if old else []):
        cases[case_id] = {"score": c.score, "passed": c.passed}
        if c.scores:
            cases[case_id]["scores"] = list(c.scores)
        if c.graders:
            cases[case_id]["graders"] = dict(c.graders)
    for case_id, outcome in outcomes.items():
        if len(outcome.comparable_scores) < outcome.repeats:
            continue  # a repeat that could not run (a cassette miss, say) says nothing about the prompt
        entry: dict[str, object] = {"score": round(outcome.mean, 4), "passed": outcome.passed}
        if outcome.repeats > 1:
            entry["scores"] = outcome.scores
        graders = sorted({name for r in outcome.records for name in r.grader_scores})
        if graders:
            entry["graders"] = {
                name: round(sum(r.grader_scores.get(name, 0.0) for r in outcome.records) / outcome.repeats, 4)
                for name in graders
            }
        cases[case_id] = entry
    merged = {**(old.properties if old else {}), **(properties or {})}
    document = {"format": FORMAT, **meta, "threshold": threshold, "cases": dict(sorted(cases.items()))}
    if merged:
        document["properties"] = dict(sorted(merged.items()))
    return document


def write_baseline(path: Path, document: dict) -> None:
    write_text_atomic(path, json.dumps(document, indent=1, sort_keys=True) + "\n")
