"""Capture: a solver's model calls go through its case's cassette and trace whatever client sends them.

Each solver below ignores the `client` it is handed and builds its own (the OpenAI SDK, async or sync,
or plain httpx2) pointed at https://api.openai.com/v1 with a dummy key. It is recorded under the
suite's FunctionModel (--llm=sim, record mode all) and replayed offline, and both runs must agree on
answers, scores, tokens and tool calls; no socket is opened in either.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import openai
import pytest

from replaygate import FunctionModel, Prompt, Suite, ToolCall, graders
from replaygate.capture import guard, patch
from replaygate.core.config import load_config
from replaygate.run.evaluation import Evaluation
from replaygate.llm.backend import REPLAY_BASE_URL, SIM_BASE_URL, Backend

OUTSIDE = "https://api.openai.com/v1"
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"who": {"type": "string"}}}}}
TASKS = [{"id": "ann", "input": {"who": "ann"}, "expected": "gold"}, {"id": "bob", "input": {"who": "bob"}, "expected": "basic"}]
PLANS = {"ann": "gold", "bob": "basic"}


def model(request):
    """Looks the customer up once, then answers from the tool's result."""
    if not request.tool_results:
        return ToolCall("lookup", {"who": request.messages[-1]["content"]})
    return json.loads(request.tool_results[0].output)["plan"]


def follow_up(prompt: Prompt, message: dict) -> list[dict]:
    call = message["tool_calls"][0]
    who = json.loads(call["function"]["arguments"])["who"]
    return [*prompt.messages, message, {"role": "tool", "tool_call_id": call["id"], "content": json.dumps({"plan": PLANS[who]})}]


async def own_async_client(inp, client, prompt: Prompt):
    own = openai.AsyncOpenAI(base_url=OUTSIDE, api_key="x", max_retries=0)
    first = (await own.chat.completions.create(**prompt.chat(tools=[TOOL]))).choices[0].message
    messages = follow_up(prompt, first.model_dump(exclude_none=True))
    return (await own.chat.completions.create(**prompt.chat(messages=messages, tools=[TOOL]))).choices[0].message.content


def own_sync_client(inp, client, prompt: Prompt):
    own = openai.OpenAI(base_url=OUTSIDE, api_key="x", max_retries=0)
    first = own.chat.completions.create(**prompt.chat(tools=[TOOL])).choices[0].message
    messages = follow_up(prompt, first.model_dump(exclude_none=True))
    return own.chat.completions.create(**prompt.chat(messages=messages, tools=[TOOL])).choices[0].message.content


async def raw_httpx2(inp, client, prompt: Prompt):
    async with httpx2.AsyncClient(base_url=OUTSIDE, headers={"authorization": "Bearer x"}) as http:
        first = (await http.post("/chat/completions", json=prompt.chat(tools=[TOOL]))).json()["choices"][0]["message"]
        final = await http.post("/chat/completions", json=prompt.chat(messages=follow_up(prompt, first), tools=[TOOL]))
        return final.json()["choices"][0]["message"]["content"]


def in_a_thread(inp, client, prompt: Prompt):
    """Sync; the first call happens in a thread the solver starts, the second in a pool it submits to."""
    own = openai.OpenAI(base_url=OUTSIDE, api_key="x", max_retries=0)
    first: list[dict] = []
    worker = threading.Thread(target=lambda: first.append(
        own.chat.completions.create(**prompt.chat(tools=[TOOL])).choices[0].message.model_dump(exclude_none=True)))
    worker.start()
    worker.join()
    with ThreadPoolExecutor(max_workers=1) as pool:
        final = pool.submit(own.chat.completions.create, **prompt.chat(messages=follow_up(prompt, first[0]), tools=[TOOL]))
        return final.result().choices[0].message.content


def asyncio_in_a_thread(inp, client, prompt: Prompt):
    """Sync solver running an event loop of its own (as some frameworks do) around an own async client."""
    return asyncio.run(own_async_client(inp, client, prompt))


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVALS_AGENT_MODEL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    (tmp_path / "prompt.md").write_text("[system]\nName the customer's plan; look it up.\n[user]\n{who}\n")
    (tmp_path / "tasks.yaml").write_text("".join(f"- {json.dumps(t)}\n" for t in TASKS))
    return tmp_path


@pytest.fixture
def no_sockets(monkeypatch):
    """Any connection attempt, by anyone, fails the test: capture must answer before the network."""
    tried: list[object] = []

    def refuse(self, address):
        tried.append(address)
        raise AssertionError(f"a socket tried to connect to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return tried


def run(root: Path, solver, backend: Backend, record_mode: str = "none", **settings):
    declared = Suite("plans", solver=solver, tasks="tasks.yaml", prompt="prompt.md", double=FunctionModel(model),
                     graders=[graders.ExactMatch(), graders.ToolCalled("lookup", times=1)])
    config = load_config(None, {"cassettes": "tapes", "models.agent": "double", **settings}, suite=declared.name,
                         code=declared.code_settings())
    evaluation = Evaluation(declared, config, root, backend, record_mode, {})
    return evaluation.run(list(evaluation.loaded.tasks))


def summary(results) -> list[tuple]:
    return [(r.task.id, r.failure, r.rollout.answer, r.value, r.rollout.usage.calls, r.rollout.usage.input_tokens,
             r.rollout.usage.output_tokens, [(c.name, c.arguments) for c in r.rollout.tool_calls], r.rollout.model_calls)
            for r in results]


SIM = Backend("sim", "double", base_url=SIM_BASE_URL)
REPLAY = Backend("replay", "replay", base_url=REPLAY_BASE_URL)


@pytest.mark.parametrize("solver", [own_async_client, own_sync_client, raw_httpx2, in_a_thread, asyncio_in_a_thread],
                         ids=["own-async-openai", "own-sync-openai", "raw-httpx2", "thread-and-pool", "own-loop-in-thread"])
def test_a_client_the_solver_builds_is_recorded_and_replayed(project, no_sockets, solver):
    recorded = run(project, solver, SIM, "all")
    assert [r.failure for r in recorded] == [None, None]
    assert [(r.rollout.answer, r.value) for r in recorded] == [("gold", 1.0), ("basic", 1.0)]
    first = recorded[0].rollout
    assert first.usage.calls == 2 and first.model_calls == 2
    assert first.usage.input_tokens > 0 and first.usage.output_tokens > 0
    assert [(c.name, json.loads(c.arguments)) for c in first.tool_calls] == [("lookup", {"who": "ann"})]
    tape = json.loads((project / "tapes/plans/double/ann.r0.json").read_text())
    assert len(tape["interactions"]) == 2
    # Recorded as the client sent it (the host is ignored when matching), without its dummy key.
    assert "Bearer x" not in json.dumps(tape)

    replayed = run(project, solver, REPLAY)
    assert summary(replayed) == summary(recorded)
    assert no_sockets == []
    assert not patch.installed() and not guard.installed()  # nothing stays patched after a run


def test_the_handed_client_counts_its_calls_and_nothing_stays_patched(project):
    async def handed(inp, client, prompt):
        first = (await client.chat.completions.create(**prompt.chat(tools=[TOOL]))).choices[0].message
        messages = follow_up(prompt, first.model_dump(exclude_none=True))
        return (await client.chat.completions.create(**prompt.chat(messages=messages, tools=[TOOL]))).choices[0].message.content

    original = (httpx2.AsyncHTTPTransport.handle_async_request, threading.Thread.start, socket.socket.connect,
                socket.getaddrinfo, ThreadPoolExecutor.submit)
    results = run(project, handed, SIM)
    assert [(r.rollout.answer, r.rollout.model_calls) for r in results] == [("gold", 2), ("basic", 2)]
    assert (httpx2.AsyncHTTPTransport.handle_async_request, threading.Thread.start, socket.socket.connect,
            socket.getaddrinfo, ThreadPoolExecutor.submit) == original
    assert "connect" not in vars(socket.socket)  # restored as inherited, not as a copy


def test_concurrent_cases_stay_apart(project, no_sockets):
    """Two cases in flight at once, each in its own thread with its own client: each tape holds only its own calls."""
    both_started = threading.Barrier(2, timeout=10)

    def solver(inp, client, prompt):
        both_started.wait()  # neither finishes before the other began
        return own_sync_client(inp, client, prompt)

    recorded = run(project, solver, SIM, "all")
    assert [(r.task.id, r.rollout.answer) for r in recorded] == [("ann", "gold"), ("bob", "basic")]
    for who in ("ann", "bob"):
        tape = (project / f"tapes/plans/double/{who}.r0.json").read_text()
        other = "bob" if who == "ann" else "ann"
        assert f'"{who}"' in tape and f'"{other}"' not in tape
    replayed = run(project, solver, REPLAY)
    assert summary(replayed) == summary(recorded)


def test_a_case_that_calls_no_model_through_the_harness_says_so(project):
    results = run(project, lambda inp, client, prompt: PLANS[inp["who"]], SIM)
    assert [(r.rollout.answer, r.rollout.model_calls) for r in results] == [("gold", 0), ("basic", 0)]


def test_httpx_clients_are_captured_too_when_httpx_is_installed(project, no_sockets):
    """httpx (not httpx2) is converted at its transport class; streamed answers still arrive through its stream."""
    httpx = pytest.importorskip("httpx")

    async def raw_httpx(inp, client, prompt):
        async with httpx.AsyncClient(base_url=OUTSIDE) as http:
            first = (await http.post("/chat/completions", json=prompt.chat(tools=[TOOL]))).json()["choices"][0]["message"]
        with httpx.Client(base_url=OUTSIDE) as http:  # and the sync client, from the solver's own thread
            return await asyncio.to_thread(lambda: http.post("/chat/completions", json=prompt.chat(
                messages=follow_up(prompt, first), tools=[TOOL])).json()["choices"][0]["message"]["content"])

    recorded = run(project, raw_httpx, SIM, "all")
    assert [(r.failure, r.rollout.answer, r.value, r.rollout.model_calls) for r in recorded] == \
        [(None, "gold", 1.0, 2), (None, "basic", 1.0, 2)]
    assert summary(run(project, raw_httpx, REPLAY)) == summary(recorded)
    assert no_sockets == []


def test_a_sync_client_called_from_an_async_solver_fails_in_one_line(project, no_sockets):
    async def blocking(inp, client, prompt):
        own = openai.OpenAI(base_url=OUTSIDE, api_key="x", max_retries=0)
        return own.chat.completions.create(**prompt.chat()).choices[0].message.content

    failure = run(project, blocking, SIM)[0].failure
    assert str(failure) == (
        "case ann: a sync client was called from the async solver, which blocks the run's event loop; await an async "
        "client (openai.AsyncOpenAI, httpx2.AsyncClient), or write the solver as a plain def")
    assert no_sockets == []
