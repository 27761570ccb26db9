"""In record and live runs, a captured request goes to the run's backend with the backend's auth, not where its client pointed.

The backend is a loopback HTTP server in front of a FunctionModel; it notes each request's path, query
and credentials. The solver's own client points at https://api.openai.com/v1 with a dummy key.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx2
import openai
import pytest

from replaygate import FunctionModel, Suite, graders
from replaygate.core.config import load_config
from replaygate.run.evaluation import Evaluation
from replaygate.llm.backend import REPLAY_BASE_URL, Backend

DOUBLE = FunctionModel(lambda request: f"hello {request.model}")


class Service(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["content-length"]))
        self.server.seen.append((self.path, self.headers.get("authorization"), self.headers.get("api-key")))
        answer = DOUBLE().handle_request(httpx2.Request("POST", f"http://service{self.path}", content=body))
        self.send_response(answer.status_code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, *args):
        pass


@pytest.fixture
def service():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Service)
    server.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVALS_AGENT_MODEL", raising=False)
    (tmp_path / "prompt.md").write_text("[user]\nhi\n")
    (tmp_path / "tasks.yaml").write_text('- {"id": "hi", "input": {}, "expected": "hello double"}\n')
    return tmp_path


async def own_client(inp, client, prompt):
    own = openai.AsyncOpenAI(base_url="https://api.openai.com/v1", api_key="x", max_retries=0)
    return (await own.chat.completions.create(**prompt.chat())).choices[0].message.content


async def handed_client(inp, client, prompt):
    return (await client.chat.completions.create(**prompt.chat())).choices[0].message.content


def run(root: Path, solver, backend: Backend, record_mode: str):
    declared = Suite("hello", solver=solver, tasks="tasks.yaml", prompt="prompt.md", graders=[graders.ExactMatch()])
    config = load_config(None, {"cassettes": "tapes", "models.agent": "double", "max_retries": 0}, suite=declared.name,
                         code=declared.code_settings())
    evaluation = Evaluation(declared, config, root, backend, record_mode, {})
    return evaluation.run(list(evaluation.loaded.tasks))[0]


@pytest.mark.parametrize("solver", [own_client, handed_client], ids=["own", "handed"])
def test_openai_backend_gets_its_url_and_key(project, service, solver):
    backend = Backend("openai", "test", base_url=f"http://127.0.0.1:{service.server_port}/v1", api_key="sk-backend-1234")
    recorded = run(project, solver, backend, "all")
    assert (recorded.failure, recorded.value) == (None, 1.0)
    assert service.seen == [("/v1/chat/completions", "Bearer sk-backend-1234", None)]
    tape = (project / "tapes/hello/double/hi.r0.json").read_text()
    assert "sk-backend-1234" not in tape and "Bearer x" not in tape

    replayed = run(project, solver, Backend("replay", "replay", base_url=REPLAY_BASE_URL), "none")
    assert (replayed.failure, replayed.rollout.answer, replayed.value) == (None, "hello double", 1.0)
    assert len(service.seen) == 1


def test_azure_backend_gets_its_deployment_route_version_and_key(project, service):
    backend = Backend("azure", "test", base_url=f"http://127.0.0.1:{service.server_port}", api_key="azure-key-5678",
                      api_version="2024-10-21", deployments={"agent": "gpt4o-prod"})
    recorded = run(project, own_client, backend, "all")
    assert (recorded.failure, recorded.value) == (None, 1.0)
    assert service.seen == [("/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21", None,
                             "azure-key-5678")]


def test_foundry_backend_gets_its_project_route_and_an_entra_token(project, service):
    class Credential:
        def get_token(self, scope):
            return type("Token", (), {"token": f"entra-for-{scope}", "expires_on": 4102444800})()

    root = f"http://127.0.0.1:{service.server_port}/api/projects/p"
    backend = Backend("azure", "test", base_url=root + "/openai/v1", credential=Credential(), foundry=True,
                      deployments={"agent": "gpt4o-prod"})
    recorded = run(project, own_client, backend, "all")
    # The deployment is the body's model on Foundry's v1 route; the double answers with the model it was asked for.
    assert (recorded.failure, recorded.rollout.answer) == (None, "hello gpt4o-prod")
    assert service.seen == [("/api/projects/p/openai/v1/chat/completions", "Bearer entra-for-https://ai.azure.com/.default",
                             None)]
    # Recorded as the solver sent it: the configured model, the client's own URL (the host is not matched).
    request = json.loads((project / "tapes/hello/double/hi.r0.json").read_text())["interactions"][0]["request"]
    assert (request["uri"], request["body"]["json"]["model"]) == ("https://api.openai.com/v1/chat/completions", "double")
