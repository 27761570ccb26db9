"""The pytest session's side of an evaluation: settings, batches, outcomes and the records reports are built from.

Plain classes the plugin's hooks and fixtures delegate to; `evals/plugin.py` is the table of contents.
"""

from __future__ import annotations

import gc
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from replaygate.results.baseline import load_baseline
from replaygate.cassettes.cassette import CaseKey, CassetteMiss, FolderUse
from replaygate.core.changeset import Changeset, recover
from replaygate.core.config import EvalConfig, load_config, read_table
from replaygate.results.session_settings import read_session_settings, session_backend
from replaygate.core.errors import CaseError, InputError, check_file_destination, check_folder, raised_at, shown_path
from replaygate.cassettes.secrets import secrets_from_env
from replaygate.run.evaluation import Evaluation, RunInfo
from replaygate.core.prompt import PromptTemplate
from replaygate.core.suite import CASES_ATTRIBUTE, Suite, SuiteSetup
from replaygate.results.gate import BaselineDiff, task_leaks
from replaygate.results.record import CaseRecord
from replaygate.results.results import RunResults, SuiteResults
from replaygate.run.runner import CaseResult
from replaygate.core.task import Task, tasks_from_list


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
            if isinstance(result.failure, (InputError, CaseError)):
                pytest.fail(str(result.failure), pytrace=False)
            if result.failure is not None:
                # The user's solver or grader raised: its own file:line and the exception, not the harness's frames.
                pytest.fail(f"case {result.task.id}: {raised_at(result.failure)}", pytrace=False)
            if result.rollout is not None and result.rollout.infra_failed:
                # A plain failure, not CaseBelowThreshold: no baseline xfail may swallow it.
                pytest.fail(result.rollout.error or "infrastructure error", pytrace=False)
        failing = [r for r in self.results if not r.passes(self.threshold)]
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
        worker = hasattr(config, "workerinput")
        # Before anything is read: finish the switch an interrupted session committed, or drop what it only staged.
        self.recovered: list[str] = [] if worker else recover(Path(config.rootpath))
        try:
            self.settings = read_session_settings(*settings_inputs(config), os.environ)
            self.backend = session_backend(self.settings, self.settings.record_mode != "none")
            self.baseline = load_baseline(self.settings.baseline_path)
            # The gate may compare with another baseline (the base branch's, in a PR); known failures stay the committed ones.
            given = self.settings.gate_baseline_path if self.settings.baseline_given else None
            self.gate_baseline = load_baseline(given, "--baseline") if given else self.baseline
            if not worker:
                self.check_session_destinations()
        except InputError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.record_mode = self.settings.record_mode  # what runs now; --optimize switches to recording
        self.cassettes_staged = False  # set while a re-record must not touch the committed cassettes
        self.collected = RecordCollector()  # what the report is built from, gathered from test reports
        # What this session writes, switched in together at its end (only the controller writes under xdist).
        self.changes = Changeset(self.settings.root)
        self.running = RunningTest()
        self.evaluations: dict[str, Evaluation] = {}
        self.declared: dict[str, tuple[Suite, str]] = {}  # suite name -> the first suite and test module using it
        self.results: dict[str, dict[str, list[CaseResult]]] = {}  # this process's results, per suite and task
        self._settled = False  # see `settle`
        self._suite_use: set[str] = set()  # suites whose cassette use this process has reported
        self._info_json: dict[str, str] = {}
        self._contamination: dict[str, dict[str, str]] = {}  # per suite: task id -> what its live prompt shows
        self.unused: dict[Path, list[Path]] = {}  # listed at the end of a run that does not re-record
        self.deleted: dict[Path, list[Path]] = {}  # deleted by a complete re-record
        self.diffs: dict[str, BaselineDiff] = {}  # set at session end: the run against the gate's baseline
        self.previous_diffs: dict[str, BaselineDiff] = {}  # with --update-baseline: against the baseline it replaced
        self.interrupted_at_end = False  # Ctrl-C while the session's files were staged or switched in

    def check_session_destinations(self) -> None:
        """The files this session writes whatever runs (--results-json, the baseline it updates) can be written."""
        if self.settings.results_json:
            check_file_destination(Path(self.settings.results_json), "results file", "--results-json")
        if self.settings.update_baseline:
            given = self.settings.config.given_by("baseline")
            check_file_destination(self.settings.baseline_path, "baseline", f"the baseline setting{f' ({given})' if given else ''}")

    def check_suite_destinations(self, evaluation: Evaluation) -> None:
        """Before a suite's first model call: its reports and (when recording) cassettes can be written where set."""
        given = self.settings.config.given_by("reports")
        source = f"the reports setting{f' ({given})' if given else ''}"
        reports = self.settings.config.resolve(self.settings.root, self.settings.config.reports)
        check_folder(reports, "reports", source)
        for name in ("scores.md", "scores.json", "index.html"):
            check_file_destination(reports / name, "report", source)
        # --optimize may write back the prompt, re-record the cassettes and write its history and report.
        optimizing = self.settings.optimizing
        if evaluation.mode != "live" or optimizing:
            given = evaluation.config.given_by("cassettes")
            source = f"the cassettes setting{f' ({given})' if given else ''}"
            cassettes = evaluation.config.resolve(self.settings.root, evaluation.config.cassettes)
            check_folder(cassettes, "cassettes", source, writing=self.record_mode != "none" or optimizing)
        if optimizing:
            from replaygate.optimize.settings import load_settings  # only --optimize needs its settings

            try:
                settings = load_settings(evaluation.config.optimize, str(self.settings.pyproject))
            except InputError:
                return  # --optimize reports a bad setting of its own, as a usage error
            check_file_destination(evaluation.loaded.prompt.path, "prompt", "the prompt setting (or --prompt)")
            resolve = lambda value: evaluation.config.resolve(self.settings.root, value)  # noqa: E731
            check_folder(resolve(settings.history), "prompt history", "the optimize.history setting")
            check_file_destination(resolve(settings.report), "optimization report", "the optimize.report setting")
            check_file_destination(resolve(settings.cache), "optimization cache", "the optimize.cache setting")

    def switch_to_recording(self, backend, record_mode: str, staged: bool = False, update_baseline: bool = False) -> None:
        """Run the next cases against `backend` in `record_mode`, reloading the prompt (it may have been rewritten).

        `staged`: record into the session's changeset, so the committed cassettes change only when it is committed.
        `update_baseline`: the run's scores become the new baseline, as with --update-baseline.
        """
        self.backend, self.record_mode, self.cassettes_staged = backend, record_mode, staged
        if update_baseline:
            self.settings = replace(self.settings, update_baseline=True)
        self.close()
        self.evaluations.clear()
        self.results.clear()
        self._info_json.clear()
        self._contamination.clear()
        self.collected.forget_infos()  # the next records bring the info of the run that made them

    def settle(self, evaluation: Evaluation) -> None:
        """Once per session, before the first run: load what runs use, then exempt it all from cyclic GC.

        The SDK's modules and types (and the collected items) live until the process ends anyway; left in
        place, every full collection, and the two pytest runs at exit, walk their hundred thousand objects
        again. Reference counting still frees them; only their cycles wait for the end.
        """
        if not self._settled:
            self._settled = True
            evaluation.preload()
            gc.freeze()

    def close(self) -> None:
        """Close the event loops and clients each evaluation kept for ad-hoc runs; a later run opens its own."""
        for evaluation in self.evaluations.values():
            evaluation.close()

    def run_results(self) -> RunResults:
        """Everything the report, the gate and a shard's results file are built from."""
        settings = self.settings
        return RunResults(settings.threshold, settings.repeats, settings.min_passes, self.collected.suite_results(),
                          dict(self.collected.property_outcomes), settings.shard)

    def backend_for_optimizing(self):
        """The live backend --optimize searches and re-records with: the same resolution as a plain run's."""
        try:
            return session_backend(self.settings, recording=True, optimizer=True)
        except InputError as exc:
            raise pytest.UsageError(str(exc)) from None

    def note_diffs(self, diffs: dict[str, BaselineDiff]) -> None:
        """At session end: the run against the gate's baseline."""
        self.diffs = diffs

    def note_previous_diffs(self, diffs: dict[str, BaselineDiff]) -> None:
        """With --update-baseline: the run against the baseline it replaced."""
        self.previous_diffs = diffs

    def note_interrupted_at_end(self) -> None:
        """Ctrl-C while the session's files were staged or switched in."""
        self.interrupted_at_end = True

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

    def contamination(self, suite: Suite) -> dict[str, str]:
        """Tasks whose input the suite's live prompt shows, and what it shows; worked out once per prompt."""
        if suite.name not in self._contamination:
            loaded = self.evaluation(suite).loaded
            self._contamination[suite.name] = {
                leak.task_id: f"the prompt shows {leak.describe()}" for leak in task_leaks(loaded.prompt.text, loaded.tasks)
            }
        return self._contamination[suite.name]

    def suite_config(self, suite: Suite) -> EvalConfig:
        """A suite's settings: shared table, its own table, its code, then --set."""
        config = load_config(self.settings.pyproject, self.settings.overrides, suite=suite.name, code=suite.code_settings(),
                             sources=self.settings.override_sources)
        if self.cassettes_staged:
            staged = self.changes.stage_folder(config.resolve(self.settings.root, config.cassettes))
            config = config.model_copy(update={"cassettes": str(staged)})
        return config

    def declare(self, suite: Suite, module_file: str) -> tuple[Suite, str]:
        """Note a test module's suite; returns the first suite of that name and the module that declared it."""
        return self.declared.setdefault(suite.name, (suite, module_file))

    def unknown_suite_tables(self) -> list[str]:
        """A line for each [tool.replaygate.suites.<name>] that no collected suite has: a misspelt name is ignored otherwise."""
        tables = read_table(self.settings.pyproject).get("suites", {})
        known = ", ".join(sorted(self.declared)) or "none"
        return [f"{shown_path(self.settings.pyproject)}: [tool.replaygate.suites.{name}] names no suite this session collected "
                f"(suites: {known}); fix the table's name, or it is ignored" for name in sorted(tables) if name not in self.declared]

    def threshold_for(self, suite: Suite) -> float:
        own = self.evaluation(suite).config.threshold
        return self.settings.threshold if own is None else own

    def evaluation(self, suite: Suite) -> Evaluation:
        if suite.name not in self.evaluations:
            given = [flag for flag, on in (("--tasks", self.settings.tasks_given), ("--prompt", self.settings.prompt_given)) if on]
            if given and self.evaluations:
                first = next(iter(self.evaluations))
                raise InputError(f"{given[0]} names one suite's file, but this session runs suites {first!r} and "
                                 f"{suite.name!r}; select one suite (a path or -k), or use --set suites.<name>.{given[0][2:]}=…")
            evaluation = Evaluation(
                suite, self.suite_config(suite), self.settings.root, self.backend, self.record_mode, self.settings.environ,
                config_source=str(self.settings.pyproject),
            )
            self.check_suite_destinations(evaluation)
            prompt = evaluation.loaded.prompt
            staged = self.changes.read_text(prompt.path)
            if staged is not None and staged != prompt.text:
                # The prompt this session wrote back is staged, not yet committed: run the cases under it.
                evaluation.loaded = evaluation.loaded.with_prompt(PromptTemplate(prompt.path, staged))
            self.evaluations[suite.name] = evaluation
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
                evaluation = self.evaluation(suite)
                self.settle(evaluation)
                results = evaluation.run(wanted, repeats=self.settings.repeats)
            except Exception as exc:  # the batch broke: every case it held fails with that reason, once
                results = [CaseResult(task=t, repeat=r, failure=exc) for t in wanted for r in range(self.settings.repeats)]
            for result in results:
                done.setdefault(result.task.id, []).append(result)
            for runs in done.values():
                runs.sort(key=lambda r: r.repeat)
        return done[task.id]

    def _cassette_folder(self, evaluation: Evaluation, group: str) -> Path:
        """Where `group`'s cassettes for the agent model are committed (a staged re-record writes elsewhere)."""
        root = self.changes.target_of(evaluation.config.resolve(self.settings.root, evaluation.config.cassettes))
        return root / CaseKey(group, evaluation.model_label("agent", group), "-").folder

    def suite_cassette_use(self, suite: Suite, items: list[pytest.Item]) -> str | None:
        """The suite's folder and task ids, complete when this session selected every task (JSON).

        Given once per process and suite, to ride on one case report; None afterwards, and when live.
        """
        if suite.name in self._suite_use:
            return None
        self._suite_use.add(suite.name)
        evaluation = self.evaluation(suite)
        if evaluation.mode == "live":
            return None
        tasks = {task.id for task in evaluation.loaded.tasks}
        selected = {it.callspec.params["eval_case"].id for it in items
                    if "eval_case" in getattr(getattr(it, "callspec", None), "params", {})
                    and getattr(suite_of(it), "name", None) == suite.name}
        # Another task file (--tasks) shares the folder with the suite's own: its cases own nothing here.
        complete = not self.settings.tasks_given and tasks <= selected
        return FolderUse(str(self._cassette_folder(evaluation, suite.name)), tasks, complete=complete).to_json()

    def note_group_use(self, evaluation: Evaluation, tasks: list[Task], group: str) -> None:
        if evaluation.mode != "live":
            names = {Path(evaluation.case_key(task, 0, group).relpath).name for task in tasks}
            self.running.note_group_use(str(self._cassette_folder(evaluation, group)), names)

    def take_group_use(self, complete: bool) -> list[str]:
        """The groups the test that just ran used (JSON), complete when it ran to its end; then forgotten."""
        return self.running.take_group_use(complete)

    def settle_unused_cassettes(self, stopped: bool) -> None:
        """A whole re-record stages the deletion of the cassettes no case used; any other run only lists them."""
        found = {Path(folder): use.unused() for folder, use in sorted(self.collected.cassette_use.items())}
        found = {folder: paths for folder, paths in found.items() if paths}
        rerecorded = self.record_mode == "all" or (self.settings.update_baseline and self.record_mode != "none")
        if not rerecorded or stopped:
            self.unused = found
            return
        for paths in found.values():
            for path in paths:
                self.changes.delete(path)
        self.deleted = found

    def unused_summary(self) -> str:
        """One line: the unused cassettes this re-record deleted, or those a plain run found and how to delete them."""
        found = self.deleted or self.unused
        if not found:
            return ""
        count = sum(len(paths) for paths in found.values())
        noun = "cassette" if count == 1 else "cassettes"
        where = ", ".join(f"{os.path.relpath(folder, self.settings.root) if folder.is_relative_to(self.settings.root) else folder}/"
                          for folder in found)
        if self.deleted:
            return f"evals: deleted {count} unused {noun} in {where} (no case of this run uses them)"
        command = " ".join(["pytest", *self.rerun_options(), "--eval-record-mode=all"])
        return f"evals: {count} unused {noun} in {where}; re-record with `{command}` to delete them"


class RecordCollector:
    """Everything gathered from test reports; under xdist the controller sees every worker's reports.

    Registered as a plugin by the session's hooks; the session reads it when it builds the report.
    """

    def __init__(self):
        self.hard_failures = 0  # failed tests that were not a case scoring below its threshold
        self.records: dict[str, dict[tuple[str, int], CaseRecord]] = {}
        self.infos: dict[str, RunInfo] = {}
        self.minimal: dict[str, CaseRecord] = {}
        self.property_outcomes: dict[str, bool] = {}
        self.cassette_use: dict[str, FolderUse] = {}  # by committed folder

    def forget_infos(self) -> None:
        self.infos.clear()

    def suite_results(self) -> dict[str, SuiteResults]:
        # A suite whose only test is a property has no case records, but its smallest failing example is reported.
        names = sorted({name for name, records in self.records.items() if records} | set(self.minimal))
        return {
            name: SuiteResults(self.infos[name], list(self.records.get(name, {}).values()),
                               [self.minimal[name]] if name in self.minimal else [])
            for name in names if name in self.infos
        }

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if report.failed and not props.get("eval_below_threshold"):
            self.hard_failures += 1  # not a score below threshold: --update-baseline cannot accept it
        if report.when != "call":
            return
        suite = props.get("eval_suite")
        if suite and "eval_info" in props and suite not in self.infos:
            self.infos[suite] = RunInfo.from_json(props["eval_info"])
        if suite and "eval_records" in props:
            for item in json.loads(props["eval_records"]):
                record = CaseRecord(**item)
                self.records.setdefault(suite, {})[(record.task_id, record.repeat)] = record
        if suite and "eval_minimal" in props:
            self.minimal[suite] = CaseRecord.from_json(props["eval_minimal"])
        if "eval_property" in props:
            # An xfailed run is a failure, an xpassed one a pass.
            failed = report.failed or (report.skipped and hasattr(report, "wasxfail"))
            self.property_outcomes[props["eval_property"]] = not failed
        for key, value in report.user_properties:
            if key == "eval_cassettes":
                use = FolderUse.from_json(value)
                self.cassette_use.setdefault(use.folder, FolderUse(use.folder)).merge(use)


class RunningTest:
    """What the running test did beyond its suite's batch, for its report; taken (and forgotten) when it ends."""

    def __init__(self):
        self.examples, self.seconds = 0, 0.0  # ad-hoc runs (generated examples) and the harness's seconds for them
        self.minimal: tuple[str, CaseResult] | None = None  # the last failing example noted: Hypothesis's smallest
        self.group_use: dict[str, set[str]] = {}  # folder -> the cassettes its groups ran

    def note_run(self, seconds: float) -> None:
        self.examples += 1
        self.seconds += seconds

    def note_failure(self, suite_name: str, result: CaseResult) -> None:
        self.minimal = (suite_name, result)

    def note_group_use(self, folder: str, names: set[str]) -> None:
        self.group_use.setdefault(folder, set()).update(names)

    def take_examples(self) -> tuple[int, float]:
        taken = self.examples, self.seconds
        self.examples, self.seconds = 0, 0.0
        return taken

    def take_minimal(self) -> tuple[str, CaseResult] | None:
        taken, self.minimal = self.minimal, None
        return taken

    def take_group_use(self, complete: bool) -> list[str]:
        """The groups used (JSON), complete when the test ran to its end."""
        uses = [FolderUse(folder, files=names, complete=complete).to_json() for folder, names in self.group_use.items()]
        self.group_use.clear()
        return uses


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
        return SuiteSetup(evaluation.config, self.state.settings.root, evaluation.loaded.tasks, suite.settings)

    def threshold(self, suite: Suite) -> float:
        return self.state.threshold_for(suite)

    def secrets(self) -> list[tuple[str, str]]:
        """The credential values no file the test writes may hold."""
        return secrets_from_env(self.state.settings.config.secret_env, self.state.settings.environ)

    def cassette_folder(self, suite: Suite, group: str) -> Path:
        """Where the cassettes of `group` (this test's own cases) are kept for the suite's agent model."""
        evaluation = self._evaluation(suite)
        relpath = CaseKey(group, evaluation.model_label("agent", group), "-").relpath
        return evaluation.config.resolve(self.state.settings.root, evaluation.config.cassettes) / Path(relpath).parent

    def run(self, suite: Suite, tasks: list[Task | dict], group: str) -> list[CaseResult]:
        """Run `tasks` (Tasks, or dicts as a task file holds them) under the suite's prompt, solver and graders, with
        cassettes in their own `group` folder."""
        evaluation = self._evaluation(suite)
        try:
            tasks = tasks_from_list(list(tasks), f"eval_runner.run({suite.name!r}, group={group!r}) tasks")
        except InputError as exc:
            pytest.fail(str(exc), pytrace=False)
        self.state.note_group_use(evaluation, tasks, group)
        self.state.settle(evaluation)
        started = time.perf_counter()
        try:
            # Reused across calls: one loop, clients and cassette library for all of a test's examples.
            results = evaluation.run(tasks, loaded=evaluation.loaded.with_tasks(tasks), group=group, reuse=True)
            for result in results:
                result.threshold = self.threshold(suite)  # so `result.passed` answers (a property, not a method that is always truthy)
            return results
        except InputError as exc:
            pytest.fail(str(exc), pytrace=False)
        finally:
            self.state.running.note_run(time.perf_counter() - started)

    def check(self, result: CaseResult, nodeid: str, suite: Suite | None = None) -> None:
        """Fail like a suite case does: cassette misses name the command that records them."""
        threshold = self.state.threshold_for(suite) if suite is not None else self.state.settings.threshold
        describe = self.state.evaluation(suite).describe if suite is not None else (lambda r: getattr(r, "answer", None) or "—")
        CaseOutcome([result], threshold, nodeid, describe, self.state.rerun_options(), min_passes=1).check()

    def note_failure(self, suite: Suite, result: CaseResult) -> None:
        """Remember a failing example; Hypothesis replays the shrunk one last, so the last noted is the smallest."""
        self.state.evaluation(suite)
        self.state.running.note_failure(suite.name, result)


def suite_of(item: pytest.Item) -> Suite | None:
    """The suite a test runs the cases of: marked with `Suite.cases`, or named SUITE in its module."""
    function = getattr(item, "function", None)
    return getattr(function, CASES_ATTRIBUTE, None) or getattr(getattr(item, "module", None), "SUITE", None)


def settings_inputs(config: pytest.Config) -> tuple:
    """Pytest's config as the plain values `read_session_settings` takes (all but the environment)."""
    try:
        threshold = config.getini("eval_pass_threshold")
    except (ValueError, pytest.UsageError):  # pytest raises the latter for a typed ini option it cannot convert
        threshold = None
    return vars(config.option), threshold, config.inipath, Path(config.rootpath)
