"""The pytest session's side of an evaluation: settings, batches, outcomes and the records reports are built from.

Plain classes the plugin's hooks and fixtures delegate to; `evals/plugin.py` is the table of contents.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from replaygate.llm.backend import resolve_backend
from replaygate.results.baseline import load_baseline
from replaygate.cassettes.cassette import CaseKey, CassetteMiss
from replaygate.core.config import EvalConfig, load_config
from replaygate.core.errors import InputError
from replaygate.core.evaluation import Evaluation, RunInfo
from replaygate.core.suite import CASES_ATTRIBUTE, Suite, SuiteSetup
from replaygate.results.gate import BaselineDiff, GateSettings
from replaygate.results.record import CaseRecord
from replaygate.results.results import RunResults, SuiteResults
from replaygate.results.shards import parse_shard
from replaygate.core.runner import CaseResult
from replaygate.core.task import Task


class CaseBelowThreshold(pytest.fail.Exception):
    """The case ran and was scored below the pass threshold.

    Reported as its message alone (the graders' reasons), with no traceback: the
    plugin's frames say nothing to the reader, and formatting them for every
    known failure would cost more than the replay itself.
    """

    def __init__(self, message: str):
        super().__init__(msg=message, pytrace=False)


class CaseOutcome:
    """What a suite test sees: the scored results of its case, one per repeat."""

    def __init__(self, results: list[CaseResult], threshold: float, nodeid: str, describe, options: list[str],
                 min_passes: int | None = None):
        self.results, self.threshold, self.nodeid, self.describe = results, threshold, nodeid, describe
        self.options, self.min_passes = options, min_passes

    @property
    def result(self) -> CaseResult:
        """The first repeat's result (the only one without --repeat)."""
        return self.results[0]

    def check(self) -> None:
        for result in self.results:
            if isinstance(result.failure, CassetteMiss):
                miss = result.failure
                command = " ".join(["pytest", f"'{self.nodeid}'", *self.options, f"--eval-record-mode={miss.record_mode_hint}"])
                pytest.fail(f"{miss}; record it with: {command}", pytrace=False)
            if isinstance(result.failure, InputError):
                pytest.fail(str(result.failure), pytrace=False)
            if result.failure is not None:
                raise result.failure
        failing = [r for r in self.results if not r.passed(self.threshold)]
        needed = len(self.results) if self.min_passes is None else min(self.min_passes, len(self.results))
        if len(self.results) - len(failing) >= needed:
            return
        lines = []
        if len(self.results) > 1:
            lines.append(f"{len(self.results) - len(failing)} of {len(self.results)} repeats passed, {needed} needed")
        for result in failing:
            which = f"repeat {result.repeat}: " if len(self.results) > 1 else ""
            lines.append(f"{which}score {result.value:.2f} < threshold {self.threshold:g}; "
                         f"chose {self.describe(result.rollout)!r}, expected {result.task.expected!r}")
            lines += [f"  {name}: {score.value:.2f} {score.reason}" for name, score in result.scores.items()]
        raise CaseBelowThreshold("\n".join(lines))


class EvalSession:
    """Per pytest session: settings, one Evaluation per suite, and the results so far."""

    def __init__(self, config: pytest.Config):
        self.pytest_config = config
        self.root = Path(config.rootpath)
        overrides: dict[str, object] = {}
        for item in config.getoption("eval_set") or []:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise pytest.UsageError(f"--set {item}: expected KEY=VALUE, e.g. --set models.agent=gpt-4.1-mini")
            overrides[key.strip()] = value
        for flag, option in (("--concurrency", "eval_concurrency"), ("--max-turns", "eval_max_turns")):
            value = config.getoption(option)
            if value is not None and value < 1:
                raise pytest.UsageError(f"{flag} {value}: must be 1 or more; pass a positive whole number")
        for option, key in (("eval_tasks", "tasks"), ("eval_prompt", "prompt"), ("eval_concurrency", "concurrency"), ("eval_max_turns", "max_turns")):
            value = config.getoption(option)
            if value is not None:
                overrides[key] = value
        self.record_mode = config.getoption("eval_record_mode")
        self.update_baseline: bool = bool(config.getoption("update_baseline"))
        self.repeats: int = config.getoption("eval_repeat")
        self.min_passes: int | None = config.getoption("eval_min_passes")
        if self.repeats < 1:
            raise pytest.UsageError(f"--repeat {self.repeats}: must be 1 or more; pass how many times to run each case")
        if self.min_passes is not None and not 1 <= self.min_passes <= self.repeats:
            raise pytest.UsageError(f"--min-passes {self.min_passes}: must be between 1 and --repeat ({self.repeats})")
        self.gate = GateSettings(config.getoption("eval_max_regression"), config.getoption("eval_alpha"))
        if self.gate.max_regression < 0 or not 0 < self.gate.alpha < 1:
            raise pytest.UsageError(f"--max-regression {self.gate.max_regression:g} --alpha {self.gate.alpha:g}: "
                                    "the regression must be 0 or more and alpha between 0 and 1, e.g. 0.02 and 0.05")
        try:
            self.shard = parse_shard(config.getoption("eval_shard")) if config.getoption("eval_shard") else None
        except InputError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.results_json: str | None = config.getoption("eval_results_json")
        self.started = time.time()
        self.environ = dict(os.environ)
        try:
            self.pyproject = self.root / "pyproject.toml"
            self.overrides = overrides
            # The project's shared settings (cassettes, reports, baseline); each suite layers its own on top.
            self.config = load_config(self.pyproject, overrides)
            self.backend = resolve_backend(
                config.getoption("llm"),
                self.record_mode != "none",
                self.environ,
                {"agent": self.config.azure.agent_deployment, "judge": self.config.azure.judge_deployment},
            )
            self.baseline_path = self.config.resolve(self.root, self.config.baseline)
            self.baseline = load_baseline(self.baseline_path)
            # The gate may compare with another baseline (the base branch's, in a PR); known failures stay the committed ones.
            given = config.getoption("eval_baseline")
            self.gate_baseline_path = Path(given) if given else self.baseline_path
            self.gate_baseline = load_baseline(self.gate_baseline_path) if given else self.baseline
        except InputError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.threshold = float(config.getini("eval_pass_threshold"))
        self.evaluations: dict[str, Evaluation] = {}
        self.results: dict[str, dict[str, list[CaseResult]]] = {}  # this process's results, per suite and task
        # A failing example noted by the running property test, attached to its report.
        self.pending_minimal: tuple[str, CaseResult] | None = None
        # What the report is built from, gathered from test reports (so xdist workers' too).
        self.records: dict[str, dict[tuple[str, int], CaseRecord]] = {}
        self.infos: dict[str, RunInfo] = {}
        self.minimal: dict[str, CaseRecord] = {}
        self.property_outcomes: dict[str, bool] = {}
        self._info_json: dict[str, str] = {}
        self.diffs: dict[str, BaselineDiff] = {}  # set at session end: the run against the gate's baseline
        self.previous_diffs: dict[str, BaselineDiff] = {}  # with --update-baseline: against the baseline it replaced

    def switch_to_recording(self, backend, record_mode: str) -> None:
        """Run the next cases against `backend` in `record_mode`, reloading the prompt (it may have been rewritten)."""
        self.backend, self.record_mode = backend, record_mode
        self.evaluations.clear()
        self.results.clear()
        self._info_json.clear()
        self.infos.clear()  # the next records bring the info of the run that made them

    def run_results(self) -> RunResults:
        """Everything the report, the gate and a shard's results file are built from."""
        suites = {
            name: SuiteResults(self.infos[name], list(records.values()), [self.minimal[name]] if name in self.minimal else [])
            for name, records in self.records.items() if records and name in self.infos
        }
        return RunResults(self.threshold, self.repeats, self.min_passes, suites, dict(self.property_outcomes), self.shard)

    def rerun_options(self) -> list[str]:
        """This session's options that change what is sent (prompt, tasks, settings), for a re-record command."""
        args = list(self.pytest_config.invocation_params.args)
        kept: list[str] = []
        takes_value = ("--prompt", "--tasks", "--set", "--max-turns", "--llm", "--repeat")
        for index, arg in enumerate(args):
            if arg.startswith(tuple(f"{opt}=" for opt in takes_value)):
                kept.append(arg)
            elif arg in takes_value and index + 1 < len(args):
                kept.append(f"{arg}={args[index + 1]}")
        return kept

    def info_json(self, suite) -> str:
        """The run's header facts, once per suite: every case of a batch shares them."""
        if suite.name not in self._info_json:
            self._info_json[suite.name] = self.evaluation(suite).info().to_json()
        return self._info_json[suite.name]

    def suite_config(self, suite: Suite) -> EvalConfig:
        """A suite's settings: shared table, its own table, its code, then --set."""
        return load_config(self.pyproject, self.overrides, suite=suite.name, code=suite.code_settings())

    def threshold_for(self, suite: Suite) -> float:
        own = self.evaluation(suite).config.threshold
        return self.threshold if own is None else own

    def evaluation(self, suite: Suite) -> Evaluation:
        if suite.name not in self.evaluations:
            given = [flag for flag, option in (("--tasks", "eval_tasks"), ("--prompt", "eval_prompt"))
                     if self.pytest_config.getoption(option) is not None]
            if given and self.evaluations:
                first = next(iter(self.evaluations))
                raise InputError(f"{given[0]} names one suite's file, but this session runs suites {first!r} and "
                                 f"{suite.name!r}; select one suite (a path or -k), or use --set suites.<name>.{given[0][2:]}=…")
            self.evaluations[suite.name] = Evaluation(
                suite, self.suite_config(suite), self.root, self.backend, self.record_mode, self.environ,
                config_source=str(self.pyproject),
            )
        return self.evaluations[suite.name]

    def result_for(self, item: pytest.Item, suite, task: Task) -> list[CaseResult]:
        """The task's results, one per repeat."""
        done = self.results.setdefault(suite.name, {})
        if task.id not in done:
            # First case of this suite: run every selected case of the suite in one concurrent batch.
            # An xdist worker cannot know which cases it will be handed, so it runs each on demand.
            wanted = [] if hasattr(self.pytest_config, "workerinput") else [
                it.callspec.params["eval_case"]
                for it in item.session.items
                if isinstance(it, pytest.Function)
                and "eval_case" in getattr(getattr(it, "callspec", None), "params", {})
                and getattr(suite_of(it), "name", None) == suite.name
                and it.callspec.params["eval_case"].id not in done
            ]
            if task not in wanted:
                wanted.append(task)
            try:
                results = self.evaluation(suite).run(wanted, repeats=self.repeats)
            except Exception as exc:  # the batch broke: every case it held fails with that reason, once
                results = [CaseResult(task=t, repeat=r, failure=exc) for t in wanted for r in range(self.repeats)]
            for result in results:
                done.setdefault(result.task.id, []).append(result)
            for runs in done.values():
                runs.sort(key=lambda r: r.repeat)
        return done[task.id]


class RecordCollector:
    """Gathers case records from test reports; under xdist the controller sees every worker's reports."""

    def __init__(self, state: EvalSession):
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        props = dict(report.user_properties)
        state, suite = self.state, props.get("eval_suite")
        if suite and "eval_info" in props and suite not in state.infos:
            state.infos[suite] = RunInfo.from_json(props["eval_info"])
        if suite and "eval_records" in props:
            for item in json.loads(props["eval_records"]):
                record = CaseRecord(**item)
                state.records.setdefault(suite, {})[(record.task_id, record.repeat)] = record
        if suite and "eval_minimal" in props:
            state.minimal[suite] = CaseRecord.from_json(props["eval_minimal"])
        if "eval_property" in props:
            # An xfailed run is a failure, an xpassed one a pass.
            failed = report.failed or (report.skipped and hasattr(report, "wasxfail"))
            state.property_outcomes[props["eval_property"]] = not failed


class AdHocRunner:
    """The `eval_runner` fixture: runs tasks a test builds itself (Hypothesis-generated, say) as a suite's cases."""

    def __init__(self, state: EvalSession):
        self.state = state

    def _evaluation(self, suite: Suite) -> Evaluation:
        try:
            return self.state.evaluation(suite)
        except InputError as exc:
            pytest.fail(str(exc), pytrace=False)

    def mode(self, suite: Suite) -> str:
        """replay, record or live: a live run has no cassettes to match, so it may explore freely."""
        return self._evaluation(suite).mode

    def setup(self, suite: Suite) -> SuiteSetup:
        """The suite's resolved settings, root and tasks, as its `setup` hook saw them."""
        evaluation = self._evaluation(suite)
        return SuiteSetup(evaluation.config, self.state.root, evaluation.loaded.tasks, suite.settings)

    def threshold(self, suite: Suite) -> float:
        return self.state.threshold_for(suite)

    def cassette_folder(self, suite: Suite, group: str) -> Path:
        """Where the cassettes of `group` (this test's own cases) are kept for the suite's agent model."""
        evaluation = self._evaluation(suite)
        relpath = CaseKey(group, evaluation.config.model_for("agent"), "-").relpath
        return evaluation.config.resolve(self.state.root, evaluation.config.cassettes) / Path(relpath).parent

    def run(self, suite: Suite, tasks: list[Task], group: str) -> list[CaseResult]:
        """Run `tasks` under the suite's prompt, solver and graders, with cassettes in their own `group` folder."""
        evaluation = self._evaluation(suite)
        try:
            return evaluation.run(tasks, loaded=evaluation.loaded.with_tasks(tasks), group=group)
        except InputError as exc:
            pytest.fail(str(exc), pytrace=False)

    def check(self, result: CaseResult, nodeid: str, suite: Suite | None = None) -> None:
        """Fail like a suite case does: cassette misses name the command that records them."""
        threshold = self.state.threshold_for(suite) if suite is not None else self.state.threshold
        describe = self.state.evaluation(suite).describe if suite is not None else (lambda r: getattr(r, "answer", None) or "—")
        CaseOutcome([result], threshold, nodeid, describe, self.state.rerun_options(), min_passes=1).check()

    def note_failure(self, suite: Suite, result: CaseResult) -> None:
        """Remember a failing example; Hypothesis replays the shrunk one last, so the last noted is the smallest."""
        self.state.evaluation(suite)
        self.state.pending_minimal = (suite.name, result)


def suite_of(item: pytest.Item) -> Suite | None:
    """The suite a test runs the cases of: marked with `Suite.cases`, or named SUITE in its module."""
    function = getattr(item, "function", None)
    return getattr(function, CASES_ATTRIBUTE, None) or getattr(getattr(item, "module", None), "SUITE", None)
