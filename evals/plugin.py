"""The pytest face of the harness: options, the `eval_case` fixture, baseline xfails and the report.

Every case of a suite module (one that defines `SUITE`) runs in one concurrent
batch the first time a case is needed; each test then checks its own result.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.harness.backend import LLM_CHOICES
from evals.harness.baseline import updated_baseline, write_baseline
from evals.harness.cassette import RECORD_MODES
from evals.harness.errors import InputError
from evals.harness.record import record_case
from evals.harness.report import render_scores, write_report
from evals.harness.secrets import secrets_from_env
from evals.harness.task import Task
from evals.session import AdHocRunner, CaseBelowThreshold, CaseOutcome, EvalSession, RecordCollector

__all__ = ["CaseBelowThreshold"]  # suite tests that check results themselves raise it

STATE = pytest.StashKey["EvalSession"]()


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
            record = record_case(result, state.threshold, evaluation.describe, with_input=True)
            report.user_properties += [("eval_suite", suite_name), ("eval_minimal", record.to_json()),
                                       ("eval_info", evaluation.info().to_json())]
    return report


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
