"""The recipes in examples/ are tests: each agent, on its framework, runs live against its FunctionModel double,
records, and replays with no network at all, with the same scores, tokens and tool calls as the handed-client
control. Also the small pieces the recipes lean on: tolerant tool results, the sync-client hint, vendor tracing off."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from replaygate import FunctionModel, Suite, ToolCall, graders
from replaygate.core.config import load_config
from replaygate.run.evaluation import VENDOR_TRACING_OFF, Evaluation
from replaygate.double.request import ToolResult
from replaygate.llm.backend import SIM_BASE_URL, Backend

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
CONTROL = "handed_client"
FRAMEWORKS = ("agents", "pydantic_ai", "langchain_openai")  # the `test` extra brings them


def recipes() -> list[Path]:
    return sorted(path.parent for path in EXAMPLES.glob("*/pyproject.toml"))


def suites_of(recipe: Path) -> dict[str, dict]:
    return tomllib.loads((recipe / "pyproject.toml").read_text())["tool"]["replaygate"]["suites"]


def build_project(root: Path) -> list[str]:
    """Every recipe in one project (one session per command instead of one per recipe); its suite names."""
    lines, names = [], []
    for recipe in recipes():
        shutil.copytree(recipe, root / recipe.name, ignore=shutil.ignore_patterns("cassettes", "reports", "__pycache__"))
        for name, settings in suites_of(recipe).items():
            names.append(name)
            lines.append(f"[tool.replaygate.suites.{name}]")
            lines += [f'{key} = "{recipe.name}/{value}"' for key, value in settings.items()]
    (root / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return names


def user_env(**more: str) -> dict[str, str]:
    drop = ("OPENAI_", "AZURE_", "EVALS_", "PYTEST_")
    return {**{key: value for key, value in os.environ.items() if not key.startswith(drop)}, **more}


def no_network() -> list[str]:
    """A prefix that runs a command in a network namespace of its own, with only its loopback up (the harness's
    endpoint for agents configured by URL listens there), when this machine allows one (root, or user namespaces)."""
    if not (shutil.which("unshare") and shutil.which("ip")):
        return []
    for unshare in (["unshare", "-n"], ["unshare", "-rn"]):
        prefix = [*unshare, "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return []


def pytest_run(root: Path, *args: str, prefix: list[str] = (), **env: str) -> subprocess.CompletedProcess:
    result = subprocess.run([*prefix, sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *args], cwd=root,
                            env=user_env(**env), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (f"pytest {' '.join(args)} exited {result.returncode}:\n"
                                    f"{result.stdout[-4000:]}\n{result.stderr[-2000:]}")
    return result


def cases(root: Path) -> dict[str, list[tuple]]:
    """What must not change between the runs: per case, its answer, score, every grader's score and its tokens."""
    suites = json.loads((root / "reports" / "scores.json").read_text())["suites"]
    return {name: sorted((c["task_id"], c["chosen"], c["score"], tuple(sorted(c["grader_scores"].items())),
                          c["tokens_in"], c["tokens_out"]) for c in suite["cases"]) for name, suite in suites.items()}


def sections(root: Path) -> list[str]:
    """The parts of scores.md that read the run's results (not its mode or gate): token lines, graders and tasks."""
    text = (root / "reports" / "scores.md").read_text()
    kept = re.findall(r"^\| tokens in / out .*$", text, re.M)
    kept += re.findall(r"^### (?:Graders|Tasks)\n.*?(?=^#)", text + "\n#", re.M | re.S)
    return [re.sub(r"\s+", " ", part) for part in kept]


@pytest.mark.slow
def test_every_recipe_runs_live_records_and_replays_offline_with_the_same_scores(tmp_path):
    for module in FRAMEWORKS:
        pytest.importorskip(module, reason="the recipes' frameworks come with the test extra: pip install -e '.[test]'")
    names = build_project(tmp_path)
    assert CONTROL in names and len(names) >= 8, names

    pytest_run(tmp_path, "--llm=sim")
    live = cases(tmp_path)
    streamed = {name: [case.get("ttft_s") for case in suite["cases"]] for name, suite in
                json.loads((tmp_path / "reports" / "scores.json").read_text())["suites"].items() if "stream" in name}
    assert streamed and all(all(ttft is not None for ttft in ttfts) for ttfts in streamed.values()), streamed
    pytest_run(tmp_path, "--llm=sim", "--eval-record-mode=all", "--update-baseline")
    recorded, recorded_md = cases(tmp_path), sections(tmp_path)
    for name in names:
        assert sorted(p.name for p in (tmp_path / "cassettes" / name).rglob("*.json")), f"{name}: no cassette written"
    # The Agents SDK sent its tool's result as a Python repr; the recipes' double read it through `.value`.
    [lisbon] = (tmp_path / "cassettes" / "agents_chat").rglob("lisbon*.json")
    assert "'temp_c': 21" in lisbon.read_text()
    # Replay with no network at all, and a key in the environment: the Agents SDK would export its traces with it.
    prefix = no_network()
    replay = pytest_run(tmp_path, prefix=prefix, OPENAI_API_KEY="sk-recipes-not-a-key")
    assert "Tracing" not in replay.stdout + replay.stderr, "the Agents SDK tried to export traces during replay"
    replayed = cases(tmp_path)

    assert set(live) == set(names)
    assert live == recorded == replayed
    assert sections(tmp_path) == recorded_md
    assert sum(f"{name}: 3 cases (replay), 3 passed" in replay.stdout for name in names) == len(names), replay.stdout
    # Every route reports what the control reports: tokens, and the tool call its grader checks.
    for name, rows in replayed.items():
        for task, chosen, score, grader_scores, tokens_in, tokens_out in rows:
            assert score == 1.0 and dict(grader_scores)["tool_called:get_weather"] == 1.0, (name, task)
            assert tokens_in > 0 and tokens_out > 0, (name, task)
        assert [row[:4] for row in rows] == [row[:4] for row in replayed[CONTROL]], name
    if not prefix:
        pytest.skip("replayed, but this machine cannot make a network namespace (unshare -n) to prove it offline")


def test_a_tool_result_reads_as_json_as_a_python_repr_or_as_text():
    assert ToolResult("c1", '{"temp_c": 21, "ok": true}').value == {"temp_c": 21, "ok": True}
    # The Agents SDK sends str() of what a tool returned.
    assert ToolResult("c1", "{'temp_c': 21, 'ok': True, 'tags': ('a', None)}").value == {
        "temp_c": 21, "ok": True, "tags": ("a", None)}
    assert ToolResult("c1", " [1, 2] ").value == [1, 2]
    assert ToolResult("c1", "sunny, 21 °C").value == "sunny, 21 °C"
    assert ToolResult("c1", "__import__('os')").value == "__import__('os')"  # a literal only: never code
    assert ToolResult("c1", "").value == ""
    assert ToolResult("c1", "[" * 5000).value == "[" * 5000


def test_vendor_tracing_is_off_while_a_run_is_active_and_a_users_own_setting_is_kept(monkeypatch):
    monkeypatch.delenv("OPENAI_AGENTS_DISABLE_TRACING", raising=False)
    with VENDOR_TRACING_OFF:
        with VENDOR_TRACING_OFF:  # runs overlap (an optimizer's inside a session's): the outer one restores
            assert os.environ["OPENAI_AGENTS_DISABLE_TRACING"] == "1"
        assert os.environ["OPENAI_AGENTS_DISABLE_TRACING"] == "1"
    assert "OPENAI_AGENTS_DISABLE_TRACING" not in os.environ
    monkeypatch.setenv("OPENAI_AGENTS_DISABLE_TRACING", "0")
    with VENDOR_TRACING_OFF:
        assert os.environ["OPENAI_AGENTS_DISABLE_TRACING"] == "0"
    assert os.environ["OPENAI_AGENTS_DISABLE_TRACING"] == "0"


def test_a_sync_solver_whose_framework_awaits_the_client_fails_with_the_fix(tmp_path, monkeypatch):
    """pydantic-ai and the Agents SDK await their client: a sync solver's sync client gives a bare TypeError."""
    import asyncio

    def awaits_its_client(inp, client, prompt):
        async def framework():
            return await client.chat.completions.create(**prompt.chat())

        return asyncio.run(framework())

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVALS_AGENT_MODEL", raising=False)
    (tmp_path / "prompt.md").write_text("Weather in {city}?\n")
    suite = Suite("weather", solver=awaits_its_client, tasks=[{"id": "oslo", "input": {"city": "Oslo"}, "expected": "cold"}],
                  prompt="prompt.md", double=FunctionModel(lambda request: ToolCall("get_weather", {"city": "Oslo"})),
                  graders=[graders.ExactMatch()])

    def run(solver):
        declared = suite.replace(solver=solver)
        config = load_config(None, {"cassettes": "tapes"}, suite=declared.name, code=declared.code_settings())
        evaluation = Evaluation(declared, config, tmp_path, Backend("sim", "double", base_url=SIM_BASE_URL), "none", {})
        [result] = evaluation.run(list(evaluation.loaded.tasks))
        return result.failure

    failure = run(awaits_its_client)
    assert isinstance(failure, TypeError) and "\n" not in str(failure)
    assert str(failure).startswith("solver awaits_its_client is sync") and "make the solver `async def`" in str(failure)
    assert "prompt.base_url" in str(failure)

    def own_type_error(inp, client, prompt):
        raise TypeError("the solver's own bug")

    failure = run(own_type_error)  # any other TypeError is the solver's, and stays as it was
    assert isinstance(failure, TypeError) and str(failure) == "the solver's own bug" and failure.__cause__ is None


def test_every_code_block_of_the_recipes_page_is_in_the_recipe_it_names():
    """docs/bring-your-agent.md shows excerpts: each Python block must stand, verbatim, in the last example file
    the page named before it (so the page cannot drift from the code tests run)."""
    page = (REPO / "docs" / "bring-your-agent.md").read_text()
    blocks = list(re.finditer(r"^```python\n(.*?)^```$", page, re.M | re.S))
    assert len(blocks) >= 8
    for block in blocks:
        named = re.findall(r"`(examples/[^`]+\.py)`", page[:block.start()])
        assert named, f"docs/bring-your-agent.md: the block at offset {block.start()} names no example file before it"
        assert block[1] in (REPO / named[-1]).read_text(), f"docs/bring-your-agent.md: block not in {named[-1]}:\n{block[1]}"
    for recipe in recipes():
        assert f"`examples/{recipe.name}`" in page or f"examples/{recipe.name}/" in page, f"{recipe.name}: not on the page"
