"""Infrastructure failures are errors, never scores, and a dead or silent service is given up on fast.

Unit tests of the one classifier and the circuit breaker, then the room suite run by pytest in
subprocesses against a closed port, a server that never answers, a refused key and a missing
Azure deployment (each must fail in seconds with one line naming the URL), and against content
faults (which stay scored). The subprocess runs start together so the file stays quick.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2
import openai
import pytest

from evals.sim.faults import FaultPlan
from evals.sim.routes import MISSING_DEPLOYMENT
from evals.sim.server import serve
from replaygate.core.config import ConfigError, load_config
from replaygate.llm.agent import Decoding, run_tool_loop
from replaygate.llm.backend import Backend
from replaygate.llm.breaker import Breaker, BreakerTransport, CircuitOpen
from replaygate.results.baseline import load_baseline, updated_suite
from replaygate.results.gate import compare_to_baseline
from replaygate.results.outcome import task_outcomes
from replaygate.results.record import CaseRecord

REPO = Path(__file__).resolve().parents[1]
USER = [{"role": "user", "content": "hi"}]
ANSWER = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}
OPENAI = Backend("openai", "openai-compatible test", base_url="http://api.test/v1", api_key="sk-secret-key-123")


def loop_against(handler, backend: Backend = OPENAI, **client):
    """One tool-loop rollout through `backend`'s SDK client over a MockTransport, without retries."""
    async def go():
        async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
            sdk = backend.client("agent", http, 30.0, connect_timeout_s=3.0, max_retries=0, **client)
            return await run_tool_loop(sdk, Decoding(model="m"), USER, [], task_id="t")

    return asyncio.run(go())


def answering(status: int, message: str = "nope", code: str | None = None):
    return lambda request: httpx2.Response(status, json={"error": {"message": message, "code": code}})


# --- the one classifier ------------------------------------------------------------------------


@pytest.mark.parametrize("status, kind", [
    # About the request the solver sent: the model's answer, scored 0 as before, and recorded so the case replays.
    (400, "rejected"), (413, "rejected"), (422, "rejected"),
    (401, "infra"), (403, "infra"), (404, "infra"), (405, "infra"), (407, "infra"),  # wrong key, model or URL
    (408, "infra"), (409, "infra"), (429, "infra"), (500, "infra"), (502, "infra"), (503, "infra"),  # retries spent
])
def test_which_answers_are_the_infrastructures(status, kind):
    rollout = loop_against(answering(status))
    assert rollout.error_kind == kind and "\n" not in rollout.error
    if kind == "infra":
        assert rollout.error.startswith("infrastructure error: http://api.test:80/v1/chat/completions answered "
                                        f"{status} (")


@pytest.mark.parametrize("status, setting", [
    (401, "set OPENAI_API_KEY to a key this endpoint accepts"),
    (404, "check the model name (models.agent in [tool.replaygate] (or EVALS_AGENT_MODEL)) and OPENAI_BASE_URL"),
    (503, "1 try); the service failed on every try"),
])
def test_an_infrastructure_error_says_what_to_set(status, setting):
    assert setting in loop_against(answering(status)).error


@pytest.mark.parametrize("error, fragment", [
    (httpx2.ConnectError("[Errno 111] Connection refused"), "cannot reach http://api.test:80/v1/chat/completions "
                                                           "(ConnectError: [Errno 111] Connection refused; 1 try); "
                                                           "check OPENAI_BASE_URL or start the server"),
    (httpx2.ReadTimeout("timed out"), "no answer from http://api.test:80/v1/chat/completions within timeout_s=30 s "
                                      "(ReadTimeout: timed out; 1 try); check the server behind OPENAI_BASE_URL, "
                                      "or raise timeout_s"),
    (httpx2.ConnectTimeout("timed out"), "no connection to http://api.test:80/v1/chat/completions within "
                                         "connect_timeout_s=3 s"),
    (httpx2.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), "TLS failed with http://api.test"),
])
def test_connection_failures_and_timeouts_are_infrastructure_errors(error, fragment):
    def handler(request):
        raise error

    rollout = loop_against(handler)
    assert rollout.error_kind == "infra" and fragment in rollout.error and "\n" not in rollout.error


def test_the_line_shows_no_query_and_no_key_even_when_the_service_quotes_it():
    async def go():
        handler = answering(401, "Incorrect API key provided: sk-secret-key-123.")
        async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
            sdk = openai.AsyncOpenAI(api_key="sk-secret-key-123", base_url="http://api.test/v1", http_client=http,
                                     max_retries=0, default_query={"api-key": "SECRET-IN-QUERY"})
            return await run_tool_loop(sdk, Decoding(model="m"), USER, [], task_id="t")

    rollout = asyncio.run(go())
    assert rollout.error_kind == "infra" and "http://api.test:80/v1/chat/completions answered 401" in rollout.error
    assert "SECRET-IN-QUERY" not in rollout.error and "sk-secret-key-123" not in rollout.error


def test_content_faults_stay_scored():
    bad_args = {**ANSWER, "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None,
        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "nope", "arguments": "{"}}]}}]}
    assert loop_against(lambda request: httpx2.Response(200, json=bad_args)).error_kind == "turn_limit"
    unreadable = httpx2.Response(200, content=b"<html>", headers={"content-type": "application/json"})
    assert loop_against(lambda request: unreadable).error_kind in ("api", "malformed")


# --- the breaker and the settings -----------------------------------------------------------------


def breaker_run(handler, calls: int, retries: int = 0, probe=None, **breaker):
    """`calls` chat calls through a BreakerTransport over `handler`; each call's exception type or "ok"."""
    async def go():
        transport = BreakerTransport(httpx2.MockTransport(handler), Breaker(**breaker), probe, 0.2)
        async with httpx2.AsyncClient(transport=transport) as http:
            sdk = openai.AsyncOpenAI(api_key="k", base_url="http://dead.test/v1", http_client=http, max_retries=retries)
            outcomes = []
            for _ in range(calls):
                try:
                    await sdk.post("/chat/completions", cast_to=object, body={"model": "m"})
                    outcomes.append("ok")
                except openai.APIError as exc:
                    outcomes.append(type(exc).__name__)
            return outcomes

    return asyncio.run(go())


def test_three_failures_in_a_row_open_the_circuit_and_the_sdk_does_not_retry_an_open_one():
    sent = []

    def refused(request):
        sent.append(request)
        raise httpx2.ConnectError("[Errno 111] Connection refused")

    started = time.perf_counter()
    assert breaker_run(refused, 5, retries=2) == ["APIConnectionError"] + ["CircuitOpen"] * 4
    # Three attempts (the SDK's two retries) opened it; the next four calls sent nothing and slept on no backoff.
    assert len(sent) == 3 and time.perf_counter() - started < 5


def test_an_answer_in_between_keeps_the_circuit_closed():
    script = iter(["fail", "fail", "ok", "fail", "fail", "ok"])

    def flaky(request):
        if next(script) == "fail":
            raise httpx2.ReadTimeout("timed out")
        return httpx2.Response(200, json=ANSWER)

    assert breaker_run(flaky, 6) == ["APITimeoutError", "APITimeoutError", "ok", "APITimeoutError", "APITimeoutError", "ok"]


def test_a_silent_endpoint_is_found_by_one_head_before_any_request_is_sent():
    heads, posts = [], []

    def silent(request):
        heads.append(request)
        raise httpx2.ReadTimeout("timed out")

    def model(request):
        posts.append(request)
        return httpx2.Response(200, json=ANSWER)

    assert breaker_run(model, 2, probe=httpx2.MockTransport(silent)) == ["CircuitOpen"] * 2
    assert [(r.method, "authorization" in r.headers) for r in heads] == [("HEAD", False)] and posts == []
    # Any answer to the HEAD, an error status included, shows a live server.
    assert breaker_run(model, 2, probe=httpx2.MockTransport(lambda r: httpx2.Response(405))) == ["ok", "ok"]


def test_timeouts_and_retries_are_settings_and_reach_the_sdk_client():
    config = load_config(None, {"timeout_s": "30", "connect_timeout_s": "2", "max_retries": "0"})
    assert (config.timeout_s, config.connect_timeout_s, config.max_retries) == (30.0, 2.0, 0)
    defaults = load_config(None, {})
    assert (defaults.timeout_s, defaults.connect_timeout_s, defaults.max_retries) == (60.0, 5.0, 2)
    client = OPENAI.client("agent", httpx2.AsyncClient(), 30.0, connect_timeout_s=2.0, max_retries=1)
    assert (client.timeout.read, client.timeout.connect, client.max_retries) == (30.0, 2.0, 1)
    replay = Backend("replay", "replay", base_url="http://replay.invalid/v1")
    assert replay.client("agent", httpx2.AsyncClient(), 30.0, max_retries=5).max_retries == 0  # no network, no retry
    with pytest.raises(ConfigError, match=r"--set max_retries=-1: max_retries: .*; fix the value$"):
        load_config(None, {"max_retries": "-1"})


def test_an_infrastructure_error_is_kept_out_of_the_gate_and_the_baseline(tmp_path):
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"format": 3, "suites": {"s": {"cases": {
        "a": {"score": 1.0, "passed": True}, "b": {"score": 1.0, "passed": True}}}}}), encoding="utf-8")
    baseline = load_baseline(path)
    records = [CaseRecord("a", 0, "x", "x", 1.0, True, "ok"),
               CaseRecord("b", 0, "x", "—", 0.0, False, "infrastructure error: ...", error_kind="infra")]
    outcomes = task_outcomes(records)
    diff = compare_to_baseline(outcomes, baseline, "s", {})
    assert diff.unscored_tasks == ("b",) and not diff.failed
    assert updated_suite(baseline.suite("s"), outcomes, 0.8, {})["cases"]["b"] == {"score": 1.0, "passed": True}


# --- the room suite, run by pytest ----------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    rc: int
    out: str
    seconds: float
    reports: Path

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


@contextlib.contextmanager
def silent_server():
    """Takes connections and never answers; its connections are closed when the block ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
        for connection in held:
            connection.close()


@contextlib.contextmanager
def simulator(**options):
    server = serve("127.0.0.1", 0, **options)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def start(reports: Path, llm: str, env: dict[str, str]) -> tuple[subprocess.Popen, float]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("OPENAI_", "AZURE_", "EVALS_", "PYTEST_", "GITHUB_"))}
    # The weak prompt and its baseline, fixed (both tasks known failures): `pytest --optimize` rewrites the live ones.
    command = [sys.executable, "-m", "pytest", "evals/test_room_selector.py", "-k", "room-001 or room-002",
               f"--llm={llm}", "--set", f"reports={reports}",  # the repo's own reports stay untouched
               "--prompt", str(REPO / "tests/data/al_baseline_prompt.md"), "--set", f"baseline={REPO / 'tests/data/al_baseline.json'}"]
    proc = subprocess.Popen(command, cwd=REPO, env={**clean, **env, "PYTHONIOENCODING": "utf-8"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8")
    return proc, time.perf_counter()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Run]:
    key = "sk-the-right-key-1"
    with silent_server() as silent_url, simulator(api_key=key) as keyed, \
            simulator(faults=FaultPlan(rate=1.0, kinds=("bad_tool_args",))) as faulty:
        endpoint = keyed.url.removesuffix("/v1")
        scenarios = {  # the slowest first: it mostly waits, the others take turns on the other slot
            "silent server": ("openai", {"OPENAI_BASE_URL": silent_url, "OPENAI_API_KEY": "sk-fake"}),
            "closed port": ("openai", {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "sk-fake"}),
            "refused key": ("openai", {"OPENAI_BASE_URL": keyed.url, "OPENAI_API_KEY": "sk-a-wrong-key-2"}),
            "missing deployment": ("azure", {"AZURE_OPENAI_ENDPOINT": endpoint, "AZURE_OPENAI_API_KEY": key,
                                             "AZURE_OPENAI_AGENT_DEPLOYMENT": MISSING_DEPLOYMENT}),
            "content faults": ("openai", {"OPENAI_BASE_URL": faulty.url, "OPENAI_API_KEY": "sk-fake"}),
        }
        reports = {name: tmp_path_factory.mktemp("reports") for name in scenarios}
        done: dict[str, Run] = {}
        # Two runs at a time: more would time the CPU's queue, not the harness.
        slots = threading.BoundedSemaphore(2)

        def run(name: str, llm: str, env: dict[str, str]) -> None:
            with slots:
                timed(name, llm, env)

        def timed(name: str, llm: str, env: dict[str, str]) -> None:
            proc, at = start(reports[name], llm, env)
            try:
                out, _ = proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
            done[name] = Run(proc.returncode, out, time.perf_counter() - at, reports[name])

        # Each run is timed from its own start to its own end, however the others go.
        threads = [threading.Thread(target=run, args=(name, *how)) for name, how in scenarios.items()]
        for thread in threads:
            thread.start()
            time.sleep(0.01)  # in order, so the silent server's run takes the first slot
        for thread in threads:
            thread.join()
        return done


INFRA = {
    "closed port": ("http://127.0.0.1:9/v1/chat/completions", "Connection refused",
                    "check OPENAI_BASE_URL or start the server"),
    "silent server": ("/v1/chat/completions took the connection but answered nothing", "ReadTimeout",
                      "(is it hung?), or raise connect_timeout_s"),
    "refused key": ("/v1/chat/completions answered 401 (AuthenticationError", "Incorrect API key",
                    "set OPENAI_API_KEY to a key this endpoint accepts"),
    "missing deployment": (f"/openai/deployments/{MISSING_DEPLOYMENT}/chat/completions answered 404 (NotFoundError",
                           "does not exist",
                           "set AZURE_OPENAI_AGENT_DEPLOYMENT to one that"),
}


@pytest.mark.parametrize("scenario", list(INFRA))
def test_no_model_answering_fails_the_run_in_seconds_with_one_line(runs, scenario):
    run = runs[scenario]
    assert run.rc == 1, run.out
    assert run.seconds < 15, f"{scenario}: {run.seconds:.1f} s"
    # Errors, not known failures: the baseline lists both tasks as failing, yet neither is an xfail.
    assert "xfail" not in run.out.lower() and run.lines[-1].startswith("=") and "2 failed" in run.lines[-1]
    assert "Traceback" not in run.out and not any(line.startswith("E ") for line in run.lines)
    # Each case fails with one line of its own.
    for header in [i for i, line in enumerate(run.lines) if re.match(r"_+ test_room_task\[room-00[12]\] _+$", line)]:
        assert run.lines[header + 1].startswith("infrastructure error: ")
        assert run.lines[header + 2].startswith(("___", "evals "))
    # The session says it once: URL, what failed, and what to set; the gate does not pass silently.
    summary = [line for line in run.lines if line.startswith("evals: FAILED: ")]
    assert len(summary) == 1 and all(part in summary[0] for part in INFRA[scenario]), summary
    assert "gate passed" not in run.out and "gate not run: every one of its 2 cases errored (no score to compare)" in run.out
    assert "errors            | 2 (infra: 2)" in (run.reports / "scores.md").read_text(encoding="utf-8")


def test_content_faults_of_the_model_stay_scored(runs):
    run = runs["content faults"]
    assert run.rc == 0 and "2 xfailed" in run.lines[-1], run.out
    assert "infrastructure error" not in run.out
    assert "errors            | 2 (bad_tool_call: 2)" in (run.reports / "scores.md").read_text(encoding="utf-8")
