"""Capture and the guard through pytest: an own-client suite records and replays, an escape fails in one line,
and a case that made no model call is named in the summary and the report and kept out of the baseline."""

from __future__ import annotations

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import replaygate.plugin.cases  # noqa: F401 - stays loaded across pytester's in-process runs

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = """
[tool.replaygate]
tasks = "tasks.yaml"
prompt = "prompt.md"
cassettes = "tapes"
reports = "out"
baseline = "out/baseline.json"

[tool.replaygate.models]
agent = "double"
"""
SUITE = """
import json, os
import httpx2, openai
from replaygate import FunctionModel, Suite, graders

async def agent(inp, client, prompt):
    if inp["kind"] == "quiet":
        return "sunny"  # answers without asking any model
    own = openai.AsyncOpenAI(base_url="https://api.openai.com/v1", api_key="x", max_retries=0)
    answer = (await own.chat.completions.create(**prompt.chat())).choices[0].message.content
    if inp["kind"] == "outside":
        async with httpx2.AsyncClient() as http:
            answer = (await http.get(os.environ["WEATHER_URL"])).json()["sky"]
    return answer

WEATHER = Suite("weather", solver=agent, double=FunctionModel(lambda request: "sunny"), graders=[graders.ExactMatch()])

@WEATHER.cases
def test_weather(eval_case):
    eval_case.check()
"""
TASKS = ['{"id": "asks", "input": {"kind": "asks"}, "expected": "sunny"}',
         '{"id": "quiet", "input": {"kind": "quiet"}, "expected": "sunny"}']


class Sky(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        self.server.hits += 1
        body = b'{"sky": "sunny"}'
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("EVALS_AGENT_MODEL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT", "AZURE_AI_PROJECT_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    pytester.syspathinsert(REPO)
    pytester.makefile(".toml", pyproject=PYPROJECT)
    pytester.makefile(".md", prompt="[user]\nweather for {kind}?\n")
    pytester.makefile(".yaml", tasks="".join(f"- {line}\n" for line in TASKS))
    pytester.makepyfile(test_weather=SUITE)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:randomly", "-p", "no:hypothesispytest", "-rA", *args)


def test_a_case_with_no_model_call_is_named_and_kept_out_of_the_baseline(project):
    recorded = run(project, "--llm=sim", "--eval-record-mode=all", "--update-baseline")
    recorded.assert_outcomes(passed=2)
    line = ("evals weather: 1 case made no model call through the harness (quiet): if the agent calls a model, its "
            "requests escaped; send them through the `client` argument or `prompt.base_url` (docs/capture.md); "
            "not accepted into the baseline")
    assert line in recorded.stdout.lines
    baseline = json.loads((project.path / "out/baseline.json").read_text())
    assert sorted(baseline["suites"]["weather"]["cases"]) == ["asks"]
    assert "| no model call" in (project.path / "out/scores.md").read_text()
    assert sorted(p.name for p in (project.path / "tapes/weather/double").iterdir()) == ["asks.r0.json"]

    replayed = run(project)  # the own client's call replays from its cassette, with no network
    replayed.assert_outcomes(passed=2)
    assert any(text.startswith("evals weather: 1 case made no model call through the harness (quiet)")
               for text in replayed.stdout.lines)


@pytest.fixture
def sky():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sky)
    server.hits = 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_an_escape_fails_its_case_with_one_line_and_the_guard_can_be_turned_off(project, sky, monkeypatch):
    monkeypatch.setenv("WEATHER_URL", f"http://127.0.0.1:{sky.server_port}/sky")
    project.path.joinpath("tasks.yaml").write_text(f"- {TASKS[0].replace('asks', 'outside')}\n")
    recorded = run(project, "--llm=sim", "--eval-record-mode=all", "--set", "network_guard=false")
    recorded.assert_outcomes(passed=1)
    assert sky.hits == 1

    replayed = run(project)
    replayed.assert_outcomes(failed=1)
    line = (f"replaygate: case outside tried to reach 127.0.0.1:{sky.server_port} outside the harness; send model calls "
            "through the `client` argument or `prompt.base_url` (or set network_guard = false for suites that call "
            "other services)")
    assert line in replayed.stdout.lines  # the failure is that line alone
    assert "Traceback" not in replayed.stdout.str()
    assert sky.hits == 1  # the replay's request reached nobody

    allowed = run(project, "--set", f'allow_hosts=["127.0.0.1:{sky.server_port}"]')
    allowed.assert_outcomes(passed=1)
    assert sky.hits == 2


def test_the_own_client_example_in_the_docs_records_and_replays(pytester, monkeypatch):
    """docs/capture.md's files, as a user would copy them: record through the double, then replay with no socket."""
    for name in ("EVALS_AGENT_MODEL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT", "AZURE_AI_PROJECT_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    text = (REPO / "docs" / "capture.md").read_text(encoding="utf-8")
    files = re.findall(r"```\w+\n# ([\w./]+)\n(.*?)```", text, re.S)
    assert [name for name, _ in files] == ["pyproject.toml", "evals/echo.yaml", "prompts/echo.md", "evals/test_echo.py"]
    for name, body in files:
        (pytester.path / name).parent.mkdir(parents=True, exist_ok=True)
        (pytester.path / name).write_text(body, encoding="utf-8")
    pytester.syspathinsert(REPO)
    run(pytester, "--llm=sim", "--eval-record-mode=all").assert_outcomes(passed=2)
    assert sorted(p.name for p in pytester.path.rglob("*.r0.json")) == ["bye.r0.json", "hello.r0.json"]

    def refuse(self, address):
        raise AssertionError(f"replay opened a socket to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    replayed = run(pytester)
    replayed.assert_outcomes(passed=2)
    assert not any("no model call" in line for line in replayed.stdout.lines)
