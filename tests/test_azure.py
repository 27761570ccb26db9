"""Azure as enterprise teams run it: Entra ID tokens, Foundry project endpoints, nothing secret recorded, clear errors.

Offline: the simulator in process or over loopback HTTP, the FunctionModel, and a fake TokenCredential
that counts its calls and issues short-lived JWT-shaped tokens. azure-identity is never needed.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import shutil
import sys
import threading
from collections import namedtuple
from pathlib import Path

import httpx2
import openai
import pytest
from vcr.request import Request

import replaygate.llm.backend as backend_module
import replaygate.plugin.cases  # noqa: F401 - loaded once, so in-process pytester runs share the patched modules
from replaygate import FunctionModel, Suite, Task, graders
from replaygate.cassettes.audit import audit_files, scan_text
from replaygate.cassettes.cassette_format import AtomicPersister, ReadableJsonSerializer, scrub_request
from replaygate.cassettes.cassette_match import endpoint_of
from replaygate.cassettes.secrets import SecretLeakError, find_secrets
from replaygate.core.config import load_config
from replaygate.core.errors import InputError
from replaygate.run.evaluation import Evaluation
from replaygate.llm.agent import Decoding, run_tool_loop
from replaygate.llm.azure import FOUNDRY_SCOPE, OPENAI_SCOPE, ROLE_HEADER, AzureAuthError, BearerTokens
from replaygate.llm.backend import REPLAY_BASE_URL, Backend, resolve_backend
from replaygate.capture.route import SyncBridge
from replaygate.results.report import write_report
from evals.rooms.oracle import choose
from evals.rooms.request import RoomRequest
from evals.rooms.suite import room_suite
from evals.rooms.world import load_world
from evals.sim import SimTransport
from evals.sim.routes import MISSING_DEPLOYMENT
from evals.sim.server import serve

REPO = Path(__file__).resolve().parents[1]
ROOMS = REPO / "evals" / "rooms" / "data" / "rooms.json"
INSTALL = "pip install 'pytest-replaygate[azure]'"
AOAI = "https://res.openai.azure.com"
PROJECT = "https://res.services.ai.azure.com/api/projects/proj"
AZURE_VARIABLES = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_AUTH",
                   "AZURE_OPENAI_API_VERSION", "AZURE_AI_PROJECT_ENDPOINT", "AZURE_OPENAI_AGENT_DEPLOYMENT",
                   "AZURE_OPENAI_JUDGE_DEPLOYMENT", "AZURE_OPENAI_OPTIMIZER_DEPLOYMENT", "EVALS_AGENT_MODEL", "EVALS_JUDGE_MODEL")
AccessToken = namedtuple("AccessToken", "token expires_on")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(n: int) -> str:
    """A JWT-shaped token, unique per n, as Entra ID issues them (unsigned: nothing checks it)."""
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps({"aud": "https://cognitiveservices.azure.com", "n": n}).encode())
    return f"{header}.{payload}.{b64url(hashlib.sha256(str(n).encode()).digest() * 3)}"


class Clock:
    """Time that passes only when a test says so."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeCredential:
    """A TokenCredential: counts its calls and issues JWT-shaped tokens that live `lifetime_s` on `clock`."""

    def __init__(self, clock=Clock(), lifetime_s: float = 600.0):
        self.clock, self.lifetime_s = clock, lifetime_s
        self.scopes: list[tuple[str, ...]] = []
        self.issued: dict[str, float] = {}  # token -> expires_on
        self.refuse = False
        self._lock = threading.Lock()

    @property
    def calls(self) -> int:
        return len(self.scopes)

    def get_token(self, *scopes: str, **options) -> AccessToken:
        if self.refuse:
            raise AssertionError("a replay must not ask for a token")
        with self._lock:
            self.scopes.append(scopes)
            token = jwt(self.calls)
            self.issued[token] = int(self.clock() + self.lifetime_s)
            return AccessToken(token, self.issued[token])


class Spy(httpx2.AsyncBaseTransport, httpx2.BaseTransport):
    """Records each request as it leaves for the service, then lets `inner` answer."""

    def __init__(self, inner):
        self.inner, self.sent = inner, []

    async def handle_async_request(self, request):
        self.sent.append((request, await request.aread()))
        return await self.inner.handle_async_request(request)

    def handle_request(self, request):
        self.sent.append((request, request.read()))
        return self.inner.handle_request(request)


def bearer(request) -> str:
    return request.headers["authorization"].removeprefix("Bearer ")


def chat(client, model="sim-standin-1"):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hello"}])


@pytest.fixture
def no_azure_env(monkeypatch):
    for name in AZURE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def without_azure_identity(monkeypatch):
    """As if azure-identity were not installed, whether or not it is."""
    monkeypatch.setitem(sys.modules, "azure.identity", None)


@pytest.fixture(scope="module")
def sim_url():
    server = serve("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.url.removesuffix("/v1")
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# --- routes and headers ---------------------------------------------------------------------------


def test_deployment_route_sends_a_bearer_token_with_the_api_version_and_no_key(without_azure_identity):
    credential = FakeCredential()
    env = {"AZURE_OPENAI_ENDPOINT": AOAI + "/", "AZURE_OPENAI_AGENT_DEPLOYMENT": "agent-dep"}
    backend = resolve_backend("azure", False, env, {}, credential=credential)
    assert (backend.kind, backend.foundry, backend.label) == ("azure", False, f"azure {AOAI} (Entra ID)")
    spy = Spy(SimTransport())

    async def calls():
        transport = backend_module.DeploymentAsModel(spy, backend.deployments)
        async with httpx2.AsyncClient(transport=transport) as http:
            client = backend.client("agent", http, 5.0)
            await asyncio.gather(*(chat(client) for _ in range(4)))
        # The sync client a sync solver gets, bridged onto the loop and called from several threads at once.
        with httpx2.Client(transport=SyncBridge(transport, asyncio.get_running_loop())) as http:
            client = backend.client("agent", http, 5.0)
            await asyncio.gather(*(asyncio.to_thread(chat, client) for _ in range(4)))

    asyncio.run(calls())
    assert len(spy.sent) == 8
    for request, _ in spy.sent:
        assert request.url.path == "/openai/deployments/agent-dep/chat/completions"
        assert dict(request.url.params) == {"api-version": "2024-10-21"}
        assert bearer(request) == jwt(1)
        assert "api-key" not in request.headers and ROLE_HEADER not in request.headers
    assert credential.scopes == [(OPENAI_SCOPE,)]  # cached: asked once, for the Cognitive Services scope


def test_foundry_project_route_serves_chat_and_responses_with_the_deployment_as_model(without_azure_identity):
    credential = FakeCredential()
    env = {"AZURE_AI_PROJECT_ENDPOINT": PROJECT + "/", "AZURE_OPENAI_ENDPOINT": AOAI, "AZURE_OPENAI_API_KEY": "k" * 32,
           "AZURE_OPENAI_AGENT_DEPLOYMENT": "agent-dep"}
    backend = resolve_backend("azure", False, env, {}, credential=credential)
    # Both set: the Foundry project endpoint wins, and it signs in with Entra ID, never the key.
    assert backend.foundry and backend.base_url == PROJECT + "/openai/v1"
    assert backend.label == f"azure foundry project {PROJECT} (Entra ID)"
    models = []
    spy = Spy(FunctionModel(lambda request: models.append(request.model) or "hi")())

    async def calls():
        async with httpx2.AsyncClient(transport=backend_module.DeploymentAsModel(spy, backend.deployments)) as http:
            client = backend.client("agent", http, 5.0)
            await chat(client, model="configured-model")
            await client.responses.create(model="configured-model", input="hello")
            # The judge has no deployment of its own: its configured model names it.
            await chat(backend.client("judge", http, 5.0), model="judge-model")

    asyncio.run(calls())
    paths = [request.url.path for request, _ in spy.sent]
    assert paths == ["/api/projects/proj/openai/v1/chat/completions", "/api/projects/proj/openai/v1/responses",
                     "/api/projects/proj/openai/v1/chat/completions"]
    assert models == ["agent-dep", "agent-dep", "judge-model"]
    for request, _ in spy.sent:
        assert not request.url.query  # no api-version on the v1 route
        assert bearer(request) == jwt(1) and "api-key" not in request.headers
    assert credential.scopes == [(FOUNDRY_SCOPE,)]


def test_azure_responses_without_a_deployment_path_name_the_deployment_as_model():
    backend = Backend("azure", "a", base_url=AOAI, api_key="k" * 32, api_version="2025-03-01-preview",
                      deployments={"agent": "agent-dep"})
    models = []
    spy = Spy(FunctionModel(lambda request: models.append(request.model) or "hi")())

    async def call():
        async with httpx2.AsyncClient(transport=backend_module.DeploymentAsModel(spy, backend.deployments)) as http:
            await backend.client("agent", http, 5.0).responses.create(model="configured-model", input="hello")

    asyncio.run(call())
    (request, _), = spy.sent
    assert request.url.path == "/openai/responses" and dict(request.url.params) == {"api-version": "2025-03-01-preview"}
    assert request.headers["api-key"] == "k" * 32 and "authorization" not in request.headers
    assert models == ["agent-dep"]


def test_which_setup_auto_and_azure_choose(without_azure_identity):
    credential = FakeCredential()
    assert resolve_backend("auto", True, {"AZURE_AI_PROJECT_ENDPOINT": PROJECT}, {}, credential=credential).foundry
    entra = {"AZURE_OPENAI_ENDPOINT": AOAI, "AZURE_OPENAI_AUTH": "entra", "AZURE_OPENAI_API_KEY": "k" * 32}
    assert resolve_backend("auto", True, entra, {}, credential=credential).tokens is not None  # asked for: wins over the key
    key = resolve_backend("azure", True, {"AZURE_OPENAI_ENDPOINT": AOAI, "AZURE_OPENAI_API_KEY": "k" * 32}, {})
    assert key.api_key == "k" * 32 and key.tokens is None
    # An endpoint alone is not enough for auto to reach for DefaultAzureCredential.
    assert resolve_backend("auto", True, {"AZURE_OPENAI_ENDPOINT": AOAI}, {}).kind == "sim"
    configured = resolve_backend("azure", True, {"AZURE_OPENAI_ENDPOINT": AOAI}, {"judge": "cfg-judge"}, credential=credential)
    assert configured.deployments == {"agent": "", "judge": "cfg-judge", "optimizer": "cfg-judge"}
    assert configured.sources == {"judge": "[tool.replaygate.azure] judge_deployment",
                                  "optimizer": "[tool.replaygate.azure] judge_deployment"}


# --- token renewal -----------------------------------------------------------------------------------


def test_tokens_renew_before_expiry_and_short_lived_ones_halfway():
    clock = Clock()
    credential = FakeCredential(clock, lifetime_s=3600)
    tokens = BearerTokens(credential, OPENAI_SCOPE, clock=clock)
    assert tokens() == jwt(1)
    clock.now += 3600 - 301
    assert tokens() == jwt(1)
    clock.now += 2  # within five minutes of expiry
    assert tokens() == jwt(2) and credential.calls == 2

    brief = FakeCredential(clock, lifetime_s=2)
    tokens = BearerTokens(brief, OPENAI_SCOPE, clock=clock)
    assert asyncio.run(tokens.async_token()) == jwt(1)
    clock.now += 0.9
    assert asyncio.run(tokens.async_token()) == jwt(1)
    clock.now += 0.2
    assert asyncio.run(tokens.async_token()) == jwt(2) and brief.calls == 2


# --- a run through the HTTP simulator: renewal, nothing secret recorded, portable cassettes -----------

PROMPT = (
    "[system]\nCall the tool only once. The room must be free for the whole slot; capacity at least the number of "
    "attendees; it must have all of the required equipment; accessible when accessibility is required. Prefer the "
    "smallest capacity surplus, then the fewest extra equipment items, then the nearest, then the fewest bookings. "
    'Reply with only the room id, or "No Room".\n\n[user]\nFind a room on {date} at {time} for {duration_min} minutes, '
    "{attendees} attendees. Needs: {needs}. Accessible required: {accessible_required}\n"
)
INPUTS = {
    "a": {"date": "2026-03-03", "time": "09:00", "duration_min": 60, "attendees": 2, "needs": [], "accessible_required": False},
    "b": {"date": "2026-03-04", "time": "14:00", "duration_min": 30, "attendees": 4, "needs": ["whiteboard"], "accessible_required": False},
    "c": {"date": "2026-03-02", "time": "10:30", "duration_min": 45, "attendees": 6, "needs": ["projector"], "accessible_required": True},
}


def write_tasks(folder: Path) -> None:
    world = load_world(ROOMS)
    lines = [json.dumps({"id": tid, "task_input": inp, "expected_choice": choose(world, RoomRequest.from_input(inp, tid))})
             for tid, inp in INPUTS.items()]
    (folder / "tasks.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.copyfile(ROOMS, folder / "rooms.json")
    (folder / "agent.md").write_text(PROMPT, encoding="utf-8")


@pytest.fixture
def root(tmp_path, monkeypatch, no_azure_env) -> Path:
    monkeypatch.chdir(tmp_path)
    write_tasks(tmp_path)
    return tmp_path


def evaluation(root: Path, backend: Backend, record_mode: str = "none") -> Evaluation:
    config = load_config(None, {"tasks": "tasks.jsonl", "prompt": "agent.md", "rooms": "rooms.json", "cassettes": "cas",
                                "concurrency": 1})
    return Evaluation(room_suite(double=SimTransport), config, root, backend, record_mode, {})


def route_env(route: str, sim_url: str) -> dict[str, str]:
    if route == "deployment":
        return {"AZURE_OPENAI_ENDPOINT": sim_url, "AZURE_OPENAI_AGENT_DEPLOYMENT": "agent-dep"}
    return {"AZURE_AI_PROJECT_ENDPOINT": sim_url + "/api/projects/proj", "AZURE_OPENAI_AGENT_DEPLOYMENT": "agent-dep"}


@pytest.mark.parametrize("route", ["deployment", "foundry"])
def test_a_run_longer_than_a_token_renews_it_records_no_token_and_replays_without_azure(root, sim_url, monkeypatch, route):
    clock = Clock()
    credential = FakeCredential(clock, lifetime_s=600)
    sent: list[tuple[httpx2.Request, float]] = []
    network = httpx2.AsyncHTTPTransport

    class Wire(network):
        """The real HTTP transport; each model call takes four minutes of the fake clock."""

        async def handle_async_request(self, request):
            sent.append((request, clock()))
            clock.now += 240
            return await super().handle_async_request(request)

    monkeypatch.setattr(httpx2, "AsyncHTTPTransport", Wire)
    backend = resolve_backend("azure", True, route_env(route, sim_url), {}, credential=credential)
    backend.tokens.clock = clock
    recorded = evaluation(root, backend, "once").run(evaluation(root, backend).loaded.tasks)
    assert all(r.failure is None and r.passes(0.8) for r in recorded), [r.rollout.error for r in recorded]

    # The circuit breaker's one HEAD to the endpoint (no credentials) is not a model call.
    assert [request.method for request, _ in sent].count("HEAD") == 1 and "authorization" not in sent[0][0].headers
    sent = [(request, at) for request, at in sent if request.method == "POST"]
    assert len(sent) == 6  # three cases, one tool round each
    for request, at in sent:
        assert request.url.path == ("/openai/deployments/agent-dep/chat/completions" if route == "deployment"
                                    else "/api/projects/proj/openai/v1/chat/completions")
        assert dict(request.url.params) == ({"api-version": "2024-10-21"} if route == "deployment" else {})
        assert at < credential.issued[bearer(request)]  # never sent with an expired token
        assert "api-key" not in request.headers and ROLE_HEADER not in request.headers
    # A 30-minute run with 10-minute tokens: renewed as it went, not per request.
    assert 3 <= credential.calls < len(sent)
    assert len({bearer(request) for request, _ in sent}) == credential.calls

    files = sorted((root / "cas").rglob("*.json"))
    assert [f.name for f in files] == ["a.r0.json", "b.r0.json", "c.r0.json"]
    for file in files:
        text = file.read_text(encoding="utf-8")
        assert not any(token in text for token in credential.issued)
        assert "authorization" not in text.lower() and "eyJ" not in text
    assert audit_files([root / "cas"], []) == ([], 3)

    # Replay: no credential may be asked, no azure-identity importable, no Azure variable set.
    credential.refuse = True
    monkeypatch.setitem(sys.modules, "azure.identity", None)
    replay = Backend("replay", "replay", base_url=REPLAY_BASE_URL)
    replayed = evaluation(root, replay).run(evaluation(root, replay).loaded.tasks)
    assert [(r.failure, r.rollout.answer, r.value) for r in replayed] == [(None, r.rollout.answer, r.value) for r in recorded]


PYPROJECT = """
[tool.pytest.ini_options]
eval_pass_threshold = 0.8

[tool.replaygate]
tasks = "tasks.jsonl"
rooms = "rooms.json"
prompt = "agent.md"
judge_prompt = "judge.md"
cassettes = "recorded"
reports = "out"
baseline = "out/baseline.json"

[tool.replaygate.graders]
exact_choice = 0.6
constraints = 0.2
judge = 0.2
"""
# The judge prompt as committed (nothing rewrites it; --optimize changes only the agent's prompt).
JUDGE = (REPO / "prompts" / "judge.md").read_text(encoding="utf-8")
TEST_MODULE = """
from evals.rooms.suite import room_suite
from evals.sim import SimTransport

SUITE = room_suite(double=SimTransport)


def test_room_task(eval_case):
    eval_case.check()
"""


def test_the_plugin_records_through_entra_id_and_replays_with_no_credential_and_no_azure_package(
        pytester, monkeypatch, sim_url, no_azure_env):
    pytester.syspathinsert(REPO)
    write_tasks(pytester.path)
    for name, text in (("pyproject.toml", PYPROJECT), ("judge.md", JUDGE), ("conftest.py", ""), ("test_rooms.py", TEST_MODULE)):
        (pytester.path / name).write_text(text, encoding="utf-8")
    credential = FakeCredential(lifetime_s=3600)
    monkeypatch.setattr(backend_module, "default_credential", lambda needed_by, fallback: credential)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", sim_url)
    monkeypatch.setenv("AZURE_OPENAI_JUDGE_DEPLOYMENT", "judge-dep")
    args = ("-p", "no:hypothesispytest", "-p", "no:xdist", "--results-json", "out/results.json")

    recorded = pytester.runpytest(*args, "--llm=azure", "--eval-record-mode=once")
    recorded.assert_outcomes(passed=3)
    assert credential.calls == 1 and credential.scopes == [(OPENAI_SCOPE,)]
    written = [p for folder in ("recorded", "out") for p in (pytester.path / folder).rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"a.r0.json", "scores.md", "results.json"}
    for file in written:
        text = file.read_text(encoding="utf-8")
        assert not any(token in text for token in credential.issued), file
        assert not find_secrets(text, []), file
    assert audit_files(written, []) == ([], len(written))

    for name in ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_JUDGE_DEPLOYMENT"):
        monkeypatch.delenv(name)
    credential.refuse = True
    monkeypatch.setitem(sys.modules, "azure.identity", None)
    monkeypatch.setattr(httpx2.AsyncHTTPTransport, "handle_async_request", None)  # no network either
    pytester.runpytest(*args).assert_outcomes(passed=3)


# --- nothing secret is recorded ------------------------------------------------------------------------


def test_the_authorization_header_with_a_bearer_token_never_reaches_a_cassette():
    token = jwt(7)
    request = Request("POST", f"{AOAI}/openai/deployments/d/chat/completions?api-version=2024-10-21&access_token={token}",
                      b"{}", {"Authorization": f"Bearer {token}", "Content-Type": "application/json", ROLE_HEADER: "agent"})
    kept = scrub_request(request)
    assert dict(kept.headers) == {"Content-Type": "application/json"}
    assert token not in kept.uri and "api-version=2024-10-21" in kept.uri


@pytest.mark.parametrize("leak", [jwt(3), f"Bearer {'Zx9' * 8}"], ids=["jwt", "bearer"])
def test_the_write_time_scan_and_the_audit_refuse_bearer_tokens(tmp_path, leak):
    body = json.dumps({"messages": [{"role": "user", "content": f"token {leak}"}]})
    cassette = {"requests": [Request("POST", "http://x/v1/chat/completions", body, {})],
                "responses": [{"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": "{}"}}]}
    path = tmp_path / "case.r0.json"
    with pytest.raises(SecretLeakError) as info:
        AtomicPersister().save_cassette(path, cassette, ReadableJsonSerializer)
    message = str(info.value)
    assert message.startswith(f"{path}: refusing to write, it would contain a") and "\n" not in message
    assert "keep credentials and tokens out of" in message and leak not in message and not path.exists()
    with pytest.raises(SecretLeakError, match="refusing to write"):
        write_report(tmp_path / "scores.md", f"answer {leak}\n", [])
    hits = scan_text("scores.md", f"# Scores\n\nanswer {leak}\n", [])
    assert [hit.line for hit in hits] == [3] and leak not in str(hits)
    assert find_secrets("ids chatcmpl-sim-1a2b3c and eyJ without dots, a bearer of news", []) == []


# --- portable cassettes ----------------------------------------------------------------------------------


def test_every_azure_route_is_the_endpoint_a_replay_asks_for():
    for path in ("/openai/deployments/dep/chat/completions", "/api/projects/v2-team/openai/v1/chat/completions",
                 "/openai/v1/chat/completions"):
        assert endpoint_of(path) == endpoint_of("/v1/chat/completions") == "chat/completions"
    for path in ("/openai/responses", "/openai/v1/responses", "/api/projects/proj/openai/v1/responses"):
        assert endpoint_of(path) == endpoint_of("/v1/responses") == "responses"


# --- one line for each failure --------------------------------------------------------------------------


def one_line(info) -> str:
    message = str(info.value)
    assert "\n" not in message, message
    return message


@pytest.mark.parametrize("env, needed", [
    ({"AZURE_OPENAI_ENDPOINT": AOAI}, "AZURE_OPENAI_API_KEY is not set, so AZURE_OPENAI_ENDPOINT takes Entra ID auth"),
    ({"AZURE_OPENAI_ENDPOINT": AOAI, "AZURE_OPENAI_AUTH": "entra", "AZURE_OPENAI_API_KEY": "k" * 32},
     "AZURE_OPENAI_AUTH=entra asks for Entra ID auth"),
    ({"AZURE_AI_PROJECT_ENDPOINT": PROJECT}, "AZURE_AI_PROJECT_ENDPOINT takes Entra ID auth"),
], ids=["no-key", "asked", "foundry"])
def test_without_azure_identity_the_error_says_what_to_install(without_azure_identity, env, needed):
    with pytest.raises(InputError) as info:
        resolve_backend("azure", False, env, {})
    message = one_line(info)
    assert message.startswith(f"--llm=azure: {needed}, which needs azure-identity; {INSTALL}")
    assert message.endswith("or set AZURE_OPENAI_API_KEY") == ("AZURE_OPENAI_ENDPOINT" in env)


def test_a_credential_that_finds_nothing_says_to_sign_in_once_per_run():
    class DefaultAzureCredential:
        calls = 0

        def get_token(self, *scopes):
            DefaultAzureCredential.calls += 1
            raise RuntimeError("DefaultAzureCredential failed to retrieve a token.\nAttempted credentials: ...")

    backend = Backend("azure", "a", base_url=AOAI, api_version="v", credential=DefaultAzureCredential())
    with httpx2.Client(transport=SimTransport()) as http:
        client = backend.client("agent", http, 5.0)
        for _ in range(2):
            with pytest.raises(AzureAuthError) as info:
                chat(client)
    message = one_line(info)
    assert message.startswith(f"Entra ID: DefaultAzureCredential found no credential for {OPENAI_SCOPE} (RuntimeError: ")
    assert "run `az login`" in message and "AZURE_CLIENT_SECRET" in message and message.endswith("or set AZURE_OPENAI_API_KEY")
    assert DefaultAzureCredential.calls == 1  # a credential that found nothing is not asked again per case

    class Broken:
        def get_token(self, *scopes):
            raise ValueError("tenant not found")

    tokens = BearerTokens(Broken(), FOUNDRY_SCOPE)
    with pytest.raises(AzureAuthError, match=rf"^Entra ID: Broken.get_token\({FOUNDRY_SCOPE}\) failed "
                                             r"\(ValueError: tenant not found\); fix that credential$"):
        tokens()


def refusal(status: int, code: str, message: str):
    return httpx2.MockTransport(lambda request: httpx2.Response(status, json={"error": {"code": code, "message": message}}))


@pytest.mark.parametrize("backend, status, expected", [
    (Backend("azure", "a", base_url=AOAI, api_version="v", credential=FakeCredential()), 401,
     f"; {AOAI} refused the Entra ID token for scope {OPENAI_SCOPE}: give the signed-in identity the "
     "'Cognitive Services OpenAI User' role on that resource (it takes a few minutes to apply), then re-run"),
    (Backend("azure", "a", base_url=PROJECT + "/openai/v1", foundry=True, credential=FakeCredential()), 403,
     f"; {PROJECT} refused the Entra ID token for scope {FOUNDRY_SCOPE}: give the signed-in identity the "
     "'Azure AI User' role on that project"),
    (Backend("azure", "a", base_url=AOAI, api_key="k" * 32, api_version="v"), 401,
     f"; {AOAI} refused AZURE_OPENAI_API_KEY: use a key of that resource"),
], ids=["entra", "foundry", "key"])
def test_a_refused_token_or_key_names_the_endpoint_and_what_to_grant(backend, status, expected):
    async def run():
        async with httpx2.AsyncClient(transport=refusal(status, "PermissionDenied", "Principal does not have access.")) as http:
            client = backend.client("agent", http, 5.0)
            return await run_tool_loop(client, Decoding(model="m"), [{"role": "user", "content": "hi"}], [], task_id="t")

    rollout = asyncio.run(run())
    # A refused key or token is the infrastructure's: an error naming the URL and status, never a score.
    assert rollout.error_kind == "infra" and rollout.error.startswith("infrastructure error: https://res.")
    assert ":443/" in rollout.error and f" answered {status} (" in rollout.error
    assert expected in rollout.error and "\n" not in rollout.error


def test_a_missing_deployment_names_it_and_its_variable_on_both_routes(root, sim_url):
    # Foundry, through the tool loop; the deployment came from the environment.
    env = {**route_env("foundry", sim_url), "AZURE_OPENAI_AGENT_DEPLOYMENT": MISSING_DEPLOYMENT}
    backend = resolve_backend("azure", False, env, {}, credential=FakeCredential())
    (result, *_) = evaluation(root, backend).run(evaluation(root, backend).loaded.tasks[:1])
    assert result.rollout.error_kind == "infra" and " answered 404 (NotFoundError: " in result.rollout.error
    assert result.rollout.error.endswith(
        f"; deployment '{MISSING_DEPLOYMENT}' does not exist at {sim_url}/api/projects/proj (named by "
        "AZURE_OPENAI_AGENT_DEPLOYMENT): set AZURE_OPENAI_AGENT_DEPLOYMENT to one that the project's Deployments page lists")

    # Azure's deployment route, through a sync solver; the deployment came from pyproject.
    (root / "ask.md").write_text("{q}\n", encoding="utf-8")
    ask = Suite("ask", solver=lambda inp, client, prompt: chat(client).choices[0].message.content,
                tasks=[Task("t1", {"q": "hi"}, "x")], prompt="ask.md", graders=[graders.ExactMatch()])
    backend = resolve_backend("azure", False, {"AZURE_OPENAI_ENDPOINT": sim_url}, {"agent": MISSING_DEPLOYMENT},
                              credential=FakeCredential())
    config = load_config(None, {}, suite="ask", code=ask.code_settings())
    (result,) = Evaluation(ask, config, root, backend).run([Task("t1", {"q": "hi"}, "x")])
    assert result.rollout.error.endswith(
        f"; deployment '{MISSING_DEPLOYMENT}' does not exist at {sim_url} (named by [tool.replaygate.azure] "
        "agent_deployment): set AZURE_OPENAI_AGENT_DEPLOYMENT to one that the resource's Deployments page lists")


@pytest.mark.parametrize("env, expected", [
    ({"AZURE_OPENAI_ENDPOINT": f"{AOAI}/openai/deployments/d/chat/completions?api-key=SECRET-in-url"},
     f"--llm=azure: AZURE_OPENAI_ENDPOINT={AOAI}/openai/deployments/d/chat/completions is not an Azure OpenAI endpoint; "
     "set it to the resource's https URL with no path, e.g. https://<resource>.openai.azure.com/"),
    ({"AZURE_OPENAI_ENDPOINT": "http://res.openai.azure.com"}, "is not an Azure OpenAI endpoint"),
    ({"AZURE_OPENAI_ENDPOINT": PROJECT}, f"AZURE_OPENAI_ENDPOINT={PROJECT} is a Foundry project endpoint; "
                                         "set it as AZURE_AI_PROJECT_ENDPOINT instead"),
    ({"AZURE_AI_PROJECT_ENDPOINT": PROJECT + "/openai/v1"},
     f"--llm=azure: AZURE_AI_PROJECT_ENDPOINT={PROJECT}/openai/v1 is not a Foundry project endpoint; set it to "
     "https://<resource>.services.ai.azure.com/api/projects/<project> (the project's overview page shows it)"),
    ({"AZURE_AI_PROJECT_ENDPOINT": AOAI}, "is not a Foundry project endpoint"),
    ({"AZURE_OPENAI_ENDPOINT": AOAI, "AZURE_OPENAI_AUTH": "msi"}, "AZURE_OPENAI_AUTH='msi' is unknown; set it to key or entra"),
    ({"AZURE_OPENAI_ENDPOINT": AOAI, "AZURE_OPENAI_AUTH": "key"}, "AZURE_OPENAI_AUTH=key but AZURE_OPENAI_API_KEY is not set"),
    ({"AZURE_AI_PROJECT_ENDPOINT": PROJECT, "AZURE_OPENAI_AUTH": "key"}, "AZURE_AI_PROJECT_ENDPOINT takes Entra ID auth only"),
], ids=["deployment-url", "http", "project-in-openai", "v1-suffix", "not-foundry", "auth-unknown", "auth-key", "foundry-key"])
def test_an_endpoint_of_the_wrong_shape_is_one_line_that_says_what_to_set(env, expected):
    with pytest.raises(InputError) as info:
        resolve_backend("azure", False, env, {}, credential=FakeCredential())
    message = one_line(info)
    assert expected in message and "SECRET" not in message
