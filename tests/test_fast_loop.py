"""The edit-test loop, `pytest -m "not slow"`: tests/conftest.py's SLOW list names real tests, and every package of
the harness and of this repo's suite is still imported by a test the loop runs."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"


def slow_list() -> dict[str, str]:
    """conftest.py's SLOW, from a fresh load of the file under another name: conftest is pytest's to import."""
    spec = importlib.util.spec_from_file_location("slow_list_of_conftest", TESTS / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SLOW


def all_test_files() -> dict[str, Path]:
    found = {path.name: path for path in [*TESTS.rglob("test_*.py"), *(REPO / "evals").glob("test_*.py")]}
    return found


def test_every_slow_entry_names_a_test_and_says_why():
    files = all_test_files()
    for key, why in slow_list().items():
        name, _, test = key.partition("::")
        assert name in files, f"tests/conftest.py SLOW names {name}, which no longer exists; update the list"
        if test:
            source = files[name].read_text(encoding="utf-8")
            assert re.search(rf"^(async )?def {re.escape(test)}\(", source, re.M), (
                f"tests/conftest.py SLOW names {key}, which no longer exists; update the list")
        assert len(why.split()) >= 3, f"SLOW[{key!r}] should say why it is slow"


def packages() -> list[str]:
    names = []
    for root in ("replaygate", "evals"):
        names += [f"{root}.{init.parent.name}" for init in sorted((REPO / root).glob("*/__init__.py"))]
    return names


def test_the_fast_loop_imports_every_package():
    slow_files = {key for key in slow_list() if "::" not in key}
    fast_sources = [path.read_text(encoding="utf-8") for name, path in all_test_files().items() if name not in slow_files]
    uncovered = [package for package in packages()
                 if not any(re.search(rf"\b{re.escape(package)}\b", source) for source in fast_sources)]
    assert packages() and not uncovered, f"no test outside the slow files imports {uncovered}"
