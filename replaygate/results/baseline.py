"""The committed baseline: each suite's case scores and pass states from an accepted run, and its run settings."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

from replaygate.cassettes.secrets import write_checked
from replaygate.core.errors import InputError, read_input
from replaygate.results.outcome import TaskOutcome

if TYPE_CHECKING:
    from replaygate.core.changeset import Changeset

FORMAT = 3
# Format 1 lacks the run's settings and per-grader scores; formats 1 and 2 hold one suite's cases, not keyed by suite.
READABLE_FORMATS = (1, 2, 3)
_FIX = "restore it from git, or rewrite it with --update-baseline"


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
class SuiteBaseline:
    """One suite's entry: its cases by task id and the settings of the run that was accepted."""

    cases: Mapping[str, BaselineCase]
    meta: Mapping[str, object]  # prompt version, models, grader weights, repeats, min_passes, threshold
    entry: Mapping[str, object]  # the entry as read: written back unchanged when the suite does not run
    format: int = FORMAT  # the file's format

    def known_failure(self, task_id: str) -> bool:
        case = self.cases.get(task_id)
        return case is not None and not case.passed

    @property
    def older_format(self) -> bool:
        return self.format < FORMAT


@dataclass(frozen=True)
class Baseline:
    path: Path
    suites: Mapping[str, SuiteBaseline]
    # Property tests over generated cases, by test id: did they pass?
    properties: Mapping[str, bool] = field(default_factory=dict)
    format: int = FORMAT
    # An older file that names no suite: its cases stand for every suite that asks.
    unnamed: SuiteBaseline | None = None
    document: Mapping[str, object] = field(default_factory=dict)  # the file as read

    def suite(self, name: str) -> SuiteBaseline | None:
        """The suite's entry; None when the baseline does not hold the suite."""
        return self.suites.get(name, self.unnamed)

    def known_failure(self, suite: str, task_id: str) -> bool:
        entry = self.suite(suite)
        return entry is not None and entry.known_failure(task_id)

    def known_property_failure(self, test_id: str) -> bool:
        return self.properties.get(test_id) is False

    @property
    def older_format(self) -> bool:
        return self.format < FORMAT


def load_baseline(path: Path, source: str = "the baseline setting (or --baseline)") -> Baseline | None:
    """None when there is no baseline yet; a clear error when the file is unusable (a folder, say)."""
    if not path.exists() and not any(parent.is_file() for parent in path.absolute().parents):
        return None  # a file where a folder of the path belongs is an error, read_input's to name
    text = read_input(path, BaselineError, "baseline file", _FIX, "JSON", source=source)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BaselineError(f"{path}: not valid JSON ({exc}); {_FIX}") from None
    found = data.get("format") if isinstance(data, dict) else None
    holder = "suites" if found == FORMAT else "cases"
    if found not in READABLE_FORMATS or not isinstance(data.get(holder), dict):
        what = f"format {found!r}" if isinstance(data, dict) and "format" in data else "no format"
        raise BaselineError(f"{path}: not a baseline of format {FORMAT} ({what}, or no \"{holder}\" object); {_FIX}")
    properties = data.get("properties", {})
    if not isinstance(properties, dict) or not all(isinstance(v, bool) for v in properties.values()):
        raise BaselineError(f"{path}: \"properties\" must map test ids to true or false; {_FIX}")
    if found == FORMAT:
        suites = {}
        for name, entry in data["suites"].items():
            if not isinstance(entry, dict) or not isinstance(entry.get("cases"), dict):
                raise BaselineError(f"{path}: suite {name!r} has no \"cases\" object; {_FIX}")
            meta = {key: value for key, value in entry.items() if key != "cases"}
            suites[name] = SuiteBaseline(_cases(path, entry["cases"], f"suite {name!r}, "), meta, entry, found)
        return Baseline(path, suites, properties, found, document=data)
    # Formats 1 and 2: one suite's cases, and its settings beside them.
    meta = {key: value for key, value in data.items() if key not in ("format", "cases", "properties", "suite")}
    single = SuiteBaseline(_cases(path, data["cases"], ""), meta, {**meta, "cases": data["cases"]}, found)
    name = data.get("suite")
    if isinstance(name, str) and name:
        return Baseline(path, {name: single}, properties, found, document=data)
    return Baseline(path, {}, properties, found, unnamed=single, document=data)


def _cases(path: Path, entries: Mapping[str, object], where: str) -> dict[str, BaselineCase]:
    cases: dict[str, BaselineCase] = {}
    for case_id, entry in entries.items():
        if isinstance(entry, dict) and "passed" in entry and not isinstance(entry["passed"], bool):
            raise BaselineError(f"{path}: {where}case {case_id!r}: passed must be true or false, got {entry['passed']!r}; {_FIX}")
        try:
            cases[case_id] = BaselineCase(
                score=float(entry["score"]),
                passed=entry["passed"],
                scores=tuple(float(v) for v in entry.get("scores", ())),
                graders={str(k): float(v) for k, v in entry.get("graders", {}).items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise BaselineError(f"{path}: {where}case {case_id!r} lacks a numeric score and a passed flag; {_FIX}") from None
    return cases


def updated_suite(
    old: SuiteBaseline | None,
    outcomes: Mapping[str, TaskOutcome],
    threshold: float,
    meta: Mapping[str, object],
) -> dict:
    """One suite's new entry: what ran is replaced, what did not run is kept (like syrupy)."""
    cases: dict[str, object] = dict(copy.deepcopy(old.entry["cases"])) if old else {}
    for case_id, outcome in outcomes.items():
        if len(outcome.comparable_scores) < outcome.repeats:
            continue  # a repeat that could not run (a cassette miss, say) says nothing about the prompt
        entry: dict[str, object] = {"score": round(outcome.mean, 4), "passed": outcome.passed}
        if outcome.repeats > 1:
            entry["scores"] = outcome.scores
        # What the accepted run answered, so a report can show it beside a later run's answer.
        if outcome.repeats > 1:
            entry["answers"] = [r.chosen for r in outcome.records]
        else:
            entry["answer"] = outcome.records[0].chosen
        graders = sorted({name for r in outcome.records for name in r.grader_scores})
        if graders:
            entry["graders"] = {
                name: round(sum(r.grader_scores.get(name, 0.0) for r in outcome.records) / outcome.repeats, 4)
                for name in graders
            }
        cases[case_id] = entry
    return {**meta, "threshold": threshold, "cases": dict(sorted(cases.items()))}


def updated_baseline(
    old: Baseline | None,
    suites: Mapping[str, Mapping[str, object]],
    properties: Mapping[str, bool] | None = None,
) -> dict:
    """The new document: `suites` (entries from `updated_suite`) replace theirs, every other suite's entry is kept as read."""
    merged = {**(old.properties if old else {}), **(properties or {})}
    if old is not None and old.unnamed is not None and not suites:
        # An older file naming no suite cannot say whose its cases are: it stays as it was until a suite rewrites it.
        document = {key: copy.deepcopy(value) for key, value in old.document.items() if key != "properties"}
    else:
        kept = {name: copy.deepcopy(dict(entry.entry)) for name, entry in (old.suites.items() if old else [])}
        document = {"format": FORMAT, "suites": dict(sorted({**kept, **suites}.items()))}
    if merged:
        document["properties"] = dict(sorted(merged.items()))
    return document


def write_baseline(path: Path, document: dict, secrets: Sequence[tuple[str, str]] = (),
                   changes: Changeset | None = None) -> None:
    """Write (or stage in `changes`) atomically, refused if an answer it keeps holds a credential."""
    write_checked([(path, json.dumps(document, indent=1, sort_keys=True) + "\n")], secrets, changes)
