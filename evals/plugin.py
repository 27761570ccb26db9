"""The pytest face of the harness: options, the `eval_case` fixture, baseline xfails and the report.

Every case of a suite module (one that defines `SUITE`) runs in one concurrent
batch the first time a case is needed; each test then checks its own result.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evals.harness.backend import LLM_CHOICES, resolve_backend
from evals.harness.baseline import load_baseline, updated_baseline, write_baseline
from evals.harness.cassette import RECORD_MODES, CassetteMiss, secrets_from_env
from evals.harness.config import load_config
from evals.harness.errors import InputError
from evals.harness.evaluation import Evaluation, RunInfo
from evals.harness.record import CaseRecord, record_case
from evals.harness.report import render_scores, write_report
from evals.harness.runner import CaseResult
from evals.harness.task import Task

STATE = pytest.StashKey["EvalSession"]()


class CaseBelowThreshold(pytest.fail.Exception):
    """The case ran and was scored below the pass threshold.

    Reported as its message alone (the graders' reasons), with no traceback: the
    plugin's frames say nothing to the reader, and formatting them for every
    known failure would cost more than the replay itself.
    """

    def __init__(self, message: str):
        super().__init__(msg=message, pytrace=False)


class CaseOutcome:
    """What a suite test sees: the scored result of its case."""

    def __init__(self, result: CaseResult, threshold: float, nodeid: str, describe, options: list[str]):
        self.result, self.threshold, self.nodeid, self.describe = result, threshold, nodeid, describe
        self.options = options

    def check(self) -> None:
        result = self.result
        if isinstance(result.failure, CassetteMiss):
            miss = result.failure
            command = " ".join(["pytest", f"'{self.nodeid}'", *self.options, f"--record-mode={miss.record_mode_hint}"])
            pytest.fail(f"{miss}; record it with: {command}", pytrace=False)
        if isinstance(result.failure, InputError):
            pytest.fail(str(result.failure), pytrace=False)
        if result.failure is not None:
            raise result.failure
        if not result.passed(self.threshold):
            lines = [f"score {result.value:.2f} < threshold {self.threshold:g}; chose {self.describe(result.rollout)!r}, expected {result.task.expected!r}"]
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
        self.record_mode = config.getoption("record_mode")
        self.environ = dict(os.environ)
        try:
            self.config = load_config(self.root / "pyproject.toml", overrides)
            self.backend = resolve_backend(
                config.getoption("llm"),
                self.record_mode != "none",
                self.environ,
                {"agent": self.config.azure.agent_deployment, "judge": self.config.azure.judge_deployment},
            )
            self.baseline = load_baseline(self.config.resolve(self.root, self.config.baseline))
        except InputError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.threshold = float(config.getini("eval_pass_threshold"))
        self.evaluations: dict[str, Evaluation] = {}
        self.results: dict[str, dict[str, CaseResult]] = {}  # this process's results, per suite
        # A failing example noted by the running property test, attached to its report.
        self.pending_minimal: tuple[str, CaseResult] | None = None
        # What the report is built from, gathered from test reports (so xdist workers' too).
        self.records: dict[str, dict[tuple[str, int], CaseRecord]] = {}
        self.infos: dict[str, RunInfo] = {}
        self.minimal: dict[str, CaseRecord] = {}
        self.property_outcomes: dict[str, bool] = {}
        self._info_json: dict[str, str] = {}

    def rerun_options(self) -> list[str]:
        """This session's options that change what is sent (prompt, tasks, settings), for a re-record command."""
        args = list(self.pytest_config.invocation_params.args)
        kept: list[str] = []
        takes_value = ("--prompt", "--tasks", "--set", "--max-turns", "--llm")
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

    def evaluation(self, suite) -> Evaluation:
        if suite.name not in self.evaluations:
            self.evaluations[suite.name] = Evaluation(
                suite, self.config, self.root, self.backend, self.record_mode, self.environ,
                config_source=str(self.root / "pyproject.toml"),
            )
        return self.evaluations[suite.name]

    def result_for(self, item: pytest.Item, suite, task: Task) -> CaseResult:
        done = self.results.setdefault(suite.name, {})
        if task.id not in done:
            # First case of this suite: run every selected case of the suite in one concurrent batch.
            # An xdist worker cannot know which cases it will be handed, so it runs each on demand.
            wanted = [] if hasattr(self.pytest_config, "workerinput") else [
                it.callspec.params["eval_case"]
                for it in item.session.items
                if isinstance(it, pytest.Function)
                and "eval_case" in getattr(getattr(it, "callspec", None), "params", {})
                and getattr(it.module, "SUITE", None) is suite
                and it.callspec.params["eval_case"].id not in done
            ]
            if task not in wanted:
                wanted.append(task)
            try:
                results = self.evaluation(suite).run(wanted)
            except Exception as exc:  # the batch broke: every case it held fails with that reason, once
                results = [CaseResult(task=t, repeat=0, failure=exc) for t in wanted]
            for result in results:
                done[result.task.id] = result
        return done[task.id]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("evals", "LLM agent evaluation")
    group.addoption("--llm", choices=LLM_CHOICES, default=None,
                    help="answer live from this backend instead of replaying cassettes (auto: Azure, then OpenAI, then the simulator)")
    group.addoption("--record-mode", choices=RECORD_MODES, default="none",
                    help="vcrpy record mode; none (default) replays only and never touches the network")
    group.addoption("--concurrency", dest="eval_concurrency", type=int, default=None, help="rollouts in flight at once (default 8)")
    group.addoption("--max-turns", dest="eval_max_turns", type=int, default=None, help="model calls per rollout (default 2: one tool round, then the answer)")
    group.addoption("--tasks", dest="eval_tasks", default=None, help="task JSONL file (overrides [tool.evals] tasks)")
    group.addoption("--prompt", dest="eval_prompt", default=None, help="prompt template file (overrides [tool.evals] prompt)")
    group.addoption("--set", dest="eval_set", action="append", metavar="KEY=VALUE", help="override any [tool.evals] setting, e.g. --set graders.judge=0")
    group.addoption("--update-baseline", action="store_true", help="rewrite the baseline file with this run's scores")
    parser.addini("eval_pass_threshold", "score a case needs to pass", type="float", default=0.8)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "eval_property: a property test of the agent over generated cases; its pass state is kept in the baseline",
    )
    state = config.stash[STATE] = EvalSession(config)
    config.pluginmanager.register(RecordCollector(state), "evals-record-collector")


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash[STATE]
    line = f"evals: {state.backend.label}, record mode {state.record_mode}, agent model {state.config.model_for('agent')}"
    if state.backend.is_simulator and config.getoption("llm") in (None, "auto"):
        line += "  [no credentials found: using the offline SIMULATOR, not a real model]"
    return [line]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "eval_case" not in metafunc.fixturenames:
        return
    suite = getattr(metafunc.module, "SUITE", None)
    if suite is None:
        raise pytest.Collector.CollectError(f"{metafunc.module.__file__}: uses eval_case but defines no SUITE; add SUITE = <your suite>")
    state = metafunc.config.stash[STATE]
    try:
        tasks = list(state.evaluation(suite).loaded.tasks)
    except InputError as exc:
        raise pytest.Collector.CollectError(str(exc)) from None
    metafunc.parametrize("eval_case", tasks, ids=[task.id for task in tasks], indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash[STATE]
    if state.baseline is None:
        return
    for item in items:
        task = getattr(getattr(item, "callspec", None), "params", {}).get("eval_case")
        if isinstance(task, Task) and state.baseline.known_failure(task.id):
            item.add_marker(pytest.mark.xfail(
                reason=f"known failure in {state.baseline.path.name}", raises=CaseBelowThreshold, strict=False))
        elif item.get_closest_marker("eval_property") and state.baseline.known_property_failure(item.nodeid):
            # Only a wrong answer is a known failure; a cassette miss (pytest.fail) still fails.
            item.add_marker(pytest.mark.xfail(
                reason=f"known failure in {state.baseline.path.name}", raises=CaseBelowThreshold, strict=False))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if call.when == "call" and item.get_closest_marker("eval_property"):
        state: EvalSession = item.config.stash[STATE]
        report.user_properties.append(("eval_property", item.nodeid))
        if state.pending_minimal is not None:
            suite_name, result = state.pending_minimal
            state.pending_minimal = None
            evaluation = state.evaluations[suite_name]
            record = record_case(result, state.threshold, evaluation.describe)
            report.user_properties += [("eval_suite", suite_name), ("eval_minimal", record.to_json()),
                                       ("eval_info", evaluation.info().to_json())]
    return report


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
        if suite and "eval_record" in props:
            record = CaseRecord.from_json(props["eval_record"])
            state.records.setdefault(suite, {})[(record.task_id, record.repeat)] = record
        if suite and "eval_minimal" in props:
            state.minimal[suite] = CaseRecord.from_json(props["eval_minimal"])
        if "eval_property" in props:
            # An xfailed run is a failure, an xpassed one a pass.
            failed = report.failed or (report.skipped and hasattr(report, "wasxfail"))
            state.property_outcomes[props["eval_property"]] = not failed


@pytest.fixture
def eval_case(request: pytest.FixtureRequest) -> CaseOutcome:
    state: EvalSession = request.config.stash[STATE]
    suite = request.module.SUITE
    task: Task = request.param
    result = state.result_for(request.node, suite, task)
    evaluation = state.evaluation(suite)
    record = record_case(result, state.threshold, evaluation.describe)
    props = request.node.user_properties
    # Readable fields for JUnit XML, then the machine-readable record the report is built from.
    props += [
        ("eval_score", record.score),
        ("eval_choice", record.chosen),
        ("eval_expected", record.expected),
        ("eval_reasons", "; ".join(f"{n}={s.value:.2f} {s.reason}" for n, s in result.scores.items()) or record.reason),
        ("eval_tokens_in", record.tokens_in),
        ("eval_tokens_out", record.tokens_out),
        ("eval_suite", suite.name),
        ("eval_record", record.to_json()),
        ("eval_info", state.info_json(suite)),
    ]
    return CaseOutcome(result, state.threshold, request.node.nodeid, evaluation.describe, state.rerun_options())


class AdHocRunner:
    """Runs tasks a test builds itself (Hypothesis-generated, say) through the session's backend and cassettes."""

    def __init__(self, state: EvalSession):
        self.state = state

    def run(self, suite, loaded, tasks: list[Task], group: str) -> list[CaseResult]:
        evaluation = self.state.evaluation(suite)
        try:
            return evaluation.run(tasks, loaded=loaded, group=group)
        except InputError as exc:
            pytest.fail(str(exc), pytrace=False)

    def check(self, result: CaseResult, nodeid: str) -> None:
        """Fail like a suite case does: cassette misses name the command that records them."""
        CaseOutcome(result, self.state.threshold, nodeid, lambda r: getattr(r, "choice", None) or "—",
                    self.state.rerun_options()).check()

    def note_failure(self, suite, result: CaseResult) -> None:
        """Remember a failing example; Hypothesis replays the shrunk one last, so the last noted is the smallest."""
        self.state.evaluation(suite)
        self.state.pending_minimal = (suite.name, result)


@pytest.fixture(scope="session")
def eval_runner(request: pytest.FixtureRequest) -> AdHocRunner:
    return AdHocRunner(request.config.stash[STATE])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return  # under xdist only the controller writes shared files
    state: EvalSession = session.config.stash[STATE]
    reports = state.config.resolve(state.root, state.config.reports)
    secrets = secrets_from_env(state.config.secret_env, state.environ)
    for name, records in state.records.items():
        minimal = [state.minimal[name]] if name in state.minimal else []
        text = render_scores(state.infos[name], list(records.values()), state.threshold, minimal)
        write_report(reports / "scores.md", text, secrets)
    # An interrupted run has seen only part of the suite: it never becomes the baseline.
    if session.config.getoption("update_baseline") and exitstatus != pytest.ExitCode.INTERRUPTED:
        if state.records or state.property_outcomes:
            meta = dict(state.baseline.meta) if state.baseline else {}
            meta.pop("threshold", None)
            for info in state.infos.values():
                meta.update({"suite": info.suite, "agent_model": info.agent_model, "prompt_version": info.prompt_version,
                             "judge_model": info.judge_model, "grader_weights": dict(state.config.graders)})
            records = [r for suite_records in state.records.values() for r in suite_records.values()]
            document = updated_baseline(state.baseline, records, state.threshold, meta, state.property_outcomes)
            write_baseline(state.config.resolve(state.root, state.config.baseline), document)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    state: EvalSession = config.stash[STATE]
    for name, records in state.records.items():
        values = list(records.values())
        if not values:
            continue
        passed = sum(r.passed for r in values)
        mean = sum(r.score for r in values) / len(values)
        terminalreporter.write_line(
            f"evals {name}: {len(values)} cases ({state.infos[name].mode}), {passed} passed, mean score {mean:.3f} -> "
            f"{Path(state.config.reports) / 'scores.md'}"
            + ("; baseline updated" if config.getoption("update_baseline") else "")
        )
