"""A user's own project (own pyproject.toml, evals/, prompts/, no conftest.py), built from the README's
quick start and run by a real, non-editable install of the plugin in a fresh venv."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Your first suite"
# A file's block in that section follows a line naming it in backticks, like "`pyproject.toml`:".
FILE_BLOCK = re.compile(r"^`(?P<path>[^`\s]+)`[^\n]*:\n+```[^\n]*\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
README_FILES = ("pyproject.toml", "evals/tickets.jsonl", "prompts/triage.md", "evals/test_triage.py")
MAX_README_LINES = 40

# The same agent over 20 tickets, on chat completions (the README's solver) and on the Responses API,
# with a stand-in that also plays the optimizer's critic and editor. It reuses the README's module.
MORE_SUITES = '''\
"""The README's triage agent on 20 tickets, on chat completions and the Responses API, with a stand-in
that also critiques and edits prompts (as the optimizer asks it to under --llm=sim)."""

import json
import re

from replaygate import FunctionModel
from test_triage import TRIAGE, fake_model, lookup_order  # the README's suite, tool and stand-in

RESPONSES_TOOLS = [{"type": "function", "name": "lookup_order",
                    "parameters": {"type": "object", "properties": {"order": {"type": "string"}}}}]
PROMPT_BLOCK = re.compile(r"<prompt>\\s*\\n?(.*?)\\n?\\s*</prompt>", re.S)


def triage_responses(ticket, client, prompt):
    """The same agent on the Responses API, with the sync client: a function_call, then its output."""
    response = client.responses.create(**prompt.responses(tools=RESPONSES_TOOLS))
    calls = [item for item in response.output if item.type == "function_call"]
    if calls:
        output = json.dumps(lookup_order(**json.loads(calls[0].arguments)))
        sent = [*prompt.messages, calls[0], {"type": "function_call_output", "call_id": calls[0].call_id, "output": output}]
        response = client.responses.create(**prompt.responses(input=sent, tools=RESPONSES_TOOLS))
    return json.loads(response.output_text)


def critique(text):
    """Critic: a tool the graders wanted that the failing traces never called, and the prompt never names."""
    prompt = PROMPT_BLOCK.search(text)[1]
    traces = re.split(r"^### Trace \\d+: task (\\S+).*$", text.split("## Traces", 1)[1], flags=re.M)[1:]
    unused = {}
    for task, body in zip(traces[::2], traces[1::2]):
        for tool in re.findall(r"called (\\w+) 0 times, expected", body):
            unused.setdefault(tool, []).append(task)
    items = [f"{number}. The prompt never asks for {tool}, and the agent answered without it (tasks "
             f"{', '.join(tasks)}: no tool calls; graders: called {tool} 0 times).\\n"
             f"   Recommended instruction: Call {tool} once before you answer."
             for number, (tool, tasks) in enumerate([item for item in unused.items() if item[0] not in prompt], 1)]
    return "\\n".join(items) or "The traces show no failure the prompt leaves open."


def edit(text):
    """Editor: the current prompt with each recommended instruction it lacks added to its system section."""
    prompt = PROMPT_BLOCK.search(text)[1]
    asked = re.findall(r"Recommended instruction: (.+)", text.split("## Critique", 1)[1])
    added = " ".join(rule for rule in dict.fromkeys(asked) if rule not in prompt)
    system, user = prompt.split("[user]", 1) if "[user]" in prompt else (prompt, None)
    system = f"{system.rstrip()} {added}".rstrip()
    return "<prompt>\\n" + (system if user is None else f"{system}\\n[user]{user}") + "\\n</prompt>"


def stand_in(request):
    """Every role, told apart by the request alone: an agent turn offers tools, the optimizer's calls do not."""
    if request.tools:
        return fake_model(request)
    text = request.messages[-1]["content"]
    if re.search(r"^## Traces\\b", text, re.M):
        return critique(text)
    if re.search(r"^## Critique\\b", text, re.M):
        return edit(text)
    raise ValueError("neither an agent turn nor a critique or edit request")


DOUBLE = FunctionModel(stand_in)
CHAT = TRIAGE.replace(name="triage_chat", tasks="evals/more_tickets.yaml", prompt="prompts/triage_chat.md", double=DOUBLE)
RESPONSES = CHAT.replace(name="triage_responses", solver=triage_responses, prompt="prompts/triage_responses.md")


@CHAT.cases
def test_triage_chat(eval_case):
    eval_case.check()


@RESPONSES.cases
def test_triage_responses(eval_case):
    eval_case.check()
'''

# Without the lookup instruction and the priority rule: the stand-in neither calls the tool nor knows the rule.
DEGRADED_PROMPT = """\
[system]
Triage the support ticket as billing, bug or shipping. Answer in JSON: {"category": ..., "priority": ...}
[user]
{ticket}
"""
# Knows the priority rule but never asks for the lookup, so no plan is ever known: what the critic must find.
WEAK_PROMPT = """\
[system]
Triage the support ticket as billing, bug or shipping. Priority is high when the plan is enterprise, otherwise normal. Answer in JSON: {"category": ..., "priority": ...}
[user]
{ticket}
"""
TICKETS = (
    ("billing", "I was charged twice for order {n}."),
    ("bug", "The app crashes when I open order {n}."),
    ("shipping", "Order {n} has not arrived yet."),
    ("billing", "Why was I charged a fee on order {n}?"),
    ("bug", "Checkout crashes on order {n}."),
)

# pytest-recording's own kind of test: a hand-written cassette, replayed by its default record mode "none".
VCR_TEST = '''\
import urllib.request

import pytest


@pytest.mark.vcr
def test_status_page():
    with urllib.request.urlopen("http://status.example.invalid/health") as response:
        assert response.read() == b"ok"
'''
VCR_CASSETTE = """\
interactions:
- request:
    body: null
    headers: {}
    method: GET
    uri: http://status.example.invalid/health
  response:
    body: {string: ok}
    headers: {}
    status: {code: 200, message: OK}
version: 1
"""


def readme_section() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert SECTION in text, f"README.md has no {SECTION!r} section"
    body = text.split(SECTION, 1)[1]
    return body.split("\n## ", 1)[0]


def readme_files() -> dict[str, str]:
    return {m["path"]: m["body"] for m in FILE_BLOCK.finditer(readme_section())}


def readme_commands() -> list[list[str]]:
    """The `pytest ...` lines of the section's shell blocks, comments dropped."""
    blocks = re.findall(r"^```bash\n(.*?)^```", readme_section(), re.M | re.S)
    lines = [line.split("  #", 1)[0].strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line) for line in lines if line.startswith("pytest")]


def readme_command(*options: str) -> tuple[str, ...]:
    """The options of a command the README shows, failing when it no longer shows it."""
    wanted = ["pytest", *options]
    assert wanted in readme_commands(), f"README's {SECTION!r} no longer shows `{shlex.join(wanted)}`"
    return options


def write(root: Path, files: dict[str, str]) -> None:
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")


def can_build_wheels() -> bool:
    """setuptools builds a wheel offline only with `wheel` installed, or from 70.1 on, where it has bdist_wheel itself."""
    try:
        major, minor = (int(part) for part in re.findall(r"\d+", version("setuptools"))[:2])
    except PackageNotFoundError:
        return False
    return importlib.util.find_spec("wheel") is not None or (major, minor) >= (70, 1)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with a real install of this repo; the current venv's packages are seen through a .pth."""
    if not can_build_wheels():
        pytest.skip("pip cannot build this repo's wheel offline here: install `wheel` (or setuptools>=70.1)")
    base = tmp_path_factory.mktemp("own-project")
    # pip builds in the source tree (build/, *.egg-info): build from a copy, not from the shared checkout.
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "replaygate", source / "replaygate", ignore=shutil.ignore_patterns("__pycache__"))
    env = base / "venv"
    # No pip of its own: the current venv's pip, seen through the .pth, installs into the new prefix.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    # A plain path line: the current site-packages' own .pth files (the editable finder among them) do not run.
    Path(purelib, "current_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
                    str(source)], check=True, capture_output=True, env=user_env(env))
    return env


def user_env(env: Path) -> dict[str, str]:
    """A user's shell in the new venv: no API keys or endpoints, nothing of the outer pytest run."""
    drop = ("OPENAI_", "AZURE_", "EVALS_", "PYTEST_", "PYTHON", "VIRTUAL_ENV", "GITHUB_STEP_SUMMARY")
    clean = {key: value for key, value in os.environ.items() if not key.startswith(drop)}
    clean["PATH"] = f"{env / 'bin'}{os.pathsep}{clean.get('PATH', '')}"
    clean["VIRTUAL_ENV"] = str(env)
    return clean


def run_pytest(env: Path, project: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([str(env / "bin" / "python"), "-m", "pytest", *args], cwd=project, env=user_env(env),
                            capture_output=True, text=True, timeout=300)
    result.output = result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def recorded(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's project, recorded through its double with the README's record command."""
    files = readme_files()
    assert sorted(files) == sorted(README_FILES), f"README's quick start shows {sorted(files)}"
    project = tmp_path_factory.mktemp("readme-project")
    write(project, files)
    result = run_pytest(venv, project, *readme_command("--llm=sim", "--eval-record-mode=all", "--update-baseline"))
    assert result.returncode == 0, result.output
    return project


@pytest.fixture
def project(recorded: Path, tmp_path: Path) -> Path:
    """A copy of the recorded README project for one test to change."""
    return Path(shutil.copytree(recorded, tmp_path / "project"))


def more_tickets() -> list[dict]:
    """20 tickets; orders starting with 9 are on the enterprise plan, so their priority is high."""
    tasks = []
    for number in range(1, 21):
        category, text = TICKETS[number % len(TICKETS)]
        order = (9000 if number % 2 else 1000) + 37 * number
        tasks.append({"id": f"ticket-{number}", "input": {"ticket": text.format(n=order)},
                      "expected": {"category": category, "priority": "high" if number % 2 else "normal"}})
    return tasks


def add_more_suites(project: Path, chat_prompt: str, responses_prompt: str) -> list[dict]:
    tasks = more_tickets()
    write(project, {
        "evals/test_triage_more.py": MORE_SUITES,
        "evals/more_tickets.yaml": yaml.safe_dump(tasks, sort_keys=False),
        "prompts/triage_chat.md": chat_prompt,
        "prompts/triage_responses.md": responses_prompt,
    })
    return tasks


def test_the_readme_quick_start_fits_in_40_lines():
    files = readme_files()
    assert sorted(files) == sorted(README_FILES), f"README's quick start shows {sorted(files)}"
    lines = sum(len(body.splitlines()) for body in files.values())
    assert lines <= MAX_README_LINES, f"the quick start's files take {lines} lines"
    assert "conftest.py" not in files


VENV_PROBE = """\
import importlib.metadata, json, sys
import replaygate
try:
    import evals
except ImportError:
    evals = None
dist = importlib.metadata.distribution("pytest-replaygate")  # the first found: the one pytest loads
print(json.dumps({"file": replaygate.__file__, "evals": evals is not None, "path": sys.path,
                  "dist": str(dist.locate_file("")), "direct_url": dist.read_text("direct_url.json")}))
"""


def test_the_venv_has_a_real_install_and_nothing_named_evals(venv: Path):
    # Run from the venv's own folder: the current directory is on sys.path, and it holds no evals/.
    found = json.loads(subprocess.run([str(venv / "bin" / "python"), "-c", VENV_PROBE], cwd=venv, env=user_env(venv),
                                      check=True, capture_output=True, text=True).stdout)
    assert Path(found["file"]).is_relative_to(venv), found["file"]
    assert Path(found["dist"]).is_relative_to(venv), "pytest would load the plugin's entry points from elsewhere"
    assert not json.loads(found["direct_url"] or "{}").get("dir_info", {}).get("editable"), found["direct_url"]
    assert found["evals"] is False, "something installed provides `evals`, shadowing a user's evals/ folder"
    assert str(REPO) not in found["path"]


def test_the_readme_project_replays_offline(venv: Path, project: Path):
    tasks = [json.loads(line) for line in (project / "evals/tickets.jsonl").read_text().splitlines()]
    assert not (project / "conftest.py").exists()
    for task in tasks:
        assert list(project.glob(f"cassettes/triage/*/{task['id']}.r0.json")), f"no cassette for {task['id']}"
    (project / "reports/scores.md").unlink()

    result = run_pytest(venv, project, *readme_command())

    assert result.returncode == 0, result.output
    assert "3 passed" in result.output
    assert "record mode none" in result.output
    scores = (project / "reports/scores.md").read_text()
    assert "replay (record mode `none`)" in scores
    assert "not a real model" in scores


def test_pytest_recording_and_replaygate_share_a_session(venv: Path, project: Path):
    pytest.importorskip("pytest_recording", reason="pytest-recording is not installed in this environment")
    write(project, {"evals/test_status.py": VCR_TEST, "evals/cassettes/test_status/test_status_page.yaml": VCR_CASSETTE})

    options = run_pytest(venv, project, "--help").output
    assert "--record-mode=" in options and "--eval-record-mode=" in options

    result = run_pytest(venv, project, "--trace-config")

    assert result.returncode == 0, result.output
    assert "4 passed" in result.output
    assert re.search(r"^plugins:.*\brecording-", result.output, re.M)
    assert re.search(r"^plugins:.*\breplaygate-", result.output, re.M)
    # The plugin that runs is the venv's install, not the checkout's editable one.
    loaded = re.search(r"pytest-replaygate-\S+ at (\S+)", result.output)
    assert loaded and Path(loaded[1]).is_relative_to(venv), result.output


def test_chat_and_responses_suites_record_replay_and_gate(venv: Path, project: Path):
    readme_prompt = (project / "prompts/triage.md").read_text()
    tasks = add_more_suites(project, readme_prompt, readme_prompt)

    recording = run_pytest(venv, project, "--llm=sim", "--eval-record-mode=all", "--update-baseline")
    assert recording.returncode == 0, recording.output
    for suite in ("triage_chat", "triage_responses"):
        for task in tasks:
            assert list(project.glob(f"cassettes/{suite}/*/{task['id']}.r0.json")), f"no cassette for {suite} {task['id']}"
    # The tool round trip is on record for both APIs.
    responses = json.loads(next(project.glob("cassettes/triage_responses/*/ticket-1.r0.json")).read_text())
    assert responses["interactions"][1]["request"]["body"]["json"]["input"][-1]["type"] == "function_call_output"
    chat = json.loads(next(project.glob("cassettes/triage_chat/*/ticket-1.r0.json")).read_text())
    assert chat["interactions"][1]["request"]["body"]["json"]["messages"][-1]["role"] == "tool"

    replay = run_pytest(venv, project, *readme_command())
    assert replay.returncode == 0, replay.output
    assert "43 passed" in replay.output
    scores = (project / "reports/scores.md").read_text()
    assert "## triage_chat" in scores and "## triage_responses" in scores
    assert "not a real model" in scores

    write(project, {"prompts/triage_chat.md": DEGRADED_PROMPT, "prompts/triage_responses.md": DEGRADED_PROMPT})
    degraded = run_pytest(venv, project, *readme_command("--llm=sim"))

    assert degraded.returncode == 1, degraded.output
    assert "evals: gate FAILED for suites triage_chat, triage_responses" in degraded.output
    assert re.search(r"^evals triage: gate passed", degraded.output, re.M)


def test_optimize_rewrites_a_weak_prompt_through_the_gate(venv: Path, project: Path):
    readme_prompt = (project / "prompts/triage.md").read_text()
    add_more_suites(project, readme_prompt, WEAK_PROMPT)
    # The weak prompt's scores become the baseline: its failing cases are known failures from here on.
    run_pytest(venv, project, "--llm=sim", "--eval-record-mode=all", "--update-baseline")
    baseline = json.loads((project / "reports/baseline.json").read_text())
    assert not any(case["passed"] for case in baseline["suites"]["triage_responses"]["cases"].values())

    # One suite: the README's three tasks are too few for the optimizer's splits.
    optimized = run_pytest(venv, project, *readme_command("--optimize", "--llm=sim"),
                           "evals/test_triage_more.py::test_triage_responses")

    assert optimized.returncode == 0, optimized.output
    assert "triage_responses: prompt" in optimized.output and "written back" in optimized.output, optimized.output
    calls = re.search(r"optimize apo triage_responses: .*?(\d+) optimizer calls", optimized.output)
    assert calls and int(calls[1]) > 0, "the critic and editor were never asked"
    prompt = (project / "prompts/triage_responses.md").read_text()
    assert prompt != WEAK_PROMPT
    # The editor added what the critic named from the failing traces: the lookup the graders expected.
    assert "Call lookup_order once before you answer." in prompt
    assert "{ticket}" in prompt
    history = project / "prompts/history"
    entries = [json.loads(line) for line in (history / "log.jsonl").read_text().splitlines()]
    assert any(entry["accepted"] and entry["prompt"] == "prompts/triage_responses.md" for entry in entries)
    assert len(list(history.rglob("*.md"))) >= 2  # the old version and the new one
    baseline = json.loads((project / "reports/baseline.json").read_text())
    assert all(case["passed"] for case in baseline["suites"]["triage_responses"]["cases"].values())

    replay = run_pytest(venv, project, *readme_command())

    assert replay.returncode == 0, replay.output
    assert "43 passed" in replay.output and "xfail" not in replay.output
