"""Shared test setup: the pytester fixture for running the plugin on throwaway projects, and how many examples
the property tests draw."""

import ast
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import _pytest._code.code as pytest_code
import pytest
from hypothesis import settings

pytest_plugins = ["pytester"]

TESTS = Path(__file__).parent
# A plain run draws this share of each property test's examples, never fewer than FEWEST (nor more than it
# asks for); .ci/run's exploration step (profile `explore`) draws them all, on a fresh seed, for each of them.
EXAMPLE_SHARE = 4
FEWEST_EXAMPLES = 10

# What an in-process run of the plugin imports: the harness, the room suite and the simulator.
IN_PROCESS_PACKAGES = ("replaygate", "evals.rooms", "evals.sim")


@pytest.fixture(scope="session")
def _imported_once() -> None:
    """Import the harness, the suite and the SDK before any pytester snapshot of sys.modules.

    pytester drops every module first imported during an in-process run when the run ends, so what the
    harness imports lazily (the OpenAI SDK among it) would be imported afresh by every run: seconds each.
    """
    importlib.import_module("openai")
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
    """Outside the exploration profile, each property test under tests/ draws a share of its examples.

    evals/ is left alone: its property tests replay cassettes recorded for exactly the examples they draw.
    """
    if settings.get_current_profile_name() == "explore":
        return
    tests = {getattr(item.obj, "__func__", item.obj) for item in items
             if isinstance(item, pytest.Function) and item.path.is_relative_to(TESTS)}
    for function in tests:
        if not getattr(function, "is_hypothesis_test", False):
            continue
        # Where @given keeps the test's settings (Hypothesis is pinned); a test without its own uses the profile's.
        chosen = function._hypothesis_internal_use_settings
        fewer = min(chosen.max_examples, max(FEWEST_EXAMPLES, chosen.max_examples // EXAMPLE_SHARE))
        function._hypothesis_internal_use_settings = settings(chosen, max_examples=fewer)
