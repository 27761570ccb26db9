"""The network guard: a case's code reaches no host outside the harness, and the case fails with one line.

The "outside host" is a loopback HTTP server that counts the connections it accepts: refused means
it counted none. The model calls themselves go to the suite's FunctionModel through the handed client.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx2
import pytest

from replaygate import FunctionModel, Suite, graders
from replaygate.capture.guard import NetworkEscape
from replaygate.core.config import ConfigError, load_config
from replaygate.run.evaluation import Evaluation
from replaygate.llm.backend import REPLAY_BASE_URL, SIM_BASE_URL, Backend

SIM = Backend("sim", "double", base_url=SIM_BASE_URL)
REPLAY = Backend("replay", "replay", base_url=REPLAY_BASE_URL)
FIX = ("outside the harness; send model calls through the `client` argument or `prompt.base_url` "
       "(or set network_guard = false for suites that call other services)")


class Weather(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        self.server.hits += 1
        body = json.dumps({"sky": "sunny"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def weather():
    """An outside service on loopback that counts every connection it accepts."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Weather)
    server.hits = 0
    accepted = [0]
    original = server.get_request

    def counting():
        accepted[0] += 1
        return original()

    server.get_request = counting
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, accepted
    server.shutdown()
    server.server_close()


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVALS_AGENT_MODEL", raising=False)
    (tmp_path / "prompt.md").write_text("[system]\nSay the weather.\n[user]\n{city}\n")
    (tmp_path / "tasks.yaml").write_text('- {"id": "oslo", "input": {"city": "oslo"}, "expected": "sunny"}\n')
    return tmp_path


def run(root: Path, solver, backend: Backend, record_mode: str = "none", **settings):
    declared = Suite("weather", solver=solver, tasks="tasks.yaml", prompt="prompt.md",
                     double=FunctionModel(lambda request: "sunny"), graders=[graders.ExactMatch()])
    config = load_config(None, {"cassettes": "tapes", "models.agent": "double", **settings}, suite=declared.name,
                         code=declared.code_settings())
    evaluation = Evaluation(declared, config, root, backend, record_mode, {})
    return evaluation.run(list(evaluation.loaded.tasks))[0]


def solvers(url: str):
    async def with_httpx2(inp, client, prompt):
        await client.chat.completions.create(**prompt.chat())
        async with httpx2.AsyncClient() as http:
            return (await http.get(f"{url}/weather")).json()["sky"]

    def with_urllib(inp, client, prompt):
        client.chat.completions.create(**prompt.chat())
        try:
            with urllib.request.urlopen(f"{url}/weather", timeout=5) as answer:
                return json.loads(answer.read())["sky"]
        except OSError:
            return "cloudy"  # a solver that swallows the refusal still fails: the guard noted it

    return {"httpx2": with_httpx2, "urllib": with_urllib}


@pytest.mark.parametrize("library", ["httpx2", "urllib"])
def test_a_call_to_an_outside_host_fails_the_case_in_replay_and_reaches_nobody(project, weather, library):
    server, accepted = weather
    url = f"http://127.0.0.1:{server.server_port}"
    solver = solvers(url)[library]
    recorded = run(project, solver, SIM, "all", network_guard=False)
    assert recorded.failure is None and recorded.value == 1.0 and accepted[0] == 1

    replayed = run(project, solver, REPLAY)
    assert isinstance(replayed.failure, NetworkEscape)
    assert str(replayed.failure) == f"replaygate: case oslo tried to reach 127.0.0.1:{server.server_port} {FIX}"
    assert replayed.score is None  # not scored
    assert accepted[0] == 1  # the replay's request reached nobody


def test_in_record_a_refused_case_is_not_recorded(project, weather):
    server, accepted = weather
    result = run(project, solvers(f"http://127.0.0.1:{server.server_port}")["httpx2"], SIM, "all")
    assert isinstance(result.failure, NetworkEscape) and accepted[0] == 0
    assert not (project / "tapes/weather/double/oslo.r0.json").exists()


def test_a_name_is_refused_before_it_is_looked_up(project):
    result = run(project, solvers("http://weather.example.invalid:8080")["httpx2"], SIM)
    assert str(result.failure) == f"replaygate: case oslo tried to reach weather.example.invalid:8080 {FIX}"


def test_allow_hosts_and_the_guard_off_let_a_suite_call_its_services(project, weather):
    server, accepted = weather
    solver = solvers(f"http://127.0.0.1:{server.server_port}")["httpx2"]
    assert run(project, solver, SIM, allow_hosts=[f"127.0.0.1:{server.server_port}"]).value == 1.0
    assert run(project, solver, SIM, allow_hosts=["127.0.0.1"]).value == 1.0
    assert isinstance(run(project, solver, SIM, allow_hosts=["127.0.0.1:1"]).failure, NetworkEscape)
    assert run(project, solver, SIM, network_guard=False).value == 1.0
    assert accepted[0] == 3


def test_a_bad_guard_setting_is_one_line():
    with pytest.raises(ConfigError, match=r"^--set network_guard=maybe: network_guard: .*; fix the value$"):
        load_config(None, {"network_guard": "maybe"})


def test_an_allow_hosts_entry_that_is_no_host_is_one_line():
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"allow_hosts": '["https://api.example.com"]'})
    assert str(caught.value) == (
        "--set allow_hosts=[\"https://api.example.com\"]: allow_hosts: 'https://api.example.com' is not a host; write "
        "a host name or address, optionally with :port (\"api.example.com\", \"127.0.0.1:8080\"); fix the value")
