"""The layering the design promises, checked on the import statements of every module.

- The harness (`replaygate`) knows no suite: no `evals` import, no room word in its code.
- Its core works without pytest: only `replaygate.plugin` imports pytest.
- The room suite and its tests use the public API only (`replaygate`, `replaygate.graders`, `replaygate.double`).
- The room simulator knows neither the harness nor the room domain.
- The harness's packages form layers that import only downwards (LAYERS, bottom first).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "replaygate"
EVALS = REPO / "evals"
PUBLIC = ("replaygate", "replaygate.graders", "replaygate.double")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def offenders(paths, forbidden) -> list[str]:
    return sorted(
        f"{path.relative_to(REPO)} imports {name}"
        for path in paths
        for name in imported_modules(path)
        if any(name == prefix or name.startswith(prefix + ".") for prefix in forbidden)
    )


def modules(folder: Path, *, skip: str | None = None) -> list[Path]:
    return [p for p in sorted(folder.rglob("*.py")) if skip is None or skip not in p.relative_to(folder).parts]


def test_the_harness_imports_no_suite():
    assert offenders(modules(HARNESS), ("evals",)) == []


def test_the_harness_core_works_without_pytest():
    assert offenders(modules(HARNESS, skip="plugin"), ("pytest", "_pytest", "hypothesis", "xdist")) == []


def test_the_harness_code_names_no_room_concept():
    """Identifiers and strings of the harness: no rooms, no choice of one (comments may cite Agent Lightning)."""
    found = []
    for path in modules(HARNESS):
        for token in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
            if token.type in (tokenize.NAME, tokenize.STRING) and re.search(r"room|exact_choice", token.string, re.I):
                if token.type == tokenize.STRING and token.string.lstrip("rbuf").startswith(('"""', "'''")):
                    continue  # a docstring may say where a design came from
                found.append(f"{path.relative_to(REPO)}:{token.start[0]}: {token.string[:60]}")
    assert found == []


@pytest.mark.parametrize("paths", [
    pytest.param(modules(EVALS / "rooms"), id="rooms"),
    pytest.param(sorted(EVALS.glob("test_*.py")), id="suite tests"),
])
def test_the_room_suite_uses_the_public_api_only(paths):
    private = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in paths
        for name in imported_modules(path)
        if name.startswith("replaygate") and name not in PUBLIC
    ]
    assert private == []


def test_the_simulator_knows_neither_harness_nor_domain():
    assert offenders(modules(EVALS / "sim"), ("replaygate", "evals.rooms", "pytest", "_pytest")) == []


def test_there_is_no_grab_bag_module():
    grab_bags = [p for p in [*HARNESS.rglob("*.py"), *EVALS.rglob("*.py")]
                 if p.stem in {"utils", "helpers", "misc", "common", "manager"}]
    assert grab_bags == []


def test_no_two_harness_modules_share_a_name():
    """`gate`, `judge`, `report`... each names one module, so a name in a traceback or a doc points to one file."""
    by_name: dict[str, list[str]] = {}
    for path in modules(HARNESS):
        if path.name != "__init__.py":
            by_name.setdefault(path.stem, []).append(str(path.relative_to(HARNESS)))
    assert {name: paths for name, paths in by_name.items() if len(paths) > 1} == {}


def test_the_plugin_is_registered_through_pytest11():
    import tomllib

    entry_points = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["entry-points"]["pytest11"]
    assert set(entry_points.values()) == {"replaygate.plugin.cases", "replaygate.plugin.optimize"}
    assert "pytest_plugins" not in (REPO / "conftest.py").read_text(encoding="utf-8")


# Bottom first. A package may import its own layer and those below, never one above: types, then the model wire,
# recording, capture, the run that wires them together, graders, results, optimization, and pytest's face on top.
LAYERS = (
    ("core",),  # tasks, rollouts, scores, prompts, settings, errors, atomic writes
    ("llm", "double"),  # the model wire and the in-process doubles that speak it
    ("cassettes",),
    ("capture",),
    ("run",),
    ("graders",),
    ("results",),
    ("optimize",),
    ("plugin",),
)


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "replaygate" or len(parts) < 2:
        return None
    return next((index for index, packages in enumerate(LAYERS) if parts[1] in packages), None)


def test_every_package_of_the_harness_has_a_layer():
    packages = {p.name for p in HARNESS.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert packages == {name for layer in LAYERS for name in layer}


def test_imports_only_run_down_the_layers():
    upward = []
    for path in modules(HARNESS):
        own = layer_of(".".join(path.relative_to(REPO).with_suffix("").parts))
        for name in imported_modules(path):
            other = layer_of(name)
            if own is not None and other is not None and other > own:
                upward.append(f"{path.relative_to(REPO)} ({'/'.join(LAYERS[own])}) imports {name} "
                              f"({'/'.join(LAYERS[other])})")
    assert upward == []
