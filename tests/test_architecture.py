"""The layering the design promises: the core knows no rooms and no pytest; the domain knows no pytest."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

EVALS = Path(__file__).resolve().parents[1] / "evals"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


LAYERS = [
    # (package, module prefixes it must never import)
    ("harness", ("evals.rooms", "replaygate.plugin.suite", "replaygate.plugin.session", "pytest", "_pytest", "hypothesis")),
    ("rooms", ("replaygate.plugin.suite", "replaygate.plugin.session", "evals.sim", "pytest", "_pytest")),
    ("optimize", ("evals.rooms", "evals.sim", "replaygate.plugin.suite", "replaygate.plugin.session", "pytest", "_pytest", "hypothesis")),
    ("sim", ("evals.harness", "evals.rooms", "replaygate.plugin.suite", "replaygate.plugin.session", "pytest", "_pytest")),
]


@pytest.mark.parametrize("package, forbidden", LAYERS, ids=[layer[0] for layer in LAYERS])
def test_package_stays_in_its_layer(package, forbidden):
    offenders = {
        f"{path.relative_to(EVALS.parent)} imports {name}"
        for path in sorted((EVALS / package).rglob("*.py"))
        for name in imported_modules(path)
        if any(name == prefix or name.startswith(prefix + ".") for prefix in forbidden)
    }
    assert not offenders, sorted(offenders)


def test_there_is_no_grab_bag_module():
    grab_bags = [p for p in EVALS.rglob("*.py") if p.stem in {"utils", "helpers", "misc", "common", "manager"}]
    assert grab_bags == []
