"""Optimization end to end on the in-process simulator: the gate, write-back, history, cache and report."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from evals.bench.project import REPO, committed_task_lines, scaffold

# The weak prompt the repo started from; fixed, since --optimize may rewrite prompts/room_selector.md.
WEAK_PROMPT = REPO / "tests/data/al_baseline_prompt.md"
from replaygate.llm.backend import resolve_backend
from replaygate.core.config import load_config
from replaygate.optimize.optimizer_llm import OptimizerLLM
from replaygate.optimize.run import optimize
from replaygate.optimize.settings import load_settings
from evals.sim import SimTransport
from evals.rooms.suite import room_suite

SIM = resolve_backend("sim", False, {}, {})


def project(root: Path) -> Path:
    scaffold(root, committed_task_lines(), prompt=WEAK_PROMPT)
    shutil.copytree(REPO / "replaygate/optimize/prompts", root / "prompts/optimizer")
    return root


def run(root: Path, progress=lambda line: None, **settings):
    config = load_config(root / "pyproject.toml", {"prompt": str(root / "prompt.md")})
    raw = {"cache": str(root / ".evals/cache.jsonl"), "history": str(root / "history"),
           "report": str(root / "reports/optimization.md"),
           "critique_prompt": str(root / "prompts/optimizer/critique.md"),
           "edit_prompt": str(root / "prompts/optimizer/edit.md"), **settings}
    return optimize(room_suite(double=SimTransport), config, root, SIM, load_settings(raw), {}, progress)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


SENT: list = []  # every optimizer request of the first run, to check what critics were shown


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    root = project(tmp_path_factory.mktemp("opt"))
    before = (root / "prompt.md").read_text(encoding="utf-8")
    lines: list[str] = []
    real = OptimizerLLM.complete_many

    def spy(self, requests):
        SENT.extend(requests)
        return real(self, requests)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(OptimizerLLM, "complete_many", spy)
        result = run(root, lines.append)
    return root, before, result, lines


def test_an_accepted_candidate_is_written_back_with_its_history(first):
    root, before, result, lines = first
    doc = result.document
    assert result.written and doc["gate"]["accepted"]
    assert doc["gate"]["diff"] >= 0.05 and doc["gate"]["p_gain"] < 0.05
    after = (root / "prompt.md").read_text(encoding="utf-8")
    assert after == doc["best"]["text"] != before
    for name in ("{date}", "{time}", "{duration_min}", "{attendees}", "{needs}", "{accessible_required}"):
        assert name in after
    kept = {p.name: p.read_text(encoding="utf-8") for p in (root / "history/prompt").iterdir()}
    assert kept[f"{doc['incumbent']['version']}.md"] == before
    (entry,) = [json.loads(line) for line in (root / "history/log.jsonl").read_text().splitlines()]
    assert entry["accepted"] and entry["parent"] == doc["incumbent"]["version"] and entry["optimizer"] == "apo"
    assert entry["budget"]["used"] <= 300 and entry["simulator"] is True


def test_the_search_spends_within_budget_never_twice_and_reports_progress(first):
    root, _, result, lines = first
    doc = result.document
    assert doc["repeated_rollouts"] == 0
    assert doc["budget"]["used"] <= doc["budget"]["rollouts"]
    assert doc["budget"]["optimizer_calls"] > 0
    assert lines and lines[0].startswith("round 0:") and all("rollouts" in line for line in lines)
    holdout = doc["best"]["splits"]["holdout"]
    assert holdout["exact_choice"] - doc["incumbent"]["splits"]["holdout"]["exact_choice"] >= 0.3
    text = (root / "reports/optimization.md").read_text(encoding="utf-8")
    assert "Simulator, not a real model" in text and "```mermaid" in text and "```diff" in text
    # The stand-in is named as what it is, the suite's own double, not a label of the harness's.
    assert "were simulator (evals.sim, in-process; not a real model), the suite's offline stand-in" in text
    assert json.loads((root / "reports/optimization/apo.json").read_text())["best"]["version"] == doc["best"]["version"]


def test_critics_and_editors_see_only_train_tasks(first):
    _, _, result, _ = first
    splits = result.result.search.splits
    all_ids = {t.id for ts in splits.values() for t in ts}
    train = {t.id for t in splits["train"]}
    shown = {
        task_id
        for request in SENT
        for value in request.values.values()
        for task_id in re.findall(r"room-\d{3}", value)
    }
    assert SENT and shown  # the critic was shown traces
    assert shown <= train and shown <= all_ids


def test_a_rerun_with_the_same_seed_reproduces_the_prompt_from_its_cache(first, tmp_path):
    root, before, result, _ = first
    again = project(tmp_path / "again")
    shutil.copytree(root / ".evals", again / ".evals")
    second = run(again)
    assert second.document["best"]["text"] == result.document["best"]["text"]
    budget = second.document["budget"]
    assert budget["paid"] == 0 and budget["cache_hits"] == budget["used"] > 0  # the same path, all from the cache
    assert second.document["trajectory"] == result.document["trajectory"]


def test_a_rejected_candidate_leaves_prompts_untouched(tmp_path):
    root = project(tmp_path)
    before = snapshot(root)
    result = run(root, min_gain=1.0, apo={"beam_rounds": 1})
    assert not result.written and "rejected" in result.document["gate"]["summary"]
    after = snapshot(root)
    assert after["prompt.md"] == before["prompt.md"]
    assert not (root / "history/prompt").exists()


def test_ctrl_c_mid_search_writes_nothing(tmp_path):
    root = project(tmp_path)
    before = snapshot(root)

    def interrupt(line: str) -> None:
        if line.startswith("round 1"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(root, interrupt)
    after = snapshot(root)
    cache = after.pop(".evals/cache.jsonl")
    assert after == before and cache  # only the cache grew, and it is outside prompts/ and reports/


def test_a_budget_too_small_for_the_gate_is_refused_before_spending(tmp_path):
    root = project(tmp_path)
    with pytest.raises(ValueError, match="raise --optimize-budget"):
        run(root, budget=40)
    assert not (root / ".evals/cache.jsonl").exists()
