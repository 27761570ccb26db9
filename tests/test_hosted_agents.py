"""Hosted agents: the stateful double of the threads/messages/runs API, the capture of the azure-core pipeline
(azure-ai-agents, sync over requests and async over aiohttp) into a case's cassette and trace, and the Foundry
recipe recorded under --llm=sim and replayed with no network."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx2
import pytest

from replaygate.capture.route import CaseRoute, routing
from replaygate.cassettes.cassette import CURRENT_CASE, CaseKey, CassetteLibrary, CassetteMiss
from replaygate.double import FunctionModel, Reply, ToolCall
from replaygate.double.agents import AgentsModel
from replaygate.llm.trace import Trace, TracingTransport

azure_agents = pytest.importorskip("azure.ai.agents", reason="hosted agents come with the test extra: pip install -e '.[test]'")

from azure.ai.agents import AgentsClient  # noqa: E402
from azure.ai.agents.models import FunctionTool, MessageRole, ToolSet  # noqa: E402
from azure.core.credentials import AccessToken  # noqa: E402
from azure.core.exceptions import ServiceRequestError  # noqa: E402

from replaygate.capture import azure_core  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "examples" / "foundry_agent"
ENDPOINT = "https://unit.services.ai.azure.com/api/projects/unit"
BASE = "http://agents.invalid/v1"
# Shaped like an Entra ID access token: the cassette's secret scan would refuse a file holding it.
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2FpLmF6dXJlLmNvbSJ9.c2lnbmF0dXJlLW5vdC1yZWFs"
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "The city's temperature.",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


def weather_model(request):
    """Calls the tool once, then answers from its result; the thread's last user turn names the city."""
    if request.tool_results:
        return f"{json.loads(request.tool_results[0].output)['temp_c']} degrees"
    return ToolCall("get_weather", {"city": request.messages[-1]["content"].split()[-1].rstrip("?")})


def get_weather(city: str) -> str:
    """The city's temperature now.

    :param city: The city's name.
    """
    return json.dumps({"city": city, "temp_c": {"Oslo": 4}.get(city, 20)})


class Credential:
    def get_token(self, *scopes, **kwargs):
        return AccessToken(TOKEN, 2**31 - 1)


class AsyncCredential:
    async def get_token(self, *scopes, **kwargs):
        return AccessToken(TOKEN, 2**31 - 1)

    async def close(self):
        pass


# --- the double, over raw HTTP and the OpenAI SDK ------------------------------------------------------------


def post(http: httpx2.Client, path: str, body: dict | None = None) -> httpx2.Response:
    return http.post(f"{BASE}{path}", json=body or {})


def test_a_run_is_queued_then_in_progress_for_its_polls_then_answers_from_the_thread():
    seen = []

    def model(request):
        seen.append(request)
        return f"you said {request.messages[-1]['content']}"

    http = httpx2.Client(transport=AgentsModel(model, polls=2)())
    assistant = post(http, "/assistants", {"model": "m1", "instructions": "Be brief."}).json()
    thread = post(http, "/threads", {"messages": [{"role": "user", "content": "hello"}]}).json()
    run = post(http, f"/threads/{thread['id']}/runs", {"assistant_id": assistant["id"]}).json()
    assert (assistant["id"], thread["id"], run["id"], run["status"]) == ("asst_1", "thread_1", "run_1", "queued")
    polls = [http.get(f"{BASE}/threads/thread_1/runs/run_1").json() for _ in range(4)]
    assert [p["status"] for p in polls] == ["in_progress", "in_progress", "completed", "completed"]
    assert len(seen) == 1, "a finished run is read, not run again"
    assert seen[0].messages == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]
    assert seen[0].model == "m1" and polls[0]["usage"] is None
    assert polls[2]["usage"] == {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
    listed = http.get(f"{BASE}/threads/thread_1/messages").json()
    assert [(m["role"], m["content"][0]["text"]["value"], m["run_id"]) for m in listed["data"]] == [
        ("assistant", "you said hello", "run_1"), ("user", "hello", None)]  # newest first, as the service lists


def test_tool_calls_wait_for_their_outputs_and_the_model_sees_them():
    http = httpx2.Client(transport=AgentsModel(weather_model, polls=0)())
    post(http, "/assistants", {"model": "m", "tools": [WEATHER]})
    post(http, "/threads")
    post(http, "/threads/thread_1/messages", {"role": "user", "content": "Weather in Oslo?"})
    post(http, "/threads/thread_1/runs", {"assistant_id": "asst_1"})
    waiting = http.get(f"{BASE}/threads/thread_1/runs/run_1").json()
    assert waiting["status"] == "requires_action"
    [call] = waiting["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert call == {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
    # A second poll asks again; a message cannot join the thread while the run waits.
    assert http.get(f"{BASE}/threads/thread_1/runs/run_1").json()["required_action"] == waiting["required_action"]
    refused = post(http, "/threads/thread_1/messages", {"role": "user", "content": "hurry"})
    assert refused.status_code == 400 and "active run" in refused.json()["error"]["message"]
    wrong = post(http, "/threads/thread_1/runs/run_1/submit_tool_outputs",
                 {"tool_outputs": [{"tool_call_id": "call_9", "output": "{}"}]})
    assert wrong.status_code == 400
    assert wrong.json()["error"]["message"] == ("run run_1 awaits outputs for call_1; got call_9: send one output per "
                                                "tool call")
    resumed = post(http, "/threads/thread_1/runs/run_1/submit_tool_outputs",
                   {"tool_outputs": [{"tool_call_id": "call_1", "output": '{"temp_c": 4}'}]}).json()
    assert resumed["status"] == "queued" and resumed["required_action"] is None
    done = http.get(f"{BASE}/threads/thread_1/runs/run_1").json()
    assert done["status"] == "completed"
    # Both steps' words: the run's usage covers the whole run.
    assert done["usage"]["completion_tokens"] == 2 + 2 and done["usage"]["prompt_tokens"] > 0
    assert http.get(f"{BASE}/threads/thread_1/messages?order=asc").json()["data"][-1]["content"][0]["text"]["value"] == "4 degrees"


def test_a_thread_can_be_made_with_its_run_and_a_waiting_run_cancelled():
    http = httpx2.Client(transport=AgentsModel(weather_model, polls=0)())
    post(http, "/assistants", {"model": "m", "tools": [WEATHER]})
    run = post(http, "/threads/runs", {"assistant_id": "asst_1",
                                       "thread": {"messages": [{"role": "user", "content": "Weather in Lisbon?"}]}}).json()
    assert (run["thread_id"], run["id"], run["status"]) == ("thread_1", "run_1", "queued")
    assert http.get(f"{BASE}/threads/thread_1/runs/run_1").json()["status"] == "requires_action"
    cancelled = post(http, "/threads/thread_1/runs/run_1/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["required_action"] is None
    again = post(http, "/threads/thread_1/runs/run_1/cancel")
    assert again.status_code == 400 and "already cancelled" in again.json()["error"]["message"]
    # The thread is free again: a new message and run are taken.
    assert post(http, "/threads/thread_1/messages", {"role": "user", "content": "And Oslo?"}).status_code == 200
    assert post(http, "/threads/thread_1/runs", {"assistant_id": "asst_1"}).json()["id"] == "run_2"


def test_message_lists_page_by_cursor_as_the_sdks_expect():
    http = httpx2.Client(transport=AgentsModel(lambda request: "ok")())
    post(http, "/threads", {"messages": [{"role": "user", "content": f"turn {n}"} for n in range(3)]})
    first = http.get(f"{BASE}/threads/thread_1/messages", params={"order": "asc", "limit": 2}).json()
    assert [m["id"] for m in first["data"]] == ["msg_1", "msg_2"] and first["has_more"] and first["last_id"] == "msg_2"
    rest = http.get(f"{BASE}/threads/thread_1/messages", params={"order": "asc", "after": "msg_2"}).json()
    assert [m["id"] for m in rest["data"]] == ["msg_3"] and not rest["has_more"]
    # azure-ai-agents pages until a page names no last id.
    assert http.get(f"{BASE}/threads/thread_1/messages", params={"after": "msg_1"}).json()["last_id"] is None


def test_each_case_has_its_own_threads_and_ids():
    from replaygate.llm.trace import CURRENT_TRACE, Trace

    http = httpx2.Client(transport=AgentsModel(lambda request: "ok")())
    traces = {case: Trace() for case in ("one", "two")}  # each case (and repeat) runs with a trace of its own
    ids = {}
    for case, trace in traces.items():
        token = CURRENT_TRACE.set(trace)
        try:
            ids[case] = post(http, "/threads").json()["id"]
            if case == "two":
                post(http, "/threads")
        finally:
            CURRENT_TRACE.reset(token)
    assert ids == {"one": "thread_1", "two": "thread_1"}
    token = CURRENT_TRACE.set(traces["one"])
    try:
        missing = http.get(f"{BASE}/threads/thread_2")
    finally:
        CURRENT_TRACE.reset(token)
    assert missing.status_code == 404 and missing.json()["error"]["message"] == (
        "no thread 'thread_2' in this case; create it first")


def test_a_failing_function_fails_the_run_and_bad_requests_get_one_line():
    def broken(request):
        raise ValueError("no weather today")

    http = httpx2.Client(transport=AgentsModel(broken, polls=0, name="weather_double")())
    post(http, "/assistants", {"model": "m"})
    post(http, "/threads", {"messages": [{"role": "user", "content": "hi"}]})
    post(http, "/threads/thread_1/runs", {"assistant_id": "asst_1"})
    failed = http.get(f"{BASE}/threads/thread_1/runs/run_1").json()
    assert failed["status"] == "failed" and failed["usage"] is not None
    assert failed["last_error"] == {"code": "server_error",
                                    "message": "agents test double weather_double raised ValueError: no weather today"}
    unknown = post(http, "/threads/thread_1/runs", {"assistant_id": "asst_7"})
    assert unknown.status_code == 404 and "no assistant 'asst_7' in this case" in unknown.json()["error"]["message"]
    streamed = post(http, "/threads/thread_1/runs", {"assistant_id": "asst_1", "stream": True})
    assert streamed.status_code == 400 and "poll it" in streamed.json()["error"]["message"]
    with pytest.raises(ValueError, match="polls must be an int of 0 or more"):
        AgentsModel(broken, polls=-1)


def test_other_calls_go_to_the_same_function_and_async_functions_work():
    async def model(request):
        return Reply(text="chat ok") if request.messages[-1]["content"] == "ping" else "run ok"

    async def main():
        async with httpx2.AsyncClient(transport=AgentsModel(model, polls=0)()) as http:
            chat = await http.post(f"{BASE}/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "ping"}]})
            await http.post(f"{BASE}/assistants", json={"model": "m"})
            await http.post(f"{BASE}/threads", json={"messages": [{"role": "user", "content": "go"}]})
            await http.post(f"{BASE}/threads/thread_1/runs", json={"assistant_id": "asst_1"})
            run = (await http.get(f"{BASE}/threads/thread_1/runs/run_1")).json()
            return chat.json(), run

    chat, run = asyncio.run(main())
    assert chat["choices"][0]["message"]["content"] == "chat ok" and run["status"] == "completed"
    assert isinstance(AgentsModel(FunctionModel(model, name="m2")).model, FunctionModel)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the Assistants API is deprecated, not gone
def test_the_openai_sdks_beta_threads_and_runs_poll_to_completion():
    import openai

    client = openai.OpenAI(api_key="sk-unit", base_url=BASE, http_client=httpx2.Client(transport=AgentsModel(weather_model, polls=1)()))
    assistant = client.beta.assistants.create(model="m", tools=[WEATHER])
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread.id, role="user", content="Weather in Oslo?")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=0)
    assert run.status == "requires_action"
    [call] = run.required_action.submit_tool_outputs.tool_calls
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(
        thread_id=thread.id, run_id=run.id, poll_interval_ms=0,
        tool_outputs=[{"tool_call_id": call.id, "output": get_weather(**json.loads(call.function.arguments))}])
    assert run.status == "completed" and run.usage.completion_tokens == 4
    [reply] = client.beta.threads.messages.list(thread.id, run_id=run.id).data
    assert reply.content[0].text.value == "4 degrees"


def test_a_trace_counts_each_run_step_once_however_often_it_is_polled():
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
    waiting = {"id": "run_1", "object": "thread.run", "status": "requires_action", "usage": None, "model": "m",
               "required_action": {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [call]}}}
    done = {"id": "run_1", "object": "thread.run", "status": "completed", "model": "m", "required_action": None,
            "usage": {"prompt_tokens": 30, "completion_tokens": 5, "total_tokens": 35}}
    listed = {"object": "list", "data": [
        {"id": "msg_2", "object": "thread.message", "role": "assistant", "created_at": 5,
         "content": [{"type": "text", "text": {"value": "cold", "annotations": []}}]},
        {"id": "msg_1", "object": "thread.message", "role": "assistant", "created_at": 2,
         "content": [{"type": "text", "text": {"value": "Noted.", "annotations": []}}]}]}
    trace = Trace()
    for answer in (waiting, waiting, done, done, listed):
        if answer is done and not any(is_request for is_request, _ in trace.wire):
            trace.wire.append((True, json.dumps({"tool_outputs": [{"tool_call_id": "call_1", "output": "4"}]}).encode()))
        trace.wire.append((False, json.dumps(answer).encode()))
    assert (trace.usage.calls, trace.usage.input_tokens, trace.usage.output_tokens) == (2, 30, 5)
    assert trace.usage.by_model == {"m": [30, 0, 5]}
    assert [(c.name, c.arguments, c.result) for c in trace.tool_calls] == [("get_weather", '{"city":"Oslo"}', "4")]
    assert trace.final_text == "cold"


# --- the azure-core capture ------------------------------------------------------------------------------------


@pytest.fixture
def loop():
    """The run's event loop, in a thread of its own as the harness runs it."""
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join(5)
    running.close()


@pytest.fixture
def captured():
    azure_core.install()
    yield
    azure_core.uninstall()


def case_route(library: CassetteLibrary, loop, case: str = "case-1") -> tuple[CaseRoute, CaseKey]:
    key = CaseKey("hosted", "m", case)
    library.headers_for(key)  # registers the case, as the run does
    return CaseRoute(key.relpath, Trace(), TracingTransport(library.transport()), loop, name=case), key


def ask_weather(polls_after: int = 0, endpoint: str = ENDPOINT) -> tuple[str, list[str]]:
    """A Foundry agent over azure-ai-agents (sync: RequestsTransport): one turn with a tool call; the reply, run ids."""
    with AgentsClient(endpoint=endpoint, credential=Credential()) as agents:
        toolset = ToolSet()
        toolset.add(FunctionTool({get_weather}))
        agents.enable_auto_function_calls(toolset)
        agent = agents.create_agent(model="m", name="w", instructions="Use the tool.", toolset=toolset)
        thread = agents.threads.create()
        agents.messages.create(thread_id=thread.id, role=MessageRole.USER, content="Weather in Oslo?")
        run = agents.runs.create_and_process(thread_id=thread.id, agent_id=agent.id, polling_interval=0)
        for _ in range(polls_after):
            agents.runs.get(thread_id=thread.id, run_id=run.id)
        reply = agents.messages.get_last_message_text_by_role(thread_id=thread.id, role=MessageRole.AGENT)
        return reply.text.value, [run.id, run.status]


def test_azure_agents_sync_records_into_the_cases_cassette_and_replays_polls_in_order(tmp_path, loop, captured):
    recording = CassetteLibrary(tmp_path, "all", AgentsModel(weather_model, polls=2)())
    route, key = case_route(recording, loop)
    with routing(route):
        recorded = ask_weather()
    assert recorded == ("4 degrees", ["run_1", "completed"])
    assert recording.finish(key) == tmp_path / key.relpath  # the secret scan found no token to refuse
    text = (tmp_path / key.relpath).read_text()
    assert TOKEN not in text and "authorization" not in text.lower()
    interactions = json.loads(text)["interactions"]
    polls = [i["response"]["body"]["json"]["status"] for i in interactions
             if i["request"]["method"] == "GET" and re.search(r"/runs/run_1\?api-version=v1$", i["request"]["uri"])]
    assert polls == ["in_progress", "in_progress", "requires_action", "in_progress", "in_progress", "completed"]
    # The trace reads each run step once however often it was polled: a tool call, then the answer.
    trace = route.trace
    assert (trace.usage.calls, trace.usage.output_tokens) == (2, 4) and trace.usage.input_tokens > 0
    assert [(c.name, c.arguments, c.result) for c in trace.tool_calls] == [
        ("get_weather", '{"city":"Oslo"}', '{"city": "Oslo", "temp_c": 4}')]
    assert trace.final_text == "4 degrees"
    assert route.calls == len(interactions)

    # Replay: nothing behind the cassette. Identical polls play in the order they were recorded, and another
    # project's endpoint finds them: the host and the project name are not part of the match.
    replaying = CassetteLibrary(tmp_path, "none", None)
    route, key = case_route(replaying, loop)
    with routing(route):
        assert ask_weather(endpoint="https://other.services.ai.azure.com/api/projects/elsewhere") == recorded
    assert route.trace.usage == trace.usage and route.trace.tool_calls == trace.tool_calls
    # One poll more than was recorded: the case fails with the miss itself, which names the cassette.
    route, key = case_route(CassetteLibrary(tmp_path, "none", None), loop)
    with routing(route), pytest.raises(CassetteMiss, match="has already been played"):
        ask_weather(polls_after=1)


def test_azure_agents_async_over_aiohttp_is_captured_on_the_runs_loop_and_from_another(tmp_path, loop, captured):
    pytest.importorskip("aiohttp", reason="azure-core's async transport is aiohttp's; the test extra brings it")
    from azure.ai.agents.aio import AgentsClient as AsyncAgentsClient
    from azure.core.pipeline.transport import AioHttpTransport

    async def ask(route_loop):
        recording = CassetteLibrary(tmp_path, "all", AgentsModel(lambda request: "async ok", polls=1)())
        route, key = case_route(recording, route_loop or asyncio.get_running_loop(), case=f"async-{route_loop is None}")
        with routing(route):
            async with AsyncAgentsClient(endpoint=ENDPOINT, credential=AsyncCredential()) as agents:
                assert isinstance(agents._client._pipeline._transport, AioHttpTransport)
                agent = await agents.create_agent(model="m", name="w")
                thread = await agents.threads.create()
                await agents.messages.create(thread_id=thread.id, role=MessageRole.USER, content="hi")
                run = await agents.runs.create_and_process(thread_id=thread.id, agent_id=agent.id, polling_interval=0)
                texts = [m.text_messages[0].text.value async for m in agents.messages.list(thread_id=thread.id)]
        recording.finish(key)
        return run.status, texts, route.calls, TOKEN in (tmp_path / key.relpath).read_text()

    for route_loop in (None, loop):  # the solver on the run's own loop, and on a loop of its own
        status, texts, calls, leaked = asyncio.run(ask(route_loop))
        assert (status, texts, leaked) == ("completed", ["async ok", "hi"], False)
        assert calls >= 7


def test_a_recorded_live_call_is_signed_by_the_sdk_but_the_cassette_keeps_no_token(tmp_path, loop, captured):
    """Record against a real service (a loopback one here): the request goes where the SDK pointed, with its token."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen = []

    class Service(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["content-length"]))
            seen.append((self.path, self.headers["authorization"]))
            body = json.dumps({"id": "thread_abc", "object": "thread", "created_at": 1, "metadata": {}}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Service)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        library = CassetteLibrary(tmp_path, "all", httpx2.AsyncHTTPTransport())
        route, key = case_route(library, loop)
        endpoint = f"http://127.0.0.1:{server.server_port}/api/projects/live"
        with routing(route), AgentsClient(endpoint=endpoint, credential=Credential()) as agents:
            # azure-core sends a bearer token over https only unless told; the loopback stands in for https here.
            assert agents.threads.create(enforce_https=False).id == "thread_abc"
    finally:
        server.shutdown()
    assert seen == [("/api/projects/live/threads?api-version=v1", f"Bearer {TOKEN}")]
    library.finish(key)
    text = (tmp_path / key.relpath).read_text()
    assert TOKEN not in text and "authorization" not in text.lower() and route.calls == 1


def test_only_model_and_agent_calls_in_a_case_are_captured(tmp_path, loop, captured):
    from azure.core.pipeline.transport import RequestsTransport
    from azure.core.rest import HttpRequest

    with socket.socket() as probe:  # a loopback port nothing listens on: the original transport fails fast there
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    route, _ = case_route(CassetteLibrary(tmp_path, "none", None), loop)
    transport = RequestsTransport()
    with routing(route), pytest.raises(ServiceRequestError):
        transport.send(HttpRequest("POST", f"http://127.0.0.1:{closed}/tenant/oauth2/v2.0/token"))  # sign-in: not a model call
    assert route.calls == 0
    with pytest.raises(ServiceRequestError):  # no case is running: left to the network
        transport.send(HttpRequest("GET", f"http://127.0.0.1:{closed}/api/projects/p/threads/thread_1"))


def test_install_and_uninstall_put_azure_cores_transports_back(monkeypatch):
    from azure.core.pipeline.transport import RequestsTransport

    original = RequestsTransport.__dict__["send"]
    azure_core.install()
    azure_core.install()
    azure_core.uninstall()
    assert RequestsTransport.__dict__["send"] is not original  # calls nest
    azure_core.uninstall()
    assert RequestsTransport.__dict__["send"] is original and not azure_core.installed()
    # A run whose code never loaded azure-core does not load it (nor patch anything).
    monkeypatch.delitem(sys.modules, "azure.core")
    azure_core.install()
    try:
        assert RequestsTransport.__dict__["send"] is original
    finally:
        azure_core.uninstall()


# --- the recipe, end to end --------------------------------------------------------------------------------------


def no_network() -> list[str]:
    """A prefix running a command in a network namespace with no interfaces up, when this machine allows one."""
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        if shutil.which(prefix[0]) and subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return []


def run_pytest(root: Path, *args: str, prefix: list[str] = ()) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_", "EVALS_", "PYTEST_"))}
    done = subprocess.run([*prefix, sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"pytest {' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
    return done.stdout


def results(root: Path) -> list[tuple]:
    cases = json.loads((root / "reports" / "scores.json").read_text())["suites"]["foundry_agent"]["cases"]
    return sorted((c["task_id"], c["chosen"], c["score"], tuple(sorted(c["grader_scores"].items())), c["tokens_in"],
                   c["tokens_out"]) for c in cases)


def tables(root: Path) -> list[str]:
    """The parts of scores.md that read the results (not the mode): tokens, graders and tasks, cells unpadded."""
    text = (root / "reports" / "scores.md").read_text()
    parts = re.findall(r"^\| tokens in / out .*$", text, re.M) + re.findall(r"^## (?:Graders|Tasks)\n.*?(?=^#|\Z)", text, re.M | re.S)
    return [re.sub(r" *\| *", "|", re.sub(r"-{3,}", "---", part)) for part in parts]


@pytest.mark.slow(reason="records and replays the recipe in two pytest subprocesses (4 to 13 s)")
def test_the_foundry_recipe_records_under_the_double_and_replays_offline_with_the_same_results(tmp_path):
    shutil.copytree(RECIPE, tmp_path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("cassettes", "reports", "__pycache__"))
    run_pytest(tmp_path, "--llm=sim", "--eval-record-mode=all", "--update-baseline")
    recorded, recorded_tables = results(tmp_path), tables(tmp_path)
    tapes = sorted((tmp_path / "cassettes" / "foundry_agent").rglob("*.json"))
    assert [p.name for p in tapes] == ["cairo.r0.json", "lisbon.r0.json", "oslo.r0.json"]
    text = tapes[0].read_text()
    assert "authorization" not in text.lower() and "offline-placeholder" not in text
    uris = [i["request"]["uri"] for i in json.loads(text)["interactions"]]
    assert uris.count("https://offline.services.ai.azure.com/api/projects/recipe/threads/thread_1/runs/run_2?api-version=v1") == 6

    prefix = no_network()
    replay = run_pytest(tmp_path, prefix=prefix)
    assert "foundry_agent: 3 cases (replay), 3 passed" in replay
    assert results(tmp_path) == recorded and tables(tmp_path) == recorded_tables
    for task, chosen, score, grader_scores, tokens_in, tokens_out in recorded:
        assert score == 1.0 and dict(grader_scores)["tool_called:get_weather"] == 1.0 and tokens_in > 0 and tokens_out > 0
    if not prefix:
        pytest.skip("replayed, but this machine cannot make a network namespace (unshare -n) to prove it offline")


def test_the_docs_show_the_recipe_as_it_is_and_their_example_runs():
    text = (REPO / "docs" / "hosted-agents.md").read_text()
    solver, example = re.findall(r"```python\n(.*?)```", text, re.S)
    [prompt] = re.findall(r"```text\n(.*?)```", text, re.S)
    assert solver in (RECIPE / "test_foundry_agent.py").read_text()
    assert prompt == (RECIPE / "prompt.md").read_text()
    exec(compile(example, "docs/hosted-agents.md", "exec"), {})
