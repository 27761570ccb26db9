"""Settings: `[tool.replaygate]` defaults, the file, `--set` overrides, validation and env overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from replaygate.core.config import ConfigError, EvalConfig, apply_overrides, load_config
from replaygate.core.errors import InputError

PYPROJECT = """
[project]
name = "demo"

[tool.replaygate]
tasks = "data/tasks.jsonl"
prompt = "prompts/p.md"
rooms = "data/rooms.json"
max_turns = 3
concurrency = 4
temperature = 0.5

[tool.replaygate.models]
agent = "gpt-4.1-mini"
judge = "gpt-4.1"

[tool.replaygate.graders]
exact_choice = 0.6
judge = 0.4
"""


@pytest.fixture(autouse=True)
def no_model_env(monkeypatch):
    monkeypatch.delenv("EVALS_AGENT_MODEL", raising=False)
    monkeypatch.delenv("EVALS_JUDGE_MODEL", raising=False)


@pytest.fixture
def pyproject(tmp_path) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(PYPROJECT, encoding="utf-8")
    return path


def test_defaults_without_a_file():
    config = load_config(None)
    assert config.tasks == "tasks.jsonl"
    assert config.prompt == "prompts/agent.md"
    assert config.judge_prompt == "prompts/judge.md"
    assert config.cassettes == "cassettes"
    assert config.reports == "reports"
    assert config.baseline == "reports/baseline.json"
    assert (config.max_turns, config.concurrency, config.seed) == (2, 8, 0)
    assert config.temperature == 0.0
    assert config.timeout_s == 60.0
    assert config.secret_env == ["OPENAI_API_KEY", "AZURE_OPENAI_API_KEY"]
    assert config.graders == {}  # every grader of the suite counts equally
    assert config.model_for("agent") == config.model_for("judge") == "sim-standin-1"
    assert config.azure.agent_deployment == "" and config.azure.judge_deployment == ""
    assert config.extras == {}


def test_defaults_when_the_file_or_the_table_is_absent(tmp_path):
    assert load_config(tmp_path / "missing.toml") == load_config(None)
    other = tmp_path / "pyproject.toml"
    other.write_text('[project]\nname = "x"\n', encoding="utf-8")
    assert load_config(other) == load_config(None)


def test_default_lists_are_not_shared_between_configs():
    a, b = load_config(None), load_config(None)
    a.secret_env.append("X")
    a.graders["judge"] = 1.0
    assert b.secret_env == ["OPENAI_API_KEY", "AZURE_OPENAI_API_KEY"]
    assert b.graders == {}


def test_reads_tool_evals_from_pyproject(pyproject):
    config = load_config(pyproject)
    assert config.tasks == "data/tasks.jsonl"
    assert config.prompt == "prompts/p.md"
    assert (config.max_turns, config.concurrency, config.temperature) == (3, 4, 0.5)
    assert config.model_for("agent") == "gpt-4.1-mini"
    assert config.model_for("judge") == "gpt-4.1"
    assert config.graders == {"exact_choice": 0.6, "judge": 0.4}
    # Keys the harness does not know are kept for the suite to check.
    assert config.extras == {"rooms": "data/rooms.json"}


def test_set_overrides_with_dotted_keys_and_toml_values(pyproject):
    config = load_config(
        pyproject,
        {
            "models.agent": "gpt-4o",
            "max_turns": "5",
            "temperature": "0.25",
            "graders.judge": "0",
            "secret_env": '["MY_KEY"]',
            "prompt": "prompts/other.md",
            "tasks": "a b.jsonl",
        },
    )
    assert config.model_for("agent") == "gpt-4o"
    assert config.model_for("judge") == "gpt-4.1"  # the sibling key in the same table is kept
    assert config.max_turns == 5 and isinstance(config.max_turns, int)
    assert config.temperature == 0.25
    assert config.graders == {"exact_choice": 0.6, "judge": 0}
    assert config.secret_env == ["MY_KEY"]
    assert config.prompt == "prompts/other.md"  # not TOML: taken as a plain string
    assert config.tasks == "a b.jsonl"


def test_set_creates_missing_tables_and_plugin_style_typed_values():
    config = load_config(None, {"azure.agent_deployment": "my-deploy", "concurrency": 3})
    assert config.azure.agent_deployment == "my-deploy"
    assert config.concurrency == 3


def test_quoted_toml_string_overrides_a_value_that_would_parse_as_a_number():
    config = load_config(None, {"models.agent": '"1234"'})
    assert config.model_for("agent") == "1234"


def test_apply_overrides_does_not_change_its_input():
    data = {"models": {"agent": "a", "judge": "j"}, "max_turns": 2}
    out = apply_overrides(data, {"models.agent": "b", "max_turns": "4"})
    assert data == {"models": {"agent": "a", "judge": "j"}, "max_turns": 2}
    assert out == {"models": {"agent": "b", "judge": "j"}, "max_turns": 4}


def test_set_below_a_non_table_is_one_line_naming_the_key():
    with pytest.raises(ConfigError) as info:
        apply_overrides({"max_turns": 2}, {"max_turns.x": "1"})
    message = str(info.value)
    assert "\n" not in message
    assert "--set max_turns.x" in message
    assert "'max_turns' is not a table" in message


@pytest.mark.parametrize(
    "overrides, key",
    [
        ({"max_turns": "0"}, "max_turns"),
        ({"max_turns": "21"}, "max_turns"),
        ({"concurrency": "0"}, "concurrency"),
        ({"temperature": "2.5"}, "temperature"),
        ({"timeout_s": "0"}, "timeout_s"),
        ({"max_turns": "lots"}, "max_turns"),
        ({"models.agent": "[1, 2]"}, "models.agent"),
        ({"models.planner": "x"}, "models.planner"),
        ({"azure.region": "x"}, "azure.region"),
        ({"graders.judge": "-1"}, "graders"),
        ({"graders": "{exact_choice = 0, judge = 0}"}, "graders"),
    ],
)
def test_validation_errors_are_one_line_naming_the_key(pyproject, overrides, key):
    with pytest.raises(ConfigError) as info:
        load_config(pyproject, overrides)
    message = str(info.value)
    assert "\n" not in message
    # The value came from --set, not from pyproject.toml: the message names the option as typed.
    (dotted, value), = overrides.items()
    assert message.startswith(f"--set {dotted}={value}: {key}: ")
    assert message.endswith("fix the value") and "Value error" not in message


def test_a_bad_value_in_the_file_names_the_file_and_the_table(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.replaygate]\nmax_turns = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, {"concurrency": "4"})
    assert str(info.value).startswith(f"{path}: [tool.replaygate] max_turns: ")
    assert str(info.value).endswith("fix the setting or its --set override")


def test_graders_error_says_what_is_wrong():
    with pytest.raises(ConfigError, match="no grader has a positive weight"):
        load_config(None, {"graders": "{exact_choice = 0}"})
    with pytest.raises(ConfigError, match="weight of grader 'judge' is negative"):
        load_config(None, {"graders.judge": "-0.5"})


def test_error_without_a_file_names_the_code_that_set_it():
    with pytest.raises(ConfigError) as info:
        load_config(None, suite="s", code={"max_turns": 0})
    assert str(info.value).startswith("Suite('s', max_turns=0) in code: max_turns: ")


def test_invalid_toml_names_the_file(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.replaygate]\nmax_turns = = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: invalid TOML")
    assert message.endswith("fix the file")


def test_config_errors_are_input_errors():
    assert issubclass(ConfigError, InputError)


def test_env_overrides_the_model_per_role(pyproject, monkeypatch):
    config = load_config(pyproject)
    monkeypatch.setenv("EVALS_AGENT_MODEL", "env-agent")
    assert config.model_for("agent") == "env-agent"
    assert config.model_for("judge") == "gpt-4.1"
    monkeypatch.setenv("EVALS_JUDGE_MODEL", "env-judge")
    assert config.model_for("judge") == "env-judge"
    # The env beats --set as well.
    assert load_config(pyproject, {"models.agent": "set-agent"}).model_for("agent") == "env-agent"


def test_empty_env_model_falls_back_to_the_setting(pyproject, monkeypatch):
    monkeypatch.setenv("EVALS_AGENT_MODEL", "")
    assert load_config(pyproject).model_for("agent") == "gpt-4.1-mini"


def test_resolve_makes_paths_relative_to_the_root(tmp_path, monkeypatch):
    config = EvalConfig()
    root = tmp_path / "project"
    root.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert config.resolve(root, "data/t.jsonl") == root / "data" / "t.jsonl"
    assert config.resolve(root, str(tmp_path / "abs.jsonl")) == tmp_path / "abs.jsonl"
    monkeypatch.chdir(root)
    # Under the working directory: short relative paths for messages, still pointing at the file.
    assert config.resolve(root, "data/t.jsonl") == Path("data/t.jsonl")


# --- several suites: each reads the shared table, then its own, then its code, then --set ---------

SUITES = """
[tool.replaygate]
concurrency = 4
cassettes = "tapes"
[tool.replaygate.models]
agent = "shared-model"
judge = "shared-judge"
[tool.replaygate.graders]
exact_match = 1.0

[tool.replaygate.suites.triage]
tasks = "evals/triage/tasks.yaml"
threshold = 0.9
[tool.replaygate.suites.triage.models]
agent = "triage-model"
[tool.replaygate.suites.triage.graders]
tool_called = 1.0

[tool.replaygate.suites.rooms]
tasks = "evals/rooms/tasks.jsonl"
rooms = "evals/rooms/rooms.json"
"""


def test_each_suite_layers_its_own_table_its_code_and_set_overrides(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text(SUITES, encoding="utf-8")
    shared = load_config(path)
    assert (shared.cassettes, shared.concurrency, shared.models.agent) == ("tapes", 4, "shared-model")
    triage = load_config(path, {"suites.triage.concurrency": "2", "suites.rooms.concurrency": "9"}, suite="triage",
                         code={"prompt": "prompts/triage.md", "threshold": 0.95})
    assert triage.tasks == "evals/triage/tasks.yaml"
    assert (triage.models.agent, triage.models.judge) == ("triage-model", "shared-judge")  # tables merge
    assert triage.graders == {"tool_called": 1.0}  # a weight table is replaced whole
    assert (triage.prompt, triage.threshold, triage.concurrency) == ("prompts/triage.md", 0.95, 2)
    rooms = load_config(path, {"concurrency": "3"}, suite="rooms")
    assert (rooms.concurrency, rooms.graders, rooms.threshold) == (3, {"exact_match": 1.0}, None)
    assert rooms.path(tmp_path, "rooms") == tmp_path / "evals/rooms/rooms.json"


def test_a_bad_suite_setting_names_the_suite_table(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text(SUITES + "max_turns = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[tool\.replaygate\.suites\.rooms\] max_turns: .*; fix the setting"):
        load_config(path, suite="rooms")
    with pytest.raises(ConfigError, match=r"threshold: .*less than or equal to 1"):
        load_config(path, {"threshold": "2"}, suite="triage")
