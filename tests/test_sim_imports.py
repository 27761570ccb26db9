"""evals.sim stays independent: no module in it imports another evals package."""

from __future__ import annotations

import ast
from pathlib import Path

import evals.sim

PACKAGE = Path(evals.sim.__file__).resolve().parent


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.append(node.module or "")
            elif node.level == 1:
                found.append("evals.sim" + (f".{node.module}" if node.module else ""))
            else:
                # ".." and above climb out of evals.sim into its siblings.
                found.append("evals" + (f".{node.module}" if node.module else "") + " (relative)")
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in {"import_module", "__import__"} and isinstance(node.args[0].value, str):
                found.append(node.args[0].value)
    return found


def _outside_sim(module: str) -> bool:
    return (module == "evals" or module.startswith("evals.") or module.startswith("evals ")) and not (
        module == "evals.sim" or module.startswith("evals.sim.")
    )


def test_scanner_catches_forbidden_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import evals.harness\nfrom evals.rooms import world\nfrom .. import harness\n"
        "import importlib\nimportlib.import_module('evals.rooms.data')\nfrom . import draw\n",
        encoding="utf-8",
    )
    bad = [m for m in _imported_modules(sample) if _outside_sim(m)]
    assert bad == ["evals.harness", "evals.rooms", "evals (relative)", "evals.rooms.data"]


def test_no_sim_module_imports_other_evals_packages():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) >= 10
    offenders = {str(f.relative_to(PACKAGE)): bad for f in files if (bad := [m for m in _imported_modules(f) if _outside_sim(m)])}
    assert offenders == {}
