"""A search the write-back gate could never accept is refused before it spends a rollout."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from replaygate.core.task import Task
from replaygate.optimize.candidate import Candidate
from replaygate.optimize.writeback import holdout_too_small, smallest_p, write_back_decision
from replaygate.optimize.search import Search
from replaygate.optimize.settings import OptimizeSettings


@given(st.integers(1, 12), st.floats(0.001, 0.5))
def test_a_holdout_is_too_small_exactly_when_even_a_clean_sweep_is_not_significant(n, alpha):
    sweep = write_back_decision({str(i): [0.0] for i in range(n)}, {str(i): [1.0] for i in range(n)}, 0.0, alpha)
    assert (holdout_too_small(n, alpha) is None) == sweep.accepted


@given(st.integers(1, 11))
def test_a_larger_holdout_never_has_a_larger_smallest_p(n):
    assert smallest_p(n + 1) <= smallest_p(n)


def test_the_refusal_names_the_size_it_has_the_size_it_needs_and_the_fixes():
    line = holdout_too_small(3, 0.05)
    assert line is not None and "\n" not in line
    assert "3 tasks" in line and "0.1250" in line and "at least 5" in line
    assert "split" in line and "[tool.replaygate.optimize.splits]" in line
    assert holdout_too_small(5, 0.05) is None


def test_a_search_over_too_few_holdout_tasks_stops_before_any_rollout():
    tasks = [Task(f"t{i}", {"x": i}, "A", split=split) for i, split in
             enumerate(["train"] * 4 + ["validation"] * 3 + ["holdout"] * 3)]
    # No evaluator and no optimizer model: the refusal must come before either is touched.
    with pytest.raises(ValueError, match=r"10 tasks: the holdout split has 3 tasks .* at least 5"):
        Search(OptimizeSettings(), None, None, tasks, Candidate("Q {x}"), ("x",))


def test_an_editor_reply_without_a_prompt_block_is_asked_again_and_never_evaluated():
    from replaygate.core.prompt import PromptTemplate
    from replaygate.optimize.apo import edited_prompt
    from replaygate.optimize.optimizer_llm import OptimizerRequest
    from replaygate.optimize.search import NO_PROMPT, Retry

    class Editor:
        """Answers the retry only: the first reply was a refusal."""

        def __init__(self):
            self.asked = []

        def complete_many(self, requests):
            self.asked += requests
            return ["<prompt>\nQ {x} carefully\n</prompt>"] * len(requests)

    assert edited_prompt("I could not understand the question.") == ""
    tasks = [Task(f"t{i}", {"x": i}, "A", split=split) for i, split in
             enumerate(["train"] * 4 + ["validation"] * 5 + ["holdout"] * 5)]
    from types import SimpleNamespace

    from replaygate.optimize.budget import Budget

    evaluator = SimpleNamespace(budget=Budget(300))  # admit() spends optimizer calls only, never a rollout
    search = Search(OptimizeSettings(), evaluator, Editor(), tasks, Candidate("Q {x}"), ("x",))
    request = OptimizerRequest(PromptTemplate(Path("edit.md"), "{critique}"), {"critique": "be careful"}, seed=0)
    refusal = Candidate(edited_prompt("I could not understand the question."), search.incumbent.version, "apo edit", 1)
    admitted = search.admit([refusal], [Retry(request, "critique", edited_prompt)])
    assert [c.text.strip() for c in admitted] == ["Q {x} carefully"]
    (retried,) = search.llm.asked
    assert NO_PROMPT in retried.values["critique"]


def test_committed_optimization_settings_name_the_packaged_prompts_by_package_path():
    from replaygate.optimize.document import portable

    settings = portable(OptimizeSettings(critique_prompt="prompts/my-critic.md").model_dump())
    assert settings["critique_prompt"] == "prompts/my-critic.md"  # the user's own, as they wrote it
    assert settings["edit_prompt"] == "replaygate/optimize/prompts/edit.md"
    assert settings["evo"]["reflect_prompt"] == "replaygate/optimize/prompts/reflect.md"
    assert "/tmp/" not in str(settings) and "site-packages" not in str(settings)


def test_each_suite_gets_its_own_optimization_report_and_none_overwrites_another(tmp_path):
    import json as _json

    from replaygate import InputError
    from replaygate.core.changeset import Changeset
    from replaygate.optimize.run import check_report_owner

    assert OptimizeSettings().report_path("triage") == "reports/optimization/triage.md"
    with pytest.raises(Exception, match=r"only placeholder is \{suite\}"):
        OptimizeSettings(report="reports/{name}.md")
    shared = tmp_path / "reports/optimization.md"  # a report setting without {suite}
    (tmp_path / "reports/optimization").mkdir(parents=True)
    (tmp_path / "reports/optimization/apo.json").write_text(_json.dumps({"suite": "triage"}))
    changes = Changeset(tmp_path)
    check_report_owner(shared, "triage", changes)  # the same suite rewrites its own
    with pytest.raises(InputError, match=r"optimization.md: holds the optimization report of suite 'triage', which "
                                         r"suite 'refunds' would overwrite; put \{suite\} in"):
        check_report_owner(shared, "refunds", changes)
    check_report_owner(tmp_path / "reports/optimization/refunds.md", "refunds", changes)  # its own folder is free
