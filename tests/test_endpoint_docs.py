"""Every solver in docs/loopback.md, as printed, records under a double and replays offline with the same result.

A block whose library is not installed (LiteLLM is not a test dependency) is skipped, by name.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from replaygate import FunctionModel, Suite, graders
from replaygate.core.config import load_config
from replaygate.run.evaluation import Evaluation
from replaygate.llm.backend import REPLAY_BASE_URL, SIM_BASE_URL, Backend

DOC = Path(__file__).resolve().parents[1] / "docs" / "loopback.md"
SECTIONS = DOC.read_text(encoding="utf-8").split("\n## ")[1:]
BLOCKS = [(section.partition("\n")[0], code) for section in SECTIONS
          for code in re.findall(r"^```python\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)]
TASK = {"id": "ann", "input": {"who": "ann"}, "expected": "gold"}


def plan(request) -> str:
    return "gold" if "ann" in request.messages[-1]["content"] else "basic"


def test_the_doc_has_its_recipes():
    assert [title for title, _ in BLOCKS] == ["LangChain", "LiteLLM", "A process of its own (any language): curl",
                                              "Azure-shaped clients"]


@pytest.mark.parametrize("code", [code for _, code in BLOCKS], ids=[title.split()[0] for title, _ in BLOCKS])
def test_a_recipe_records_and_replays(code, tmp_path):
    for module in re.findall(r"^(?:import|from) (\w+)", code, re.MULTILINE):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    (tmp_path / "prompt.md").write_text("Which plan is {who} on? Answer with the plan name only.\n")

    def run(backend: Backend, record_mode: str = "none"):
        declared = Suite("recipe", solver=namespace["solver"], tasks=[TASK], prompt=str(tmp_path / "prompt.md"),
                         double=FunctionModel(plan), graders=[graders.ExactMatch()])
        config = load_config(None, {"cassettes": str(tmp_path / "tapes"), "models.agent": "double"},
                             suite=declared.name, code=declared.code_settings())
        evaluation = Evaluation(declared, config, tmp_path, backend, record_mode, {})
        (result,) = evaluation.run(list(evaluation.loaded.tasks))
        assert result.failure is None, result.failure
        return result.rollout.answer, result.value, result.rollout.usage

    recorded = run(Backend("sim", "double", base_url=SIM_BASE_URL), "all")
    assert recorded[:2] == ("gold", 1.0) and recorded[2].calls == 1 and recorded[2].input_tokens > 0
    assert json.loads((tmp_path / "tapes/recipe/double/ann.r0.json").read_text())["interactions"]
    assert run(Backend("replay", "replay", base_url=REPLAY_BASE_URL)) == recorded
