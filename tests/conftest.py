"""Shared test setup: the pytester fixture for running the plugin on throwaway projects, which tests are too slow
for the edit-test loop, and how many examples the property tests draw."""

import ast
import importlib
import pkgutil
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import _pytest._code.code as pytest_code
import pytest
from hypothesis import is_hypothesis_test, settings

pytest_plugins = ["pytester"]

TESTS = Path(__file__).parent

# The edit-test loop is `pytest -m "not slow"` (docs/index.md): every package still covered, in a fraction of the
# full run's time. Plain `pytest`, as CI runs it, runs these too. Keyed by file name (a file moved into a package folder
# keeps its mark) or `file::test`, each with why it is slow; tests/test_fast_loop.py fails on a key that names
# no test, and on a package no fast test imports. A new slow test may also carry @pytest.mark.slow itself.
SLOW = {
    "test_own_project.py": "pip-installs this repo into a fresh venv, then runs pytest on a project in subprocesses",
    "test_workflow.py": "runs the CI workflow's commands (two pytest shards, the merge) in subprocesses on a git copy",
    "test_interrupt.py": "sends SIGINT to pytest subprocesses at each stage of recording and of --optimize",
    "test_plugin_xdist.py": "runs pytest -n 2 and sharded runs in subprocesses against a serial run",
    "test_bad_input_table.py": "about 170 pytester runs, one per bad input, some under -n 2 (20 s)",
    "test_startup.py": "fresh interpreters record and replay a suite to see what each step imports",
    "test_optimize_prompt_defects.py": "whole --optimize runs of each strategy against the simulator",
    "test_infra_failures.py::test_no_model_answering_fails_the_run_in_seconds_with_one_line":
        "timed pytest subprocesses against closed and silent ports",
    "test_infra_failures.py::test_content_faults_of_the_model_stay_scored":
        "shares those pytest subprocesses (the module's `runs` fixture)",
    "test_optimize_contamination.py::"
    "test_two_chained_evo_runs_show_no_held_out_task_to_the_optimizer_and_the_report_flags_the_example":
        "two whole evo runs, one after the other",
    "test_unused_cassettes.py::test_optimize_deletes_unused_cassettes_in_the_same_switch":
        "a whole --optimize session with its re-record, in pytester",
    "test_optimize_plugin.py::test_optimize_writes_back_records_and_the_next_plain_run_replays_green":
        "a whole --optimize session, then a replay of what it recorded",
    # Whole --optimize runs, which the tests of one module fixture share: deselect all of them or the run still pays.
    **{f"test_optimize_run.py::{test}": "a whole --optimize run against the simulator (alone or the module's `first`)"
       for test in ("test_an_accepted_candidate_is_written_back_with_its_history",
                    "test_the_search_spends_within_budget_never_twice_and_reports_progress",
                    "test_critics_and_editors_see_only_train_tasks",
                    "test_a_rerun_with_the_same_seed_reproduces_the_prompt_from_its_cache",
                    "test_a_rejected_candidate_leaves_prompts_untouched")},
    **{f"test_optimize_evo.py::{test}": "share a whole heuristic-only evo run (the module's `heuristic` fixture)"
       for test in ("test_heuristic_operators_alone_improve_the_prompt_without_optimizer_calls",
                    "test_evo_writes_best_prompt_variants_with_lineage_and_summary",
                    "test_the_same_seed_gives_the_same_prompt_and_a_warm_cache_costs_nothing")},
    "test_optimize_contamination.py::test_the_gate_s_verdict_recomputes_from_the_optimization_json_alone":
        "a whole --optimize run per strategy",
    "test_plugin_suites_many.py::test_shards_and_their_merge_equal_a_serial_run_with_two_suites":
        "a serial session, two shard sessions and their merge, in pytester",
    "test_endpoint_suite.py::test_an_agent_configured_by_url_records_and_replays_like_the_handed_client":
        "records, then replays, a suite for each kind of URL-configured agent",
    "test_streaming.py::test_a_solver_gets_the_first_event_through_the_harness_while_the_rest_is_still_coming":
        "eight paced streams of 16 events 20 ms apart: wall-clock time by design",
    **{test: "three or more pytest sessions in one test: record, replay, then a changed run"
       for test in ("test_plugin_suite.py::test_a_new_case_without_a_cassette_asks_for_record_mode_once",
                    "test_plugin_suite.py::test_baseline_turns_known_failures_into_xfail_and_regressions_into_failures",
                    "test_plugin_suite.py::test_a_cassette_miss_on_a_known_failure_still_fails",
                    "test_plugin_suite.py::test_repeats_record_a_cassette_each_and_replay_with_k_of_n",
                    "test_capture_plugin.py::test_an_escape_fails_its_case_with_one_line_and_the_guard_can_be_turned_off")},
    "test_mermaid_check.py::test_the_reports_charts_render_and_a_parse_error_fails":
        "renders charts in headless Chromium, where one and a prepared mermaid are installed",
    "test_mermaid_check.py::test_every_mermaid_block_of_the_committed_reports_renders":
        "renders every committed chart in headless Chromium, once per theme",
    "test_report_page_browser.py": "opens the report pages in headless Chromium through chromedriver",
    "test_report_page.py::test_every_run_that_writes_scores_md_writes_the_same_page":
        "runs pytest on a copy of the room suite twice, in subprocesses",
}
# A plain run draws this share of each property test's examples, never fewer than FEWEST (nor more than it
# asks for); .ci/run's exploration step (profile `explore`) draws them all, on a fresh seed, for each of them.
EXAMPLE_SHARE = 4
FEWEST_EXAMPLES = 10
# The edit-test loop's profile (`--hypothesis-profile=fast`, docs/index.md): the loaded profile's settings, a
# smaller share of the examples. Never what CI draws: CI loads `ci`, then `explore`.
FAST_SHARE, FAST_FEWEST = 10, 3
settings.register_profile("fast", settings())

# What an in-process run of the plugin imports: the harness, the room suite and the simulator.
IN_PROCESS_PACKAGES = ("replaygate", "evals.rooms", "evals.sim")


@pytest.fixture(scope="session")
def _imported_once() -> None:
    """Import the harness, the suite and the SDK before any pytester snapshot of sys.modules.

    pytester drops every module first imported during an in-process run when the run ends, so what the
    harness imports lazily (the OpenAI SDK among it) would be imported afresh by every run: seconds each. So
    would every installed pytest plugin a run loads (langsmith's, from the test extra, takes two seconds).
    """
    importlib.import_module("openai")
    for plugin in entry_points(group="pytest11"):
        importlib.import_module(plugin.module)
    for name in IN_PROCESS_PACKAGES:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, f"{name}."):
            if not module.name.rsplit(".", 1)[-1].startswith(("__main__", "test_")):
                importlib.import_module(module.name)


@pytest.fixture(scope="session")
def _tracebacks_parse_each_file_once() -> Iterator[None]:
    """Parse each source file of a traceback once per session, not once per traceback entry and run.

    An in-process run that stops on a collection error formats the full traceback of pytest's own
    Interrupted (its terminal reporter keeps it), parsing pytest's and pluggy's largest modules anew each
    time: a fifth of a second per bad-input row. The parse is cached by the file's text, so it is exact.
    """
    # A private pytest function, patched on purpose: pytest offers no hook or option to cache this parse. The
    # wrapper returns what the original returns (it calls it), so tracebacks are unchanged; on a pytest without
    # the function nothing is patched and the bad-input rows are only slower.
    parse = getattr(pytest_code, "getstatementrange_ast", None)
    if parse is None:  # another pytest: nothing to speed up
        yield
        return
    trees: dict[str, ast.AST] = {}

    def statement_range(lineno: int, source, assertion: bool = False, astnode: ast.AST | None = None):
        if astnode is None:
            text = str(source)
            astnode = trees.get(text)
            if astnode is None:
                astnode, start, end = parse(lineno, source, assertion)
                trees[text] = astnode
                return astnode, start, end
        return parse(lineno, source, assertion, astnode)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pytest_code, "getstatementrange_ast", statement_range)
        yield


@pytest.fixture
def pytester(_imported_once, _tracebacks_parse_each_file_once, pytester: pytest.Pytester) -> pytest.Pytester:
    """pytester, with the modules its in-process runs use imported once per session, not once per run."""
    return pytester


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_slow(items)
    draw_a_share_of_examples(items)


def mark_slow(items: list[pytest.Item]) -> None:
    """Mark the tests SLOW lists, with its reason, so `-m "not slow"` leaves them out."""
    for item in items:
        name = getattr(item, "originalname", item.name)
        why = SLOW.get(item.path.name) or SLOW.get(f"{item.path.name}::{name}")
        if why:
            item.add_marker(pytest.mark.slow(reason=why))


def draw_a_share_of_examples(items: list[pytest.Item]) -> None:
    """Outside the exploration profile, each property test under tests/ draws a share of its examples (a smaller one
    under the edit-test loop's profile `fast`).

    evals/ is left alone: its property tests replay cassettes recorded for exactly the examples they draw.
    """
    profile = settings.get_current_profile_name()
    if profile == "explore":
        return
    share, fewest = (FAST_SHARE, FAST_FEWEST) if profile == "fast" else (EXAMPLE_SHARE, FEWEST_EXAMPLES)
    tests = {getattr(item.obj, "__func__", item.obj) for item in items
             if isinstance(item, pytest.Function) and item.path.is_relative_to(TESTS)}
    for function in tests:
        if not is_hypothesis_test(function):
            continue
        # A private attribute, on purpose: Hypothesis has no public way to read or scale the settings a test
        # gave itself. A profile (settings.register_profile) only sets the default that a test's own
        # @settings(max_examples=N) overrides, and some 40 tests here state N, so a profile would draw other
        # numbers than this share of each test's own. @given keeps the test's settings in this attribute
        # (Hypothesis is pinned in pyproject.toml); a test without its own gets the loaded profile's.
        chosen = getattr(function, "_hypothesis_internal_use_settings", None)
        if chosen is None:
            raise pytest.UsageError(
                f"tests/conftest.py: this Hypothesis ({function.__module__}.{function.__name__}) keeps no "
                "_hypothesis_internal_use_settings; update draw_a_share_of_examples for the pinned version")
        fewer = min(chosen.max_examples, max(fewest, chosen.max_examples // share))
        function._hypothesis_internal_use_settings = settings(chosen, max_examples=fewer)
