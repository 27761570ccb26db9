"""`read_session_settings` from plain values: no pytest session, just a mapping of options, an ini value and a root."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from replaygate.core.errors import InputError
from replaygate.results.session_settings import SessionSettings, read_session_settings, session_backend

PYPROJECT = """[tool.replaygate]
tasks = "data/tasks.jsonl"
baseline = "out/baseline.json"
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    return tmp_path


def read(root: Path, threshold=0.8, inipath="pyproject.toml", environ=None, **options) -> SessionSettings:
    return read_session_settings(options, threshold, inipath, root, environ or {})


def error(root: Path, threshold=0.8, **options) -> str:
    with pytest.raises(InputError) as caught:
        read(root, threshold, **options)
    return str(caught.value)


def test_defaults(root):
    settings = read(root, environ={"HOME": "/nowhere"})
    assert settings.root == root and settings.pyproject == root / "pyproject.toml"
    assert settings.record_mode == "none" and settings.llm is None and not settings.update_baseline
    assert (settings.repeats, settings.min_passes, settings.shard, settings.results_json) == (1, None, None, None)
    assert math.isclose(settings.threshold, 0.8)
    assert math.isclose(settings.gate.max_regression, 0.02) and math.isclose(settings.gate.alpha, 0.05)
    assert settings.baseline_path == root / "out" / "baseline.json" == settings.gate_baseline_path
    assert not (settings.baseline_given or settings.tasks_given or settings.prompt_given or settings.optimizing)
    assert settings.overrides == {} and settings.environ == {"HOME": "/nowhere"}
    assert settings.config.tasks == "data/tasks.jsonl"


def test_the_settings_are_frozen(root):
    settings = read(root)
    with pytest.raises(AttributeError):
        settings.update_baseline = True  # type: ignore[misc]


def test_each_option_overrides_its_default(root):
    (root / "base.json").write_text("{}", encoding="utf-8")
    settings = read(
        root, 0.5, eval_set=["models.agent=gpt-x"], eval_tasks="other.jsonl", eval_prompt="p.md", eval_concurrency=3,
        eval_max_turns=4, eval_record_mode="new_episodes", update_baseline=True, eval_repeat=3, eval_min_passes=2,
        eval_max_regression=0.1, eval_alpha=0.01, eval_shard="2/3", eval_results_json="r.json", llm="sim",
        eval_baseline=str(root / "base.json"), optimize="apo",
    )
    assert settings.overrides == {"models.agent": "gpt-x", "tasks": "other.jsonl", "prompt": "p.md", "concurrency": 3,
                                  "max_turns": 4}
    assert settings.override_sources["tasks"] == "--tasks other.jsonl"
    assert settings.config.tasks == "other.jsonl" and settings.config.max_turns == 4
    assert (settings.record_mode, settings.llm, settings.results_json) == ("new_episodes", "sim", "r.json")
    assert settings.update_baseline and settings.tasks_given and settings.prompt_given and settings.optimizing
    assert (settings.repeats, settings.min_passes, settings.shard) == (3, 2, (2, 3))
    assert math.isclose(settings.threshold, 0.5)
    assert math.isclose(settings.gate.max_regression, 0.1) and math.isclose(settings.gate.alpha, 0.01)
    assert settings.baseline_given and settings.gate_baseline_path == root / "base.json"
    assert settings.baseline_path == root / "out" / "baseline.json"


@pytest.mark.parametrize("options, threshold, line", [
    ({"eval_set": ["nokey"]}, 0.8, "--set nokey: expected KEY=VALUE, e.g. --set models.agent=gpt-4.1-mini"),
    ({"eval_concurrency": 0}, 0.8, "--concurrency 0: must be 1 or more; pass a positive whole number"),
    ({"eval_repeat": 0}, 0.8, "--repeat 0: must be 1 or more; pass how many times to run each case"),
    ({"eval_repeat": 2, "eval_min_passes": 3}, 0.8, "--min-passes 3: must be between 1 and --repeat (2)"),
    ({"eval_alpha": 1.0}, 0.8, "--alpha 1: the significance level must lie strictly between 0 and 1; pass e.g. --alpha 0.05"),
    ({}, 1.5, "pyproject.toml: eval_pass_threshold: 1.5 is not a score between 0 and 1; set it to a score between 0 and 1, "
              "e.g. eval_pass_threshold = 0.8 in [tool.pytest.ini_options]"),
    ({"override_ini": ["eval_pass_threshold=high"]}, None,
     "-o eval_pass_threshold=high: not a number; set it to a score between 0 and 1, e.g. eval_pass_threshold = 0.8 in "
     "[tool.pytest.ini_options]"),
])
def test_a_bad_value_gives_its_one_line(root, options, threshold, line):
    assert error(root, threshold, **options) == line


def test_a_missing_given_baseline_names_the_fix(root):
    line = error(root, eval_baseline=str(root / "none.json"))
    assert line.startswith(f"--baseline {root / 'none.json'}: no such file;") and "\n" not in line
    assert read(root, eval_baseline=str(root / "none.json"), eval_baseline_optional=True).baseline_given


def test_a_bad_pyproject_value_is_one_line(root):
    (root / "pyproject.toml").write_text('[tool.replaygate]\nmax_turns = "many"\n', encoding="utf-8")
    line = error(root)
    assert "max_turns" in line and "\n" not in line


def test_the_backend_is_resolved_one_way_for_a_run_and_for_the_search(root):
    replay = session_backend(read(root), recording=False)
    assert replay.kind == "replay"
    live = session_backend(read(root, environ={}), recording=True, optimizer=True)  # no --llm: auto, no credentials
    assert live.is_simulator


def test_the_settings_module_does_not_load_pytest():
    code = ("import sys, replaygate.results.session_settings; "
            "sys.exit(1 if 'pytest' in sys.modules or '_pytest' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1]).returncode == 0
