"""Agents configured only by a URL, run as suites: each reaches its case through `prompt.base_url`, records
under a FunctionModel double and replays offline with the same scores, tokens and tool calls as an agent
written against the handed client.

The agents: the SDK client a solver builds itself, a raw httpx2 POST, and a subprocess speaking HTTP with
urllib (sync and async solvers). Each talks to the run's loopback endpoint over real 127.0.0.1 HTTP.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2
import openai
import pytest

from replaygate import CassetteMiss, FunctionModel, Prompt, Suite, ToolCall, graders
from replaygate.capture import endpoint
from replaygate.core.config import load_config
from replaygate.run.evaluation import Evaluation
from replaygate.llm.backend import REPLAY_BASE_URL, SIM_BASE_URL, Backend

TOOL = {"type": "function", "function": {"name": "lookup", "description": "a customer's plan",
                                         "parameters": {"type": "object", "properties": {"who": {"type": "string"}}}}}
PLANS = {"ann": "gold", "bob": "basic"}
TASKS = [
    {"id": "ann", "input": {"who": "ann", "question": "What plan am I on?"}, "expected": "gold"},
    {"id": "bob", "input": {"who": "bob", "question": "Which plan do I have?"}, "expected": "basic"},
]
# The agent in another process: plain urllib against the URL it is given, one tool call, then the answer.
AGENT = '''
import json, os, sys, urllib.error, urllib.request

TOOL = json.loads(os.environ["AGENT_TOOL"])
PLANS = {"ann": "gold", "bob": "basic"}

def call(body):
    request = urllib.request.Request(os.environ["AGENT_BASE_URL"] + "/chat/completions", data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json", "authorization": "Bearer x"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.load(answer)["choices"][0]["message"]
    except urllib.error.HTTPError as error:
        sys.exit(json.load(error)["error"]["message"])  # the harness's one line, on stderr

ask = json.load(sys.stdin)
message = call({**ask, "tools": [TOOL]})
if message.get("tool_calls"):
    tool_call = message["tool_calls"][0]
    who = json.loads(tool_call["function"]["arguments"])["who"]
    result = {"role": "tool", "tool_call_id": tool_call["id"], "content": json.dumps({"plan": PLANS[who]})}
    message = call({**ask, "messages": [*ask["messages"], message, result], "tools": [TOOL]})
print(message["content"])
'''


def model(request) -> ToolCall | str:
    if not request.tool_results:
        return ToolCall("lookup", {"who": request.messages[-1]["content"].split(":")[0]})
    return json.loads(request.tool_results[0].output)["plan"]


def assistant_turn(message: dict) -> dict:
    """The assistant message as every agent here sends it back: role, content and tool calls only."""
    return {"role": "assistant", "content": message.get("content"), "tool_calls": message["tool_calls"]}


def tool_result(message: dict) -> tuple[dict, dict]:
    call = message["tool_calls"][0]
    who = json.loads(call["function"]["arguments"])["who"]
    return assistant_turn(message), {"role": "tool", "tool_call_id": call["id"], "content": json.dumps({"plan": PLANS[who]})}


async def handed_client(inp, client, prompt: Prompt):
    """The control: the README's way, through the client the harness hands over."""
    first = (await client.chat.completions.create(**prompt.chat(tools=[TOOL]))).choices[0].message.model_dump()
    messages = [*prompt.messages, *tool_result(first)]
    return (await client.chat.completions.create(**prompt.chat(messages=messages, tools=[TOOL]))).choices[0].message.content


async def own_sdk_client(inp, client, prompt: Prompt):
    async with openai.AsyncOpenAI(base_url=prompt.base_url, api_key="x") as own:
        return await handed_client(inp, own, prompt)


async def raw_httpx(inp, client, prompt: Prompt):
    async with httpx2.AsyncClient(base_url=prompt.base_url, timeout=30) as http:
        async def call(body: dict) -> dict:
            answer = await http.post("/chat/completions", json=body)
            answer.raise_for_status()
            return answer.json()["choices"][0]["message"]

        first = await call(prompt.chat(tools=[TOOL]))
        return (await call(prompt.chat(messages=[*prompt.messages, *tool_result(first)], tools=[TOOL])))["content"]


async def streaming_own_client(inp, client, prompt: Prompt):
    """Streamed with the SDK's `.stream()` helper: the endpoint relays the events as the double sends them."""
    async with openai.AsyncOpenAI(base_url=prompt.base_url, api_key="x") as own:
        async def ask(messages: list) -> dict:
            async with own.chat.completions.stream(**prompt.chat(messages=messages, tools=[TOOL]),
                                                   stream_options={"include_usage": True}) as stream:
                return (await stream.get_final_completion()).choices[0].message.model_dump()

        first = await ask(prompt.messages)
        return (await ask([*prompt.messages, *tool_result(first)]))["content"]


def agent_command(prompt: Prompt, script: Path, base_url: str | None = None) -> tuple[list[str], dict[str, str], bytes]:
    env = {**os.environ, "AGENT_BASE_URL": prompt.base_url if base_url is None else base_url, "AGENT_TOOL": json.dumps(TOOL)}
    return [sys.executable, str(script)], env, json.dumps(prompt.chat()).encode()


def subprocess_agent(script: Path, shared_root: bool = False, together: threading.Barrier | None = None):
    def solver(inp, client, prompt: Prompt):
        """Sync: it runs in a worker thread, so waiting on the process leaves the run's loop free to serve it."""
        command, env, stdin = agent_command(prompt, script, os.environ["OPENAI_BASE_URL"] if shared_root else None)
        done = subprocess.run(command, input=stdin, env=env, capture_output=True, timeout=120)
        if together is not None:
            together.wait()  # no case ends before the others have sent their requests
        if done.returncode:
            raise RuntimeError(done.stderr.decode().strip())
        return done.stdout.decode().strip()

    return solver


def async_subprocess_agent(script: Path):
    async def solver(inp, client, prompt: Prompt):
        command, env, stdin = agent_command(prompt, script)
        process = await asyncio.create_subprocess_exec(*command, env=env, stdin=subprocess.PIPE,
                                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await process.communicate(stdin)
        assert process.returncode == 0, err.decode()
        return out.decode().strip()

    return solver


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVALS_AGENT_MODEL", raising=False)
    (tmp_path / "prompt.md").write_text("[system]\nAnswer with the plan name only; look it up.\n[user]\n{who}: {question}\n")
    (tmp_path / "tasks.yaml").write_text("".join(f"- {json.dumps(t)}\n" for t in TASKS))
    (tmp_path / "agent.py").write_text(AGENT)
    return tmp_path


def run(root: Path, solver, backend: Backend, record_mode: str = "none", tapes: str = "tapes"):
    declared = Suite("plans", solver=solver, tasks="tasks.yaml", prompt="prompt.md", double=FunctionModel(model),
                     graders=[graders.ExactMatch(), graders.ToolCalled("lookup", times=1)])
    config = load_config(None, {"cassettes": tapes, "models.agent": "double", "concurrency": 8}, suite=declared.name,
                         code=declared.code_settings())
    evaluation = Evaluation(declared, config, root, backend, record_mode, {})
    return evaluation.run(list(evaluation.loaded.tasks))


SIM = Backend("sim", "double", base_url=SIM_BASE_URL)
REPLAY = Backend("replay", "replay", base_url=REPLAY_BASE_URL)


def outcome(results) -> list[tuple]:
    return [(r.failure, r.rollout.answer, r.value, r.rollout.usage.input_tokens, r.rollout.usage.output_tokens,
             r.rollout.usage.calls, [(c.name, json.loads(c.arguments)) for c in r.rollout.tool_calls]) for r in results]


@pytest.mark.parametrize("agent", ["own_sdk_client", "raw_httpx", "subprocess_agent", "async_subprocess_agent",
                                   "streaming_own_client"])
def test_an_agent_configured_by_url_records_and_replays_like_the_handed_client(project, agent):
    control = outcome(run(project, handed_client, SIM, "all", tapes="control"))
    assert [row[:3] for row in control] == [(None, "gold", 1.0), (None, "basic", 1.0)]
    solver = {"own_sdk_client": own_sdk_client, "raw_httpx": raw_httpx,
              "subprocess_agent": subprocess_agent(project / "agent.py"),
              "async_subprocess_agent": async_subprocess_agent(project / "agent.py"),
              "streaming_own_client": streaming_own_client}[agent]

    recorded = outcome(run(project, solver, SIM, "all"))
    assert recorded == control
    assert sorted(p.name for p in (project / "tapes/plans/double").iterdir()) == ["ann.r0.json", "bob.r0.json"]
    cassette = (project / "tapes/plans/double/ann.r0.json").read_text()
    assert "127.0.0.1" not in cassette and "Bearer" not in cassette  # no port, no token, no key: re-records are stable

    assert outcome(run(project, solver, REPLAY)) == recorded  # offline: only the cassettes answer


async def no_argument_client(inp, client, prompt: Prompt):
    """Built from the environment alone: OPENAI_BASE_URL is the loopback's shared root during a run."""
    async with openai.AsyncOpenAI() as own:
        return await handed_client(inp, own, prompt)


def test_a_client_built_with_no_arguments_stays_with_its_case_while_cases_run_concurrently(project, monkeypatch):
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    control = outcome(run(project, handed_client, SIM, "all", tapes="control"))
    recorded = outcome(run(project, no_argument_client, SIM, "all"))
    assert recorded == control
    assert "127.0.0.1" not in (project / "tapes/plans/double/ann.r0.json").read_text()
    assert outcome(run(project, no_argument_client, REPLAY)) == recorded


PLUGIN_PROJECT = {
    "pyproject.toml": """
[tool.pytest.ini_options]
eval_pass_threshold = 0.8

[tool.replaygate]
cassettes = "cassettes"
reports = "reports"
baseline = "reports/baseline.json"
concurrency = 8
""",
    "test_by_url.py": '''
import json, os, subprocess, sys
from pathlib import Path

import openai
from replaygate import FunctionModel, Suite, ToolCall, graders

TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"who": {"type": "string"}}}}}
AGENT = Path(__file__).with_name("agent.py")

def model(request):
    if not request.tool_results:
        return ToolCall("lookup", {"who": request.messages[-1]["content"].split(":")[0]})
    return json.loads(request.tool_results[0].output)["plan"]

def in_a_subprocess(inp, client, prompt):
    env = {**os.environ, "AGENT_BASE_URL": prompt.base_url, "AGENT_TOOL": json.dumps(TOOL)}
    done = subprocess.run([sys.executable, str(AGENT)], input=json.dumps(prompt.chat()).encode(), env=env,
                          capture_output=True, timeout=120, check=True)
    return done.stdout.decode().strip()

async def own_client(inp, client, prompt):
    async with openai.AsyncOpenAI(base_url=prompt.base_url, api_key="x") as own:
        first = (await own.chat.completions.create(**prompt.chat(tools=[TOOL]))).choices[0].message
        call = first.tool_calls[0]
        plan = {"ann": "gold", "bob": "basic"}[json.loads(call.function.arguments)["who"]]
        messages = [*prompt.messages, {"role": "assistant", "content": first.content, "tool_calls": [call.model_dump()]},
                    {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"plan": plan})}]
        return (await own.chat.completions.create(**prompt.chat(messages=messages, tools=[TOOL]))).choices[0].message.content

def suite(name, solver):
    return Suite(name, solver=solver, tasks="tasks.yaml", prompt="prompt.md", double=FunctionModel(model),
                 graders=[graders.ExactMatch(), graders.ToolCalled("lookup", times=1)])

SUBPROCESS, OWN = suite("subprocess_agent", in_a_subprocess), suite("own_client", own_client)

@SUBPROCESS.cases
def test_subprocess_agent(eval_case):
    eval_case.check()

@OWN.cases
def test_own_client(eval_case):
    eval_case.check()
''',
}


def test_suites_of_url_configured_agents_record_and_replay_through_the_plugin(pytester):
    for name, text in PLUGIN_PROJECT.items():
        pytester.makefile(Path(name).suffix, **{Path(name).stem: text})
    (pytester.path / "prompt.md").write_text("[system]\nAnswer with the plan name only; look it up.\n[user]\n{who}: {question}\n")
    (pytester.path / "tasks.yaml").write_text("".join(f"- {json.dumps(t)}\n" for t in TASKS))
    (pytester.path / "agent.py").write_text(AGENT)

    def scores() -> dict:
        report = json.loads((pytester.path / "reports" / "scores.json").read_text())
        return {suite: [(c["task_id"], c["score"], c["tokens_in"], c["tokens_out"], c["grader_scores"]) for c in data["cases"]]
                for suite, data in report["suites"].items()}

    recording = pytester.runpytest("-p", "no:hypothesispytest", "--llm=sim", "--eval-record-mode=all")
    recording.assert_outcomes(passed=4)
    recorded = scores()
    assert recorded["own_client"] == recorded["subprocess_agent"]
    assert [row[:2] for row in recorded["own_client"]] == [("ann", 1.0), ("bob", 1.0)]
    assert all(row[2] > 0 and row[3] > 0 for row in recorded["own_client"])
    assert sorted(p.name for p in (pytester.path / "cassettes" / "subprocess_agent").rglob("*.json")) == ["ann.r0.json", "bob.r0.json"]

    replaying = pytester.runpytest("-p", "no:hypothesispytest")
    replaying.assert_outcomes(passed=4)
    assert scores() == recorded


def test_a_subprocess_on_the_shared_root_while_two_cases_run_is_told_to_use_its_case_url(project):
    together = threading.Barrier(len(TASKS), timeout=60)
    results = run(project, subprocess_agent(project / "agent.py", shared_root=True, together=together), SIM)
    assert [str(r.failure) for r in results] == [
        "replaygate loopback: 2 cases are running (ann, bob) and this request names none: give each case's client "
        "its own URL, prompt.base_url, instead of the shared OPENAI_BASE_URL"] * 2


class GatedStream(httpx2.AsyncBaseTransport):
    """A streaming double whose last events wait until the client has read the first: buffering anywhere on the
    way (trace, cassette recording, the endpoint) would hold the first back, and the case would time out."""

    def __init__(self, first_read: threading.Event):
        self.first_read = first_read

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        def event(choices: list, **more) -> bytes:
            chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "gated", "choices": choices, **more}
            return f"data: {json.dumps(chunk)}\n\n".encode()

        async def events():
            yield event([{"index": 0, "delta": {"role": "assistant", "content": "go"}, "finish_reason": None}])
            for _ in range(2000):
                if self.first_read.is_set():
                    break
                await asyncio.sleep(0.005)
            yield event([{"index": 0, "delta": {"content": "ld"}, "finish_reason": "stop"}])
            yield event([], usage={"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7})
            yield b"data: [DONE]\n\n"

        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=events())


def test_a_stream_reaches_the_agent_event_by_event_while_it_is_recorded(project):
    first_read = threading.Event()
    seen_before_end: list[bool] = []

    async def streaming(inp, client, prompt: Prompt):
        async with openai.AsyncOpenAI(base_url=prompt.base_url, api_key="x", timeout=20) as own:
            text = ""
            stream = await own.chat.completions.create(**prompt.chat(), stream=True, stream_options={"include_usage": True})
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    text += chunk.choices[0].delta.content
                    if not first_read.is_set():
                        seen_before_end.append(True)
                        first_read.set()
            return text

    def run_one(backend: Backend, record_mode: str = "none"):
        declared = Suite("gated", solver=streaming, tasks=[TASKS[0]], prompt="prompt.md",
                         double=lambda: GatedStream(first_read), graders=[graders.ExactMatch()])
        config = load_config(None, {"cassettes": "tapes", "models.agent": "double"}, suite=declared.name,
                             code=declared.code_settings())
        evaluation = Evaluation(declared, config, project, backend, record_mode, {})
        return evaluation.run(list(evaluation.loaded.tasks))

    started = time.perf_counter()
    (recorded,) = run_one(SIM, "all")
    assert time.perf_counter() - started < 8, "the first event was held back until the stream ended"
    assert seen_before_end == [True] and recorded.failure is None and recorded.rollout.answer == "gold"
    assert (recorded.rollout.usage.input_tokens, recorded.rollout.usage.output_tokens) == (5, 2)
    (replayed,) = run_one(REPLAY)
    assert (replayed.rollout.answer, replayed.value, replayed.rollout.usage) == \
        (recorded.rollout.answer, recorded.value, recorded.rollout.usage)


@pytest.mark.parametrize("agent", ["own_sdk_client", "subprocess_agent"])
def test_a_request_with_no_recording_fails_the_case_as_the_handed_client_would(project, agent):
    solver = own_sdk_client if agent == "own_sdk_client" else subprocess_agent(project / "agent.py")
    results = run(project, solver, REPLAY)
    # Not a 502 the agent made something of: the cassette miss itself, which names the file and the record command.
    assert [type(r.failure) for r in results] == [CassetteMiss, CassetteMiss]
    assert "no recording in tapes/plans/double/ann.r0.json" in str(results[0].failure)


def test_an_async_solver_blocking_on_its_agent_fails_with_the_fix_instead_of_hanging(project, monkeypatch):
    monkeypatch.setattr(endpoint, "START_TIMEOUT_S", 0.5)

    async def blocking(inp, client, prompt: Prompt):
        command, env, stdin = agent_command(prompt, project / "agent.py")
        return subprocess.run(command, input=stdin, env=env, capture_output=True, timeout=60).stdout.decode()

    results = run(project, blocking, SIM)
    assert [type(r.failure) for r in results] == [endpoint.LoopBlocked] * 2
    assert "asyncio.create_subprocess_exec, or write the solver as a plain def" in str(results[0].failure)


RESPONSES_TOOL = {"type": "function", "name": "lookup", "parameters": TOOL["function"]["parameters"]}


async def responses_agent(client, prompt: Prompt, stream: bool) -> str:
    async def ask(items: list):
        if not stream:
            return await client.responses.create(**prompt.responses(input=items, tools=[RESPONSES_TOOL]))
        async with client.responses.stream(**prompt.responses(input=items, tools=[RESPONSES_TOOL])) as events:
            return await events.get_final_response()

    first = await ask(list(prompt.messages))
    call = next(item for item in first.output if item.type == "function_call")
    result = {"type": "function_call_output", "call_id": call.call_id,
              "output": json.dumps({"plan": PLANS[json.loads(call.arguments)["who"]]})}
    return (await ask([*prompt.messages, call.model_dump(exclude_none=True), result])).output_text


def test_a_streamed_responses_agent_on_its_case_url_matches_the_handed_client(project):
    async def handed(inp, client, prompt):
        return await responses_agent(client, prompt, stream=False)

    async def own_streaming(inp, client, prompt):
        async with openai.AsyncOpenAI(base_url=prompt.base_url, api_key="x") as own:
            return await responses_agent(own, prompt, stream=True)

    control = outcome(run(project, handed, SIM, "all", tapes="control"))
    assert [row[:3] for row in control] == [(None, "gold", 1.0), (None, "basic", 1.0)]
    recorded = outcome(run(project, own_streaming, SIM, "all"))
    assert recorded == control
    assert outcome(run(project, own_streaming, REPLAY)) == recorded
