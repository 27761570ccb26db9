"""Misuse of the suite API that used to pass silently: each is a collection error of one line naming the place."""

from __future__ import annotations

import pytest

PYPROJECT = """
[tool.replaygate.suites.plans]
tasks = "tasks.jsonl"
prompt = "plans.md"
"""
TASKS = '{"id": "ann", "input": {"who": "ann"}, "expected": "gold"}\n'
PROMPT = "Which plan is {who} on?\n"
MODULE = """
from replaygate import FunctionModel, Suite, graders

def solver(inp, client, prompt):
    return client.chat.completions.create(**prompt.chat()).choices[0].message.content

PLANS = Suite("plans", solver=solver, double=FunctionModel(lambda request: "gold"), graders=[graders.ExactMatch()])
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    pytester.makefile(".jsonl", tasks=TASKS)
    pytester.makefile(".md", plans=PROMPT)
    return pytester


def test_cases_on_a_test_without_eval_case_is_a_collection_error(project):
    project.makepyfile(test_plans=MODULE + """
@PLANS.cases
def test_plans():
    pass
""")
    result = project.runpytest("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*test_plans.py::test_plans: @plans.cases marks a test that takes no eval_case, so suite "
                                 "'plans' would never run; add the eval_case argument to the test*"])


def test_two_suites_of_one_name_in_two_modules_name_both_modules(project):
    case = "\n@PLANS.cases\ndef test_plans(eval_case):\n    eval_case.check()\n"
    project.makepyfile(test_one=MODULE + case, test_two=MODULE + case)
    result = project.runpytest("-p", "no:randomly", "--llm=sim")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*suite 'plans' is declared twice, in *test_one.py and in *test_two.py; "
                                 "give each Suite its own name*"])


def test_one_suite_shared_by_two_modules_is_fine(project):
    project.makepyfile(plans_suite=MODULE)
    case = "from plans_suite import PLANS\n\n@PLANS.cases\ndef test_plans(eval_case):\n    eval_case.check()\n"
    project.makepyfile(test_one=case, test_two=case)
    project.syspathinsert()
    result = project.runpytest("-p", "no:randomly", "--llm=sim")
    result.assert_outcomes(passed=2)


def test_a_solver_that_raises_shows_its_own_line_not_the_harness_frames(project):
    project.makepyfile(test_plans=MODULE.replace("    return client", "    {}['plan']  # the bug\n    return client") + """
@PLANS.cases
def test_plans(eval_case):
    eval_case.check()
""")
    result = project.runpytest("-p", "no:randomly", "--llm=sim")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*case ann: KeyError: 'plan' at test_plans.py:4 (in solver)*"])
    assert "replaygate/" not in result.stdout.str()


def test_a_hung_solver_ends_at_the_case_timeout_with_a_line(project):
    project.makepyfile(test_plans=MODULE.replace("    return client", "    import time; time.sleep(600)\n    return client")
                       + """
@PLANS.cases
def test_plans(eval_case):
    eval_case.check()
""")
    result = project.runpytest("-p", "no:randomly", "--llm=sim", "--set", "case_timeout_s=0.5")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*case ann: the solver did not return within 0.5 s; fix the hang, or raise case_timeout_s*"])


def test_an_answer_that_is_no_json_value_names_the_case_and_the_type(project):
    project.makepyfile(test_plans=MODULE.replace("    return client", "    return object()\n    return client") + """
@PLANS.cases
def test_plans(eval_case):
    eval_case.check()
""")
    result = project.runpytest("-p", "no:randomly", "--llm=sim")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*case ann: the solver returned a value of type object, which the report and baseline cannot store*"])
    assert "error" not in result.stdout.lines[-1]  # a failed case, not setup errors


def test_a_misspelt_suite_table_gets_a_line_listing_the_known_suites(project):
    project.makefile(".toml", pyproject=PYPROJECT + "\n[tool.replaygate.suites.plan]\nthreshold = 0.5\n")
    project.makepyfile(test_plans=MODULE + "\n@PLANS.cases\ndef test_plans(eval_case):\n    eval_case.check()\n")
    result = project.runpytest("-p", "no:randomly", "--llm=sim")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["pyproject.toml: [tool.replaygate.suites.plan] names no suite this session collected "
                                 "(suites: plans); fix the table's name, or it is ignored"])
    named = project.runpytest("-p", "no:randomly", "--llm=sim", "test_plans.py")
    assert "names no suite" not in named.stdout.str()  # a path was named: other suites may live elsewhere


def test_when_every_case_errored_the_summary_never_says_the_gate_passed(project):
    project.makepyfile(test_plans=MODULE + "\n@PLANS.cases\ndef test_plans(eval_case):\n    eval_case.check()\n")
    assert project.runpytest("-p", "no:randomly", "--llm=sim", "--eval-record-mode=all", "--update-baseline").ret == 0
    for cassette in (project.path / "cassettes").rglob("*.json"):
        cassette.unlink()  # every case now misses its recording
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    assert "gate passed" not in result.stdout.str()
    result.stdout.fnmatch_lines(["evals plans: gate not run: its one case errored (no score to compare)"])


def test_a_first_update_baseline_that_accepts_wrong_answers_exits_0_but_never_accepts_an_error(project):
    project.makefile(".jsonl", tasks=TASKS + '{"id": "bob", "input": {"who": "bob"}, "expected": "basic"}\n')
    project.makepyfile(test_plans=MODULE + "\n@PLANS.cases\ndef test_plans(eval_case):\n    eval_case.check()\n")
    accepted = project.runpytest("-p", "no:randomly", "--llm=sim", "--eval-record-mode=all", "--update-baseline")
    accepted.assert_outcomes(passed=1, failed=1)  # bob scored below threshold: now a known failure
    assert accepted.ret == pytest.ExitCode.OK
    assert project.runpytest("-p", "no:randomly").ret == pytest.ExitCode.OK  # replay: bob is an xfail

    for cassette in (project.path / "cassettes").rglob("ann.r0.json"):
        cassette.unlink()  # an error (a cassette miss) is no answer to accept
    refused = project.runpytest("-p", "no:randomly", "--update-baseline")
    assert refused.ret == pytest.ExitCode.TESTS_FAILED


def test_a_declaration_refused_at_import_is_one_line_at_the_users_line_not_a_harness_traceback(project):
    project.makepyfile(test_plans=MODULE.replace('lambda request: "gold")', 'lambda request: "gold", stream_delay_s=-1)')
                       + "\n@PLANS.cases\ndef test_plans(eval_case):\n    eval_case.check()\n")
    result = project.runpytest("-p", "no:randomly", "--llm=sim")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*test_plans.py:6: FunctionModel stream_delay_s must be a number of seconds >= 0, got -1"])
    assert "replaygate/" not in result.stdout.str() and "names no suite" not in result.stdout.str()


def test_a_misspelt_key_in_a_suite_table_names_that_table_and_the_nearest_key(project):
    project.makefile(".toml", pyproject=PYPROJECT + 'treshold = 0.5\n')
    project.makepyfile(test_plans=MODULE + "\n@PLANS.cases\ndef test_plans(eval_case):\n    eval_case.check()\n")
    result = project.runpytest("-p", "no:randomly", "--llm=sim")
    result.stdout.fnmatch_lines(["*pyproject.toml: [[]tool.replaygate.suites.plans[]] treshold: not a setting of the "
                                 "harness or of suite 'plans' (suite settings: none); did you mean threshold?*"])
