"""The loopback endpoint on its own: real SDK clients and raw HTTP over 127.0.0.1, to case routes made here.

Each route sends on an in-process transport (a FunctionModel, or one written here to see what arrives),
on an event loop in a thread of its own, as a run's cases do.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx2
import openai
import pytest

from replaygate import FunctionModel
from replaygate.capture import endpoint
from replaygate.capture.endpoint import PLACEHOLDER_KEY, serving
from replaygate.capture.route import CAPTURED, CaseRoute, routing
from replaygate.run.evaluation import LoopThread

LOOPBACK_VARIABLES = ("OPENAI_BASE_URL", "OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY",
                      "OPENAI_API_VERSION")


def echo(request) -> str:
    return f"{request.model}: {request.messages[-1]['content']}"


@pytest.fixture
def run_loop():
    loop = LoopThread()
    yield loop.loop
    loop.close()


@pytest.fixture
def clean_environment(monkeypatch):
    for name in LOOPBACK_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def route(loop, transport, case: str = "suite/model/a.r0.json", name: str = "a") -> CaseRoute:
    return CaseRoute(case=case, trace=None, transport=transport, loop=loop, name=name)


class Seen(httpx2.AsyncBaseTransport):
    """Answers 200 with a fixed chat completion and keeps every request it was sent."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        self.requests.append(request)
        body = {"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
        return httpx2.Response(200, json=body)


def test_sdk_clients_reach_their_case_by_its_url_and_by_the_environment(run_loop, clean_environment):
    case = route(run_loop, FunctionModel(echo)())
    with serving(), routing(case):
        chat = openai.OpenAI(base_url=case.base_url, api_key="x", max_retries=0)
        answer = chat.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content == "gpt-x: hi" and answer.usage.total_tokens > 0

        async def responses() -> str:
            async with openai.AsyncOpenAI(base_url=case.base_url, api_key="x", max_retries=0) as client:
                return (await client.responses.create(model="gpt-y", input="yo")).output_text

        assert asyncio.run(responses()) == "gpt-y: yo"
        # Built with no arguments: the environment points at the root, which serves the one running case.
        assert openai.OpenAI(max_retries=0).responses.create(model="m", input="env").output_text == "m: env"
        azure = openai.AzureOpenAI(azure_deployment="dep-1", max_retries=0)
        reply = azure.chat.completions.create(model="ignored", messages=[{"role": "user", "content": "az"}])
        assert reply.choices[0].message.content.endswith(": az")
        # Azure's route under the case's own URL, and a GET.
        own_azure = openai.AzureOpenAI(azure_endpoint=case.base_url.removesuffix("/v1"), api_key="x",
                                       api_version="2024-10-21", max_retries=0)
        reply = own_azure.chat.completions.create(model="dep-2", messages=[{"role": "user", "content": "own"}])
        assert reply.choices[0].message.content == "dep-2: own"
        assert list(chat.models.list()) == []
    assert case.calls == 6


def test_a_request_on_a_kept_connection_is_answered_at_once(run_loop, clean_environment):
    """Small writes are not held back (Nagle against the client's delayed ACK would add 40 ms to each)."""
    case = route(run_loop, FunctionModel(echo)())
    with serving(), routing(case), httpx2.Client() as http:
        took = []
        for _ in range(9):
            started = time.perf_counter()
            http.post(f"{case.base_url}/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
            took.append(time.perf_counter() - started)
    assert sorted(took)[4] < 0.03, took


def test_the_root_refuses_with_one_line_when_two_cases_run_and_unknown_tokens_get_404(run_loop, clean_environment):
    first, second = route(run_loop, Seen(), "s/m/first.r0.json", "first"), route(run_loop, Seen(), "s/m/second.r0.json", "second")
    with serving() as server, routing(first), routing(second):
        response = httpx2.post(f"{server.root}/v1/chat/completions", json={"model": "m", "messages": []})
        message = response.json()["error"]["message"]
        assert response.status_code == 400 and response.headers["x-should-retry"] == "false"
        assert "\n" not in message
        assert "2 cases are running (first, second)" in message and "prompt.base_url" in message
        # The SDK shows the same line, once: the refusal is final, not retried.
        with pytest.raises(openai.BadRequestError, match="2 cases are running"):
            openai.OpenAI().chat.completions.create(model="m", messages=[{"role": "user", "content": "?"}])
        missing = httpx2.get(f"{server.root}/case/feedbeef/v1/models")
        assert missing.status_code == 404 and "no running case has token 'feedbeef'" in missing.json()["error"]["message"]
        assert first.calls == second.calls == 0
    with serving() as server:
        idle = httpx2.get(f"{server.root}/v1/models")
        assert idle.status_code == 400 and "no case is running" in idle.json()["error"]["message"]


def test_streams_pass_through_unbuffered(run_loop, clean_environment):
    """The second event is produced only after the client has read the first: a buffering relay could never finish."""
    first_read = threading.Event()
    finished: list[float] = []

    class Gated(httpx2.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            async def events():
                yield b'data: {"n": 1}\n\n'
                while not first_read.is_set():
                    await asyncio.sleep(0.005)
                yield b'data: {"n": 2}\n\ndata: [DONE]\n\n'
                finished.append(time.perf_counter())

            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=events())

    case = route(run_loop, Gated())
    with serving(), routing(case):
        with httpx2.stream("POST", f"{case.base_url}/chat/completions", json={"stream": True},
                           timeout=httpx2.Timeout(10.0)) as response:
            assert response.headers["transfer-encoding"] == "chunked" and "content-length" not in response.headers
            lines = response.iter_lines()
            assert next(lines) == 'data: {"n": 1}'
            assert not finished  # the model is still producing
            first_read.set()
            assert [line for line in lines if line] == ['data: {"n": 2}', "data: [DONE]"]
    assert finished


def test_the_case_gets_a_stable_address_and_never_the_clients_credentials(run_loop, clean_environment):
    seen = Seen()
    case = route(run_loop, seen)
    with serving(), routing(case):
        httpx2.post(f"{case.base_url}/chat/completions?api-version=2024-10-21", json={"model": "m"},
                    headers={"authorization": "Bearer sk-users-own", "api-key": "azure-own",
                             "x-evals-case": "other/case.r0.json", "openai-beta": "assistants=v2"})
    sent = seen.requests[0]
    # No port, no token: a re-record writes the same URI; record and live runs retarget it to the backend.
    assert str(sent.url) == "http://loopback.invalid/v1/chat/completions?api-version=2024-10-21"
    assert sent.extensions[CAPTURED] is True
    assert not {"authorization", "api-key", "x-evals-case"} & set(sent.headers) and sent.headers["openai-beta"] == "assistants=v2"


def test_concurrent_cases_stay_apart(run_loop, clean_environment):
    cases = [route(run_loop, FunctionModel(echo)(), f"s/m/c{i}.r0.json", f"c{i}") for i in range(8)]

    def agent(case: CaseRoute) -> list[str]:
        client = openai.OpenAI(base_url=case.base_url, api_key="x", max_retries=0)
        return [client.chat.completions.create(model=case.name, messages=[{"role": "user", "content": str(turn)}])
                .choices[0].message.content for turn in range(3)]

    with serving(), ExitStack() as running:
        for case in cases:
            running.enter_context(routing(case))
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(agent, cases))
        assert answers == [[f"c{i}: {turn}" for turn in range(3)] for i in range(8)]
        assert [case.calls for case in cases] == [3] * 8


def test_the_environment_points_at_the_loopback_during_a_run_and_is_restored_exactly(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-users-own")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://proxy.example/v1")
    for name in ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OPENAI_API_VERSION"):
        monkeypatch.delenv(name, raising=False)
    before = {name: os.environ.get(name) for name in LOOPBACK_VARIABLES}
    with serving() as server:
        with serving():  # nested runs share the server and the environment
            assert os.environ["OPENAI_BASE_URL"] == f"{server.root}/v1"
        assert os.environ["AZURE_OPENAI_ENDPOINT"] == server.root
        assert os.environ["AZURE_OPENAI_API_KEY"] == PLACEHOLDER_KEY and os.environ["OPENAI_API_VERSION"]
        assert os.environ["OPENAI_API_KEY"] == "sk-users-own"  # the user's own key is left alone
    assert {name: os.environ.get(name) for name in LOOPBACK_VARIABLES} == before


def test_the_server_closes_cleanly_even_with_a_stream_open(run_loop, clean_environment):
    never = asyncio.Event()

    class Endless(httpx2.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            async def events():
                yield b"data: {}\n\n"
                await never.wait()
                yield b""

            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=events())

    case = route(run_loop, Endless())
    threads_before = {t.ident for t in threading.enumerate()}
    with serving() as server, routing(case):
        port = int(server.root.rsplit(":", 1)[1])
        client = httpx2.Client(timeout=10)
        stream = client.stream("POST", f"{case.base_url}/chat/completions", json={})
        response = stream.__enter__()
        raw = response.iter_raw()
        assert next(raw) == b"data: {}\n\n"
    started = time.perf_counter()
    with pytest.raises(httpx2.HTTPError):
        b"".join(raw)  # the server closed the connection mid-stream
    stream.__exit__(None, None, None)
    client.close()
    assert time.perf_counter() - started < 5
    assert {t.ident for t in threading.enumerate()} <= threads_before
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_a_transport_failure_is_answered_with_one_line_and_not_retried(run_loop, clean_environment):
    class Missing(httpx2.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            raise RuntimeError("case a (repeat 0): no recording in tapes/a.r0.json:\n the cassette file does not exist")

    case = route(run_loop, Missing())
    with serving(), routing(case):
        with pytest.raises(openai.APIStatusError) as raised:
            openai.OpenAI(base_url=case.base_url, api_key="x").chat.completions.create(model="m", messages=[])
    assert raised.value.status_code == 502
    assert raised.value.message.endswith("replaygate loopback: RuntimeError: case a (repeat 0): no recording in "
                                            "tapes/a.r0.json: the cassette file does not exist")
    assert case.calls == 1  # the SDK's retries were turned down
    assert isinstance(case.failure, RuntimeError)  # the case fails with it, whatever the agent made of the 502


def test_a_blocked_case_loop_is_answered_not_waited_on_forever(clean_environment, monkeypatch):
    monkeypatch.setattr(endpoint, "START_TIMEOUT_S", 0.3)
    blocked = asyncio.new_event_loop()  # never run: as the loop of an async solver stuck in subprocess.run
    case = route(blocked, Seen())
    try:
        with serving(), routing(case):
            response = httpx2.post(f"{case.base_url}/chat/completions", json={}, timeout=10)
        assert response.status_code == 503
        assert "asyncio.create_subprocess_exec" in response.json()["error"]["message"]
    finally:
        blocked.run_until_complete(asyncio.sleep(0.01))  # unblocked at last: the cancelled relay ends unsent
        blocked.close()
    assert case.calls == 0
