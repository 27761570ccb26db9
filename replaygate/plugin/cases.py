"""The pytest face of the harness: options, the `eval_case` fixture, baseline xfails and the report.

A test marked with `@suite.cases` (or in a module naming a `SUITE`) runs once per task of its
suite; all selected cases of a suite run in one concurrent batch the first time one is needed,
and each test then checks its own result.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from replaygate.llm.backend import LLM_CHOICES
from replaygate.results.baseline import load_baseline, updated_baseline, updated_suite, write_baseline
from replaygate.cassettes.cassette import RECORD_MODES
from replaygate.core.errors import InputError
from replaygate.core.rollout import INFRA
from replaygate.core.properties import PROPERTIES_ATTRIBUTE
from replaygate.core.suite import CASES_ATTRIBUTE
from replaygate.results.gate import DEFAULT_ALPHA, DEFAULT_MAX_REGRESSION, missing_baseline_note, older_format_note
from replaygate.results.record import record_case
from replaygate.cassettes.secrets import secrets_from_env
from replaygate.core.task import Task
from replaygate.plugin.session import AdHocRunner, CaseBelowThreshold, CaseOutcome, EvalSession, suite_of

__all__ = ["CaseBelowThreshold"]  # suite tests that check results themselves raise it

STATE = pytest.StashKey["EvalSession"]()
BASELINE_NOTE = pytest.StashKey[str]()  # the gate baseline's older-format line, for the terminal summary


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("evals", "LLM agent evaluation")
    group.addoption("--llm", choices=LLM_CHOICES, default=None,
                    help="answer live from this backend instead of replaying cassettes (auto: Azure, then OpenAI, then each suite's "
                         "offline test double; sim: the double)")
    group.addoption("--eval-record-mode", dest="eval_record_mode", choices=RECORD_MODES, default="none",
                    help="vcrpy record mode of this harness's cassettes; none (default) replays only and never touches the network "
                         "(pytest-recording's --record-mode governs only its own @pytest.mark.vcr tests)")
    group.addoption("--concurrency", dest="eval_concurrency", type=int, default=None, help="rollouts in flight at once (default 8)")
    group.addoption("--max-turns", dest="eval_max_turns", type=int, default=None, help="model calls per rollout (default 2: one tool round, then the answer)")
    group.addoption("--tasks", dest="eval_tasks", default=None, help="task file (JSONL, JSON or YAML) of the one suite this session runs; overrides its tasks setting")
    group.addoption("--prompt", dest="eval_prompt", default=None, help="prompt file of the one suite this session runs; overrides its prompt setting")
    group.addoption("--set", dest="eval_set", action="append", metavar="KEY=VALUE", help="override a setting of every suite (--set concurrency=4) or of one (--set suites.triage.threshold=0.9)")
    group.addoption("--update-baseline", action="store_true", help="rewrite the baseline file with this run's scores")
    group.addoption("--repeat", dest="eval_repeat", type=int, default=1, metavar="N",
                    help="run every case N times (repeat k replays cassette <task>.r<k>.json)")
    group.addoption("--min-passes", dest="eval_min_passes", type=int, default=None, metavar="K",
                    help="with --repeat N: a case passes when K of its N repeats pass (default: all N)")
    group.addoption("--baseline", dest="eval_baseline", default=None, metavar="PATH",
                    help="baseline the gate and the report compare with (default: [tool.replaygate] baseline); "
                         "known failures always come from [tool.replaygate] baseline")
    group.addoption("--baseline-optional", dest="eval_baseline_optional", action="store_true",
                    help="a missing --baseline file passes the gate with nothing to compare (a first PR) instead of a usage error")
    group.addoption("--max-regression", dest="eval_max_regression", type=float, default=DEFAULT_MAX_REGRESSION,
                    help="the gate fails on a mean score drop larger than this that is also significant (default 0.02)")
    group.addoption("--alpha", dest="eval_alpha", type=float, default=DEFAULT_ALPHA,
                    help="significance level of the gate's paired test over tasks (default 0.05)")
    group.addoption("--shard", dest="eval_shard", default=None, metavar="I/N",
                    help="run only shard I of N (a stable split by test id); the merge of all shards runs the gate")
    group.addoption("--results-json", dest="eval_results_json", default=None, metavar="PATH",
                    help="also write this run's case records as JSON, for python -m replaygate.results.shards merge")
    parser.addini("eval_pass_threshold", "score a case needs to pass", type="float", default=0.8)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "eval_property: a property test of the agent over generated cases; its pass state is kept in the baseline",
    )
    state = config.stash[STATE] = EvalSession(config)
    config.pluginmanager.register(state.collected, "evals-record-collector")
    config.pluginmanager.register(StopOnCollectionError(config), "evals-stop-on-collection-error")


class StopOnCollectionError:
    """Under xdist, a collection error (a bad tasks file, say) stops the run as it does serially: exit 2, no test run."""

    def __init__(self, config: pytest.Config):
        self.config, self.errors = config, 0

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        dsession = self.config.pluginmanager.getplugin("dsession")  # only on an xdist controller
        if not report.failed or dsession is None or self.config.getoption("continue_on_collection_errors"):
            return
        self.errors += 1
        # xdist stops its loop and raises its Interrupted, which pytest reports and exits with as serial runs do.
        dsession.shouldstop = f"{self.errors} error{'s' if self.errors > 1 else ''} during collection"


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash[STATE]
    line = f"evals: {state.backend.label}, record mode {state.record_mode}"
    if state.settings.config.model_named("agent"):
        # Unnamed, each suite's model is its double's own name or the one its recordings name (see its report).
        line += f", agent model {state.settings.config.model_for('agent')}"
    if state.backend.is_simulator and config.getoption("llm") in (None, "auto"):
        line += "  [no credentials found: using each suite's offline test double, not a real model]"
    return [line]


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """A test module whose import raised InputError (a bad Suite, property or double argument) fails with one line
    at the user's own line, not a traceback through the harness."""
    report = yield
    call = getattr(report, "call", None)  # pytest keeps the collection's CallInfo here for collect_one_node
    error = call.excinfo.value if call is not None and call.excinfo is not None else None
    if isinstance(collector, pytest.Module) and isinstance(error, InputError):
        package, root = Path(__file__).resolve().parents[1], collector.config.rootpath.resolve()
        # The user's innermost frame: in their project, outside the harness (and not a generated "<string>" one).
        theirs = [frame for frame in traceback.extract_tb(error.__traceback__)
                  if not frame.filename.startswith("<") and root in Path(frame.filename).resolve().parents
                  and package not in Path(frame.filename).resolve().parents]
        where = f"{theirs[-1].filename}:{theirs[-1].lineno}: " if theirs else ""
        report.longrepr = f"{where}{error}"
    return report


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    where = f"{metafunc.module.__file__}::{metafunc.function.__name__}"
    spec = getattr(metafunc.function, PROPERTIES_ATTRIBUTE, None)
    if spec is not None and "eval_property" not in metafunc.fixturenames:
        raise pytest.Collector.CollectError(
            f"{where}: @{spec.suite.name}.properties marks a test that takes no eval_property, so its examples would "
            "never run; add the eval_property argument and call eval_property.check()")
    if spec is not None:
        metafunc.config.stash[STATE].declare(spec.suite, metafunc.module.__file__)
    if "eval_case" not in metafunc.fixturenames:
        marked = getattr(metafunc.function, CASES_ATTRIBUTE, None)
        if marked is not None:
            # Passing quietly would hide that the suite never runs.
            raise pytest.Collector.CollectError(
                f"{where}: @{marked.name}.cases marks a test that takes no eval_case, so suite {marked.name!r} "
                "would never run; add the eval_case argument to the test")
        return
    suite = suite_of(metafunc.definition)
    if suite is None:
        raise pytest.Collector.CollectError(
            f"{where}: uses eval_case but names no suite; "
            "decorate it with @<your suite>.cases")
    state = metafunc.config.stash[STATE]
    first = state.declare(suite, metafunc.module.__file__)
    if first[0] is not suite and first[1] != metafunc.module.__file__:
        # Two suites under one name would share cassettes, baseline entries and answers.
        raise pytest.Collector.CollectError(
            f"suite {suite.name!r} is declared twice, in {first[1]} and in {metafunc.module.__file__}; "
            "give each Suite its own name")
    try:
        tasks = list(state.evaluation(suite).loaded.tasks)
    except InputError as exc:
        raise pytest.Collector.CollectError(str(exc)) from None
    metafunc.parametrize("eval_case", tasks, ids=[task.id for task in tasks], indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash[STATE]
    for item in items:
        if hasattr(getattr(item, "function", None), PROPERTIES_ATTRIBUTE):
            item.add_marker(pytest.mark.eval_property)  # its pass state goes to the baseline, its failure to the report
    if state.settings.shard is not None:
        from replaygate.results.shards import in_shard

        kept = [item for item in items if in_shard(item.nodeid, state.settings.shard)]
        config.hook.pytest_deselected(items=[item for item in items if not in_shard(item.nodeid, state.settings.shard)])
        items[:] = kept
    if state.baseline is None:
        return
    for item in items:
        task = getattr(getattr(item, "callspec", None), "params", {}).get("eval_case")
        suite = suite_of(item)
        if isinstance(task, Task) and suite is not None and state.baseline.known_failure(suite.name, task.id):
            item.add_marker(pytest.mark.xfail(
                reason=f"known failure in {state.baseline.path.name}", raises=CaseBelowThreshold, strict=False))
        elif item.get_closest_marker("eval_property") and state.baseline.known_property_failure(item.nodeid):
            # Only a wrong answer is a known failure; a cassette miss (pytest.fail) still fails.
            item.add_marker(pytest.mark.xfail(
                reason=f"known failure in {state.baseline.path.name}", raises=CaseBelowThreshold, strict=False))


def pytest_collection_finish(session: pytest.Session) -> None:
    state: EvalSession = session.config.stash[STATE]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or session.config.args_source == pytest.Config.ArgsSource.ARGS:
        return  # a path or node was named: suites outside it were not collected, so no table can be judged unused
    if session.testsfailed:
        return  # a module failed to collect: its suite may be the one the table names
    for line in state.unknown_suite_tables():
        reporter.write_line(line, yellow=True)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for line in session.config.stash[STATE].recovered:
        if reporter is not None:
            reporter.write_line(line)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    if call.excinfo is not None and isinstance(call.excinfo.value, pytest.fail.Exception) and not call.excinfo.value.pytrace \
            and not item.config.getoption("fulltrace", False):
        # A message-only failure (a score below threshold, a cassette miss) shows no traceback, but pytest
        # walks and filters every frame up to its runner to find that out: keep only the raising frame.
        call.excinfo = pytest.ExceptionInfo.from_exception(call.excinfo.value.with_traceback(_raiser(call.excinfo.tb)))
    report = yield
    if call.when == "call" and call.excinfo is not None and call.excinfo.errisinstance(CaseBelowThreshold):
        report.user_properties.append(("eval_below_threshold", True))  # what --update-baseline may accept
    if call.when == "call":
        # A test that stopped early (not on a wrong answer) may not have reached every cassette of its groups.
        ran_through = call.excinfo is None or call.excinfo.errisinstance(CaseBelowThreshold)
        report.user_properties += [("eval_cassettes", use) for use in item.config.stash[STATE].take_group_use(ran_through)]
    if call.when == "call" and item.get_closest_marker("eval_property"):
        state: EvalSession = item.config.stash[STATE]
        report.user_properties.append(("eval_property", item.nodeid))
        # How many examples ran and the harness's seconds for them (the rest of the test is Hypothesis's).
        examples, seconds = state.running.take_examples()
        report.user_properties += [("eval_examples", examples), ("eval_examples_s", round(seconds, 4))]
        minimal = state.running.take_minimal()
        if minimal is not None:
            suite_name, result = minimal
            evaluation = state.evaluations[suite_name]
            record = record_case(result, state.threshold_for(evaluation.suite), evaluation.describe, with_input=True)
            report.user_properties += [("eval_suite", suite_name), ("eval_minimal", record.to_json()),
                                       ("eval_info", evaluation.info().to_json())]
    return report


def _raiser(tb):
    """The traceback from the innermost frame not hidden by `__tracebackhide__` (pytest.fail's own is) on."""
    frames = []
    while tb is not None:
        frames.append(tb)
        tb = tb.tb_next
    for frame in reversed(frames):
        if not (frame.tb_frame.f_locals.get("__tracebackhide__") or frame.tb_frame.f_globals.get("__tracebackhide__")):
            return frame
    return frames[0]


@pytest.fixture
def eval_case(request: pytest.FixtureRequest) -> CaseOutcome:
    state: EvalSession = request.config.stash[STATE]
    suite = suite_of(request.node)
    task: Task = request.param
    results = state.result_for(request.node, suite, task)
    evaluation = state.evaluation(suite)
    threshold = state.threshold_for(suite)
    contaminated = state.contamination(suite).get(task.id, "")
    records = [record_case(result, threshold, evaluation.describe, contaminated=contaminated) for result in results]
    first = records[0]
    props = request.node.user_properties
    # Readable fields for JUnit XML (the first repeat's), then the machine-readable records the report is built from.
    props += [
        ("eval_score", round(sum(r.score for r in records) / len(records), 4)),
        ("eval_choice", first.chosen),
        ("eval_expected", first.expected),
        ("eval_reasons", "; ".join(f"{n}={s.value:.2f} {s.reason}" for n, s in results[0].scores.items()) or first.reason),
        ("eval_tokens_in", sum(r.tokens_in for r in records)),
        ("eval_tokens_out", sum(r.tokens_out for r in records)),
        ("eval_suite", suite.name),
        ("eval_records", json.dumps([vars(r) for r in records], sort_keys=True, ensure_ascii=False)),
        ("eval_info", state.info_json(suite)),
    ]
    cassettes = state.suite_cassette_use(suite, request.session.items)
    if cassettes is not None:
        props.append(("eval_cassettes", cassettes))
    if contaminated:
        props.append(("eval_contaminated", contaminated))  # JUnit XML says why this case is no test
    return CaseOutcome(results, threshold, request.node.nodeid, evaluation.describe, state.rerun_options(),
                       state.settings.min_passes)


@pytest.fixture(scope="session")
def eval_runner(request: pytest.FixtureRequest) -> AdHocRunner:
    return AdHocRunner(request.config.stash[STATE])


@pytest.fixture
def eval_property(request: pytest.FixtureRequest, eval_runner: AdHocRunner):
    """A `@suite.properties` test's examples: `eval_property.check()` runs them and fails on the smallest failing one."""
    from replaygate.plugin.property_check import PropertyCheck

    spec = getattr(request.function, PROPERTIES_ATTRIBUTE, None)
    if spec is None:
        pytest.fail(f"{request.node.nodeid}: uses eval_property but names no property; decorate it with "
                    "@<your suite>.properties(...)", pytrace=False)
    return PropertyCheck(spec, eval_runner, request.node.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state: EvalSession = session.config.stash[STATE]
    state.close()  # every case has run: the kept event loops and clients go
    if hasattr(session.config, "workerinput"):
        return  # under xdist only the controller writes shared files
    if state.changes.discarded:
        return  # a re-record that must be whole (--optimize) stopped early: the session writes nothing
    try:
        finish_session(session, state, exitstatus)
        state.changes.commit()  # all this session staged (--optimize's prompt too) switches in together
    except KeyboardInterrupt:
        session.exitstatus = pytest.ExitCode.INTERRUPTED
        state.note_interrupted_at_end()
    finally:
        state.changes.discard()  # what an error or Ctrl-C left uncommitted is dropped; a no-op once committed


def finish_session(session: pytest.Session, state: EvalSession, exitstatus: int) -> None:
    """Stage the session's baseline, reports and cassette deletions in `state.changes`."""
    results = state.run_results()
    secrets = secrets_from_env(state.settings.config.secret_env, state.settings.environ)
    if not (results.suites or results.properties or state.settings.results_json or state.collected.cassette_use):
        return  # nothing ran (--collect-only, say): no report, and none of its writers loaded
    # The report writers load here, at the end: collecting and running cases never needs them.
    from replaygate.results.publish import compare_run
    from replaygate.results.report import write_report

    if state.settings.results_json:
        write_report(Path(state.settings.results_json), results.to_json(), secrets)
    gate_baseline = state.gate_baseline
    session.config.stash[BASELINE_NOTE] = older_format_note(gate_baseline)
    # An interrupted run has seen only part of the suite: it never becomes the baseline.
    accepted = state.settings.update_baseline and exitstatus != pytest.ExitCode.INTERRUPTED and bool(results.suites or results.properties)
    if accepted:
        gate_baseline = _accept_run(session, state, results, secrets, gate_baseline)
    stopped = exitstatus == pytest.ExitCode.INTERRUPTED or bool(session.shouldfail or session.shouldstop)
    state.settle_unused_cassettes(stopped)
    if not results.suites:
        return
    state.note_diffs(compare_run(results, gate_baseline, state.settings.gate, missing_baseline_note(state.settings.gate_baseline_path)))
    _publish_reports(session, state, results, secrets)
    _settle_exit_status(session, state, results, accepted)


def _accept_run(session: pytest.Session, state: EvalSession, results, secrets, gate_baseline):
    """Stage this run as the baseline (--update-baseline); returns the baseline the report then compares with."""
    from replaygate.results.publish import compare_run

    state.note_previous_diffs(compare_run(results, gate_baseline, state.settings.gate))
    write_baseline(state.settings.baseline_path, accepted_baseline(state.baseline, results), secrets, state.changes)
    if state.settings.gate_baseline_path == state.settings.baseline_path:
        # The report then reads as the next plain run's will: against the baseline just written.
        gate_baseline = replace(load_baseline(state.changes.current(state.settings.baseline_path)), path=state.settings.baseline_path)
        session.config.stash[BASELINE_NOTE] = older_format_note(gate_baseline)
    return gate_baseline


def _publish_reports(session: pytest.Session, state: EvalSession, results, secrets) -> None:
    """Stage the reports (and GitHub's job summary) of this run against `state.diffs`."""
    from replaygate.results.page_data import page_sources
    from replaygate.results.publish import publish
    from replaygate.results.shards import versions

    reports = state.settings.config.resolve(state.settings.root, state.settings.config.reports)
    # A shard's report is partial: GitHub's job summary gets the merged one.
    summary = None if state.settings.shard else state.settings.environ.get("GITHUB_STEP_SUMMARY")
    publish(results, state.diffs, reports, secrets, summary, {
        "generated_at": datetime.fromtimestamp(state.settings.started, timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(time.time() - state.settings.started, 3),
        "versions": versions(),
        "command": ["pytest", *session.config.invocation_params.args],
    }, changes=state.changes, page=page_sources(state.settings.root, state.settings.config, state.changes.read_text))


def _settle_exit_status(session: pytest.Session, state: EvalSession, results, accepted: bool) -> None:
    """The gate, an unanswered case or an accepted baseline may change the exit status pytest reached."""
    if gate_enforced(state) and any(d.failed for d in state.diffs.values()) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    # A case no model answered is an error, whatever the gate or a test that never checked it says.
    if unanswered(results) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif accepted and session.exitstatus == pytest.ExitCode.TESTS_FAILED and not state.collected.hard_failures:
        # Every failure was a score below threshold, now a known failure of the baseline just written: accepted.
        session.exitstatus = pytest.ExitCode.OK


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    state: EvalSession = config.stash[STATE]
    results = state.run_results()
    for name, suite in results.suites.items():
        _write_suite_summary(terminalreporter, state, results, name, suite)
    failed = sorted(name for name, diff in state.diffs.items() if diff.failed)
    if failed and gate_enforced(state) and len(state.diffs) > 1:
        terminalreporter.write_line(f"evals: gate FAILED for suite{'s' if len(failed) > 1 else ''} {', '.join(failed)}",
                                    red=True, bold=True)
    if state.diffs and config.stash.get(BASELINE_NOTE, ""):
        terminalreporter.write_line(f"evals: {config.stash[BASELINE_NOTE]}")
    errors = unanswered(results)
    if errors:
        # Once for the session: every such case failed with its own line already.
        terminalreporter.write_line(f"evals: FAILED: {_cases(len(errors))} got no answer from the model service (errors, "
                                    f"kept out of the gate and the baseline); first: {errors[0].reason}", red=True, bold=True)
    if state.unused_summary():
        terminalreporter.write_line(state.unused_summary())
    if state.interrupted_at_end:
        done = "the switch had begun and was finished first" if state.changes.committed else "nothing written"
        terminalreporter.write_line(f"evals: interrupted while writing the session's files: {done}", red=True)


def _write_suite_summary(terminalreporter, state: EvalSession, results, name: str, suite) -> None:
    """A suite's lines: its scores, the cases kept out (contaminated, no model call), then its gate."""
    outcomes = suite.outcomes(results.min_passes)
    if not outcomes:
        return  # only a property test ran: its own failure line says what broke
    passed = sum(o.passed for o in outcomes.values())
    mean = sum(o.mean for o in outcomes.values()) / len(outcomes)
    repeats = f" × {results.repeats} repeats" if results.repeats > 1 else ""
    terminalreporter.write_line(
        f"evals {name}: {_cases(len(outcomes))}{repeats} ({suite.info.mode}), {passed} passed, mean score {mean:.3f} -> "
        f"{Path(state.settings.config.reports) / 'scores.md'}"
        + ("; baseline updated" if state.settings.update_baseline else "")
    )
    contaminated = sorted({r.task_id for r in suite.records if r.contaminated})
    if contaminated:
        terminalreporter.write_line(
            f"evals {name}: contaminated: {_cases(len(contaminated))} whose input appears in the prompt, kept out of "
            f"the gate ({', '.join(contaminated[:5])}{', …' if len(contaminated) > 5 else ''})", yellow=True)
    silent = without_model_calls(suite)
    if silent:
        kept_out = "; not accepted into the baseline" if state.settings.update_baseline else ""
        terminalreporter.write_line(
            f"evals {name}: {_cases(len(silent))} made no model call through the harness "
            f"({', '.join(silent[:5])}{', …' if len(silent) > 5 else ''}): if the agent calls a model, its requests "
            f"escaped; send them through the `client` argument or `prompt.base_url` (docs/capture.md){kept_out}",
            yellow=True)
    if name in state.previous_diffs and state.previous_diffs[name].verdict is not None:
        terminalreporter.write_line(f"evals {name}: against the replaced baseline: {state.previous_diffs[name].summary()}")
    diff = state.diffs.get(name)
    if diff is not None:
        _write_gate_line(terminalreporter, state, name, suite, diff)


def _write_gate_line(terminalreporter, state: EvalSession, name: str, suite, diff) -> None:
    """The suite's gate verdict, or why there is none (not enforced, or every case errored)."""
    if not gate_enforced(state):
        why = "a shard: the merge of all shards runs the gate" if state.settings.shard else "--update-baseline accepts this run"
        terminalreporter.write_line(f"evals {name}: gate not enforced ({why})")
        return
    # Errors have no score: no model answered (infra), or the case stopped first (a cassette miss, a timeout).
    errored = sum(r.error_kind in (INFRA, "harness") for r in suite.records)
    if not errored:
        terminalreporter.write_line(f"evals {name}: {diff.summary()}", red=diff.failed, bold=diff.failed)
    elif errored == len(suite.records):
        every = "its one case" if errored == 1 else f"every one of its {errored} cases"
        terminalreporter.write_line(f"evals {name}: gate not run: {every} errored (no score to compare)", red=True)
    else:
        were = "was" if errored == 1 else "were"
        terminalreporter.write_line(f"evals {name}: {diff.summary()}; {_cases(errored)} errored and {were} not "
                                    "compared", red=True, bold=diff.failed)


def unanswered(results) -> list:
    """Records of cases no model answered (infrastructure errors), in suite and task order."""
    return [r for suite in results.suites.values() for r in suite.records if r.error_kind == INFRA]


def _cases(count: int) -> str:
    return f"{count} case{'s' if count != 1 else ''}"


def gate_enforced(state: EvalSession) -> bool:
    return state.settings.shard is None and not state.settings.update_baseline


def accepted_baseline(old, results) -> dict:
    """This run as the baseline: the suites that ran are rewritten (keeping their cases that did not run), the rest kept."""
    suites = {}
    for name, suite in results.suites.items():
        entry = old.suite(name) if old else None
        meta = {**(entry.meta if entry else {}), **results.run_settings(suite),
                "min_passes": results.min_passes or results.repeats}
        threshold = meta.pop("threshold")
        # A case that made no model call says nothing about the prompt: its old entry (if any) stays.
        silent = set(without_model_calls(suite))
        outcomes = {task: o for task, o in suite.outcomes(results.min_passes).items() if task not in silent}
        suites[name] = updated_suite(entry, outcomes, threshold, meta)
    return updated_baseline(old, suites, results.properties)


def without_model_calls(suite) -> list[str]:
    """Task ids of a suite's cases that sent no model request through the harness (their calls, if any, escaped)."""
    return sorted({r.task_id for r in suite.records if r.model_calls == 0})
