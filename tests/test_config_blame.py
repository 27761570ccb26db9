"""A bad setting is blamed on the place it came from: the pyproject file, the suite's code, or an option."""

from __future__ import annotations

import re

import pytest

from replaygate import InputError, Suite
from replaygate.core.config import load_config


def solver(inp, client, prompt):
    return ""


@pytest.mark.parametrize("text, line", [
    ("[tool]\nreplaygate = 3\n", "[tool] replaygate = 3 must be a table; write [tool.replaygate] and its keys"),
    ("tool = 3\n", "tool = 3 must be a table; write [tool.replaygate] tables"),
])
def test_a_replaygate_entry_that_is_no_table_is_one_line(tmp_path, text, line):
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(InputError) as raised:
        load_config(tmp_path / "pyproject.toml")
    assert str(raised.value) == f"{tmp_path / 'pyproject.toml'}: {line}"


def test_a_threshold_set_in_code_is_blamed_on_the_code_not_the_file(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.replaygate]\nconcurrency = 2\n")
    with pytest.raises(InputError, match=r"^Suite\('s', threshold=1\.5\) in code: threshold: .*less than or equal to 1"):
        Suite("s", solver=solver, threshold=1.5).config(tmp_path)


def test_an_option_still_wins_the_blame_over_the_code(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    with pytest.raises(InputError, match=r"^--set threshold=2: threshold: "):
        Suite("s", solver=solver, threshold=0.5).config(tmp_path, {"threshold": "2"})


def test_a_bad_value_in_the_file_is_still_blamed_on_the_file(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.replaygate.suites.s]\nthreshold = 3\n")
    with pytest.raises(InputError, match=r"pyproject.toml: \[tool.replaygate.suites.s\] threshold: "):
        Suite("s", solver=solver).config(tmp_path)


@pytest.mark.parametrize("ids, message", [
    (["t00", "T00"], "task id 'T00' differs from 't00' (at suite 's' tasks[0]) only in case; task ids must be unique "
                     "ignoring case: rename one"),
    ([".."], "task id '..' starts with '.', and it names a file; start it with a letter or digit"),
    ([".hidden"], "task id '.hidden' starts with '.'"),
])
def test_task_ids_are_safe_file_names_unique_ignoring_case(tmp_path, ids, message):
    from replaygate.core.task import tasks_from_list

    with pytest.raises(InputError, match=re.escape(message)):
        tasks_from_list([{"id": i, "input": {"x": 1}} for i in ids], "suite 's' tasks")


def test_a_solver_that_cannot_take_input_client_and_prompt_is_refused_where_it_is_declared():
    def triage(ticket, client):
        return ""

    with pytest.raises(InputError, match=r"^Suite 's': solver triage\(ticket, client\) cannot be called with "
                                         r"\(input, client, prompt\); give it those three parameters$"):
        Suite("s", solver=triage)


def test_a_task_missing_an_input_field_the_prompt_uses_is_the_task_s_mistake(tmp_path):
    (tmp_path / "p.md").write_text("Triage {ticket}.\n")
    (tmp_path / "tasks.jsonl").write_text('{"id": "a", "input": {"ticket": "x"}}\n{"id": "b", "input": {"tickt": "y"}}\n')
    suite = Suite("s", solver=solver, tasks=str(tmp_path / "tasks.jsonl"), prompt=str(tmp_path / "p.md"))
    with pytest.raises(InputError, match=r"tasks.jsonl:2: task 'b' has no input field 'ticket', which .*p.md uses; "
                                         r"add it to the task"):
        suite.load(suite.config(tmp_path), tmp_path)
