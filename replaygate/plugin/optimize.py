"""`pytest --optimize[=apo|evo]`: search for a better prompt before the suite runs, like syrupy's --snapshot-update.

The search runs once collection is done, against a live model (the simulator when no
credentials are set). When the holdout gate accepts a candidate, the session records the
cases under the new prompt and rewrites the baseline; otherwise it replays as usual. Prompt,
history, cassettes, baseline and reports are staged and switched in together when the session
ends (`replaygate.core.changeset`); a session stopped before then writes none of them. The
work itself is `replaygate.optimize.run.optimize`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from replaygate.core.changeset import checkpoint
from replaygate.core.errors import InputError
from replaygate.optimize.settings import STRATEGIES, load_settings
from replaygate.plugin.session import suite_of
from replaygate.plugin.cases import STATE, CaseBelowThreshold

if TYPE_CHECKING:
    from replaygate.optimize.run import OptimizationRun

RUNS = pytest.StashKey["list[OptimizationRun]"]()
RERECORDING = pytest.StashKey[bool]()
ABANDONED = pytest.StashKey[str]()  # why the session's write-back was dropped


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("evals-optimize", "prompt optimization")
    group.addoption("--optimize", nargs="?", const="apo", default=None, choices=STRATEGIES,
                    help="improve the suite's prompt before running it: apo (default) or evo; writes prompts/ only "
                         "through the holdout gate")
    group.addoption("--optimize-budget", type=int, default=None, metavar="ROLLOUTS",
                    help="rollouts the search may spend, the holdout gate included (default [tool.replaygate.optimize] budget)")
    group.addoption("--optimize-seed", type=int, default=None, help="seed of the search (default [tool.replaygate.optimize] seed)")


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("optimize"):
        return
    if getattr(config.option, "numprocesses", None) or hasattr(config, "workerinput"):
        raise pytest.UsageError("--optimize runs in one process; drop -n/--numprocesses")
    budget = config.getoption("optimize_budget")
    if budget is not None and budget < 1:
        raise pytest.UsageError(f"--optimize-budget {budget}: must be 1 or more rollouts")
    config.stash[RUNS] = []


def _settings(config: pytest.Config, state):
    raw = dict(state.settings.config.optimize)
    raw["strategy"] = config.getoption("optimize")
    for option, key in (("optimize_budget", "budget"), ("optimize_seed", "seed")):
        if config.getoption(option) is not None:
            raw[key] = config.getoption(option)
    return load_settings(raw, str(state.settings.pyproject))


def _suites(items: list[pytest.Item]) -> list:
    found = {}
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        suite = suite_of(item) if "eval_case" in params else None
        if suite is not None:
            found.setdefault(suite.name, suite)
    return list(found.values())


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("optimize"):
        return
    if session.testsfailed and not config.getoption("continue_on_collection_errors"):
        return  # a collection error (a bad tasks file, an unwritable prompt) stops the session: its line stands, nothing is paid
    state = config.stash[STATE]
    reporter = config.pluginmanager.get_plugin("terminalreporter")

    def say(line: str) -> None:
        if reporter is not None:
            reporter.write_line(line)

    settings, backend = _settings_and_backend(config, state)
    suites = _suites(items)
    if not suites:
        raise pytest.UsageError("--optimize: no suite was collected (no test uses eval_case); select a suite module")
    say("")
    if backend.is_simulator:
        say("optimize: no credentials found (or --llm=sim): the agent, critic and editor are each suite's "
            "offline test double, not a real model")
    _optimize_suites(config, state, suites, settings, backend, say)
    if not config.stash[RUNS]:
        raise pytest.UsageError("--optimize: no selected suite could be optimized (see the lines above); select one with a path or -k")
    if not any(run.written for run in config.stash[RUNS]):
        return  # nothing changed: the session replays the committed cassettes as usual
    checkpoint("gate")
    _rerecord_under_new_prompt(config, state, items, backend)


def _settings_and_backend(config: pytest.Config, state):
    """The search's settings and the live backend it runs against; bad input is a usage error."""
    try:
        settings = _settings(config, state)
    except InputError as exc:
        raise pytest.UsageError(str(exc)) from None
    return settings, state.backend_for_optimizing()


def _optimize_suites(config: pytest.Config, state, suites: list, settings, backend, say) -> None:
    """Run the search on each suite in turn, keeping each finished run in `config.stash[RUNS]`."""
    from replaygate.optimize.run import optimize  # the optimizer loads only when --optimize runs

    for suite in suites:
        say(f"optimize {settings.strategy} {suite.name}: budget {settings.budget} rollouts, seed {settings.seed}, "
            f"via {backend.label}")
        try:
            run = optimize(suite, state.suite_config(suite), state.settings.root, backend, settings, state.settings.environ,
                           progress=lambda line, name=suite.name: say(f"optimize {name}: {line}"), changes=state.changes)
        except (InputError, ValueError) as exc:
            if len(suites) == 1:
                raise pytest.UsageError(f"--optimize: {exc}") from None
            # One suite that cannot be optimized (too few tasks, say) does not stop the others.
            say(f"optimize {suite.name}: skipped: {exc}")
            continue
        config.stash[RUNS].append(run)


def _rerecord_under_new_prompt(config: pytest.Config, state, items: list[pytest.Item], backend) -> None:
    """The prompt changed: record its cassettes and make its scores the new baseline (--snapshot-update),
    all staged beside the new prompt until the session ends."""
    state.switch_to_recording(backend, "all", staged=True, update_baseline=True)
    config.stash[RERECORDING] = True
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "eval_case" in params or item.get_closest_marker("eval_property"):
            # The old baseline's known failures are about the old prompt; this run records the new one's.
            item.own_markers[:] = [m for m in item.own_markers if m.name != "xfail"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if (call.when == "call" and report.failed and item.config.stash.get(RERECORDING, False)
            and call.excinfo is not None and call.excinfo.errisinstance(CaseBelowThreshold)):
        # Like a snapshot update: a case the new prompt still fails becomes a known failure of the new baseline.
        report.outcome = "skipped"
        report.wasxfail = "below threshold under the new prompt; recorded in the new baseline as a known failure"
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A session stopped before its end writes nothing: a new prompt without all its cassettes is no set."""
    config = session.config
    if not config.getoption("optimize"):
        return
    state, rerecording = config.stash[STATE], config.stash.get(RERECORDING, False)
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        why = "interrupted"
    elif rerecording and (session.shouldfail or session.shouldstop):
        why = f"stopped before every case was re-recorded ({session.shouldfail or session.shouldstop})"
    elif rerecording and (unrecorded := _unrecorded(state)):
        why = (f"left without a recording for {len(unrecorded)} case{'s' if len(unrecorded) > 1 else ''} "
               f"(first: {unrecorded[0]}; see its failure above)")
    else:
        return
    state.changes.discard()
    config.stash[ABANDONED] = why


def _unrecorded(state) -> list[str]:
    """Cases whose committed cassette the re-record did not replace (their requests failed): old and new would mix."""
    missing = []
    for name, by_task in state.results.items():
        evaluation = state.evaluations[name]
        folder = evaluation.config.resolve(state.settings.root, evaluation.config.cassettes)
        for results in by_task.values():
            for result in results:
                staged = folder / evaluation.case_key(result.task, result.repeat).relpath
                if not staged.is_file() and state.changes.target_of(staged).is_file():
                    missing.append(result.task.id)
    return missing


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    for run in config.stash.get(RUNS, []):
        doc = run.document
        budget = doc["budget"]
        before = doc["incumbent"]["splits"]["holdout"]["score"]
        after = doc["best"]["splits"]["holdout"]["score"]
        if run.written and not config.stash[STATE].changes.committed:
            verdict = f"prompt {doc['incumbent']['version']} -> {doc['best']['version']} accepted, not written"
        elif run.written:
            verdict = f"prompt {doc['incumbent']['version']} -> {doc['best']['version']} written back"
        else:
            verdict = f"prompt {doc['incumbent']['version']} kept"
        holdout = f"holdout {before:.3f} -> {after:.3f}" if before is not None and after is not None else doc["stopped"]
        # The gate's own words (gain, p, n and the margin), so a kept prompt says why without opening the report.
        gate = doc["gate"]["summary"] if doc.get("gate") else holdout
        terminalreporter.write_line(
            f"optimize {doc['strategy']} {doc['suite']}: {verdict} ({gate}); {budget['used']}/{budget['rollouts']} "
            f"rollouts, {budget['optimizer_calls']} optimizer calls; {run.report_path}"
        )
    if ABANDONED in config.stash:
        terminalreporter.write_line(f"optimize: the session was {config.stash[ABANDONED]}: nothing written (prompt, "
                                    "history, cassettes, baseline and reports are as they were); run pytest --optimize again",
                                    red=True)
