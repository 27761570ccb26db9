"""A run's results as one serializable document: what a report is rendered from, and what CI shards hand to the merge."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Sequence

from replaygate.core.errors import InputError, read_input
from replaygate.run.evaluation import RunInfo
from replaygate.results.outcome import TaskOutcome, task_outcomes
from replaygate.results.record import CaseRecord

FORMAT = 1
KIND = "evals-run-results"


class ResultsError(InputError):
    pass


@dataclass
class SuiteResults:
    info: RunInfo
    records: list[CaseRecord] = field(default_factory=list)
    minimal: list[CaseRecord] = field(default_factory=list)  # the smallest failing generated task, if any

    def outcomes(self, min_passes: int | None) -> dict[str, TaskOutcome]:
        return task_outcomes(self.records, min_passes)


@dataclass
class RunResults:
    threshold: float
    repeats: int = 1
    min_passes: int | None = None  # None: every repeat must pass
    suites: dict[str, SuiteResults] = field(default_factory=dict)
    properties: dict[str, bool] = field(default_factory=dict)  # property test id -> passed
    shard: tuple[int, int] | None = None  # (index, count), 1-based

    def threshold_of(self, suite: SuiteResults) -> float:
        """The suite's pass threshold: its own, or the session's."""
        return self.threshold if suite.info.threshold is None else suite.info.threshold

    def run_settings(self, suite: SuiteResults) -> dict[str, object]:
        """What the baseline records about the suite's run, and what the gate compares with the baseline's."""
        info = suite.info
        return {"agent_model": info.agent_model, "judge_model": info.judge_model,
                "prompt_version": info.prompt_version, "grader_weights": dict(info.grader_weights),
                "repeats": self.repeats, "threshold": self.threshold_of(suite)}

    def to_json(self) -> str:
        document = {
            "kind": KIND, "format": FORMAT, "threshold": self.threshold, "repeats": self.repeats,
            "min_passes": self.min_passes, "shard": list(self.shard) if self.shard else None,
            "properties": dict(sorted(self.properties.items())),
            "suites": {
                name: {"info": asdict(s.info),
                       "records": [asdict(r) for r in sorted(s.records, key=lambda r: (r.task_id, r.repeat))],
                       "minimal": [asdict(r) for r in s.minimal]}
                for name, s in sorted(self.suites.items())
            },
        }
        return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str) -> "RunResults":
        fix = "write it with pytest --results-json PATH"
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ResultsError(f"{source}: not valid JSON ({exc}); {fix}") from None
        if not isinstance(data, dict) or data.get("kind") != KIND or data.get("format") != FORMAT:
            raise ResultsError(f"{source}: not a results file of format {FORMAT}; {fix}")
        try:
            suites = {
                name: SuiteResults(RunInfo(**s["info"]), [CaseRecord(**r) for r in s["records"]],
                                   [CaseRecord(**r) for r in s["minimal"]])
                for name, s in data["suites"].items()
            }
            shard = tuple(data["shard"]) if data.get("shard") else None
            return cls(float(data["threshold"]), int(data["repeats"]), data["min_passes"], suites,
                       dict(data["properties"]), shard)
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultsError(f"{source}: malformed results ({exc!r}); {fix}") from None


def read_results(path: Path) -> RunResults:
    fix = "pass the files the shards wrote with --results-json"
    text = read_input(path, ResultsError, "results file", fix, "JSON", source="the merge's RESULTS argument")
    return RunResults.from_json(text, str(path))


def merge_results(parts: Sequence[tuple[str, RunResults]]) -> RunResults:
    """One run from its shards; refuses shards that disagree on settings, overlap, or leave a shard out."""
    if not parts:
        raise ResultsError("no results files given; pass every shard's --results-json file")
    first_name, first = parts[0]
    merged = replace(first, suites={}, properties={}, shard=None)
    seen: dict[tuple[str, str, int], str] = {}
    shards: set[int] = set()
    for name, part in parts:
        _check_part(name, part, first_name, first, shards)
        for suite_name, suite in part.suites.items():
            _merge_suite(merged, suite_name, suite, name, first_name, seen)
        merged.properties.update(part.properties)
    if first.shard is not None:
        absent = sorted(set(range(1, first.shard[1] + 1)) - shards)
        if absent:
            raise ResultsError(f"shard {absent[0]}/{first.shard[1]} is missing; pass every shard's results file")
    return merged


def _check_part(name: str, part: RunResults, first_name: str, first: RunResults, shards: set[int]) -> None:
    """Refuse a part run with other options than the first, or a shard of another count or given twice;
    adds its shard number to `shards`."""
    for attribute in ("threshold", "repeats", "min_passes"):
        if getattr(part, attribute) != getattr(first, attribute):
            raise ResultsError(f"{name}: {attribute} {getattr(part, attribute)!r} differs from {getattr(first, attribute)!r} "
                               f"in {first_name}; run every shard with the same options")
    if part.shard:
        if first.shard is None or part.shard[1] != first.shard[1]:
            raise ResultsError(f"{name}: shard {part.shard[0]}/{part.shard[1]} does not match {first_name}; "
                               "run every shard with the same --shard count")
        if part.shard[0] in shards:
            raise ResultsError(f"{name}: shard {part.shard[0]}/{part.shard[1]} given twice; pass each shard's file once")
        shards.add(part.shard[0])


def _merge_suite(merged: RunResults, suite_name: str, suite: SuiteResults, name: str, first_name: str,
                 seen: dict[tuple[str, str, int], str]) -> None:
    """Add one part's records of a suite to `merged`; refuses other settings or a case that already ran."""
    target = merged.suites.get(suite_name)
    if target is None:
        target = merged.suites[suite_name] = SuiteResults(suite.info)
    elif _comparable(target.info) != _comparable(suite.info):
        raise ResultsError(f"{name}: suite {suite_name} ran with other settings (prompt, models, threshold or mode) "
                           f"than in {first_name}; run every shard from the same commit and options")
    for record in suite.records:
        key = (suite_name, record.task_id, record.repeat)
        if key in seen:
            raise ResultsError(f"{name}: task {record.task_id} (repeat {record.repeat}) also ran in {seen[key]}; "
                               "shards must not overlap, use --shard i/n with one n")
        seen[key] = name
        target.records.append(record)
    target.minimal = target.minimal or list(suite.minimal)


def _comparable(info: RunInfo) -> RunInfo:
    # The service summary differs from shard to shard in a live run; everything else must agree.
    return replace(info, http="")
