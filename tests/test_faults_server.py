"""Faults injected by the simulator's HTTP server, as the real openai SDK sees them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx2
import openai
import pytest

from evals.sim import MODEL_NAME
from evals.sim.__main__ import fault_plan, parser
from evals.sim.faults import FAULT_HEADER, KINDS, UNKNOWN_ROOM, UNKNOWN_TOOL, FaultPlan, body_digest, decide
from evals.sim.server import serve

REPO = Path(__file__).resolve().parents[1]
TOOL = {"type": "function", "function": {"name": "get_rooms_and_availability", "parameters": {
    "type": "object", "properties": {"date": {"type": "string"}, "time": {"type": "string"}, "duration_min": {"type": "integer"}}}}}
ASK = "Find a room on 2026-03-02 at 10:30 for 45 minutes, 6 attendees. Needs: projector. Accessible required: False"
ROOMS = {"rooms": [{"id": "R-1", "capacity": 8, "equipment": ["projector"], "accessible": True, "distance_m": 5,
                    "bookings": [], "free": True}]}


@contextlib.contextmanager
def running(**plan):
    """A faulty simulator on a free port, stopped (hanging requests included) on the way out."""
    server = serve("127.0.0.1", 0, 0, FaultPlan(**plan))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def sdk(server, timeout: float = 5.0, retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-fake", base_url=server.url, max_retries=retries, timeout=timeout)


def ask(client: openai.OpenAI, content: str = ASK):
    return client.chat.completions.create(model=MODEL_NAME, messages=[{"role": "user", "content": content}], tools=[TOOL], seed=1)


def answer_stage(client: openai.OpenAI):
    first = ask(client).choices[0].message.tool_calls[0]
    messages = [
        {"role": "user", "content": ASK},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": first.id, "type": "function", "function": {"name": first.function.name, "arguments": first.function.arguments}}]},
        {"role": "tool", "tool_call_id": first.id, "content": json.dumps(ROOMS)},
    ]
    return client.chat.completions.create(model=MODEL_NAME, messages=messages, tools=[TOOL], seed=1)


def body_of(content: str) -> bytes:
    return json.dumps({"model": MODEL_NAME, "messages": [{"role": "user", "content": content}]}).encode()


# --- transport faults ------------------------------------------------------------------------------


def test_429_carries_retry_after_and_a_rate_limit_error():
    with running(rate=1.0, kinds=("429",), retry_after_s=2) as server, sdk(server) as client:
        with pytest.raises(openai.RateLimitError) as info:
            ask(client)
        assert server.fault_counts == {"429": 1}
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "2"
    assert info.value.response.headers[FAULT_HEADER] == "429"
    assert info.value.code == "rate_limit_exceeded"


@pytest.mark.parametrize("kind", ["500", "503"])
def test_server_errors_are_openai_shaped(kind):
    with running(rate=1.0, kinds=(kind,)) as server, sdk(server) as client:
        with pytest.raises(openai.InternalServerError) as info:
            ask(client)
        assert server.fault_counts == {kind: 1}
    assert info.value.status_code == int(kind)
    assert info.value.type == "server_error"
    assert "simulated fault" in info.value.message


def test_malformed_json_is_a_200_the_sdk_cannot_parse():
    with running(rate=1.0, kinds=("malformed_json",)) as server:
        with sdk(server) as client, pytest.raises(ValueError):
            ask(client)
        with httpx2.Client(base_url=server.url) as http:
            raw = http.post("/chat/completions", content=body_of("raw"), headers={"content-type": "application/json"})
        assert server.fault_counts == {"malformed_json": 2}
    assert raw.status_code == 200 and raw.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        raw.json()


def test_truncated_promises_more_body_than_it_sends_then_drops_the_connection():
    with running(rate=1.0, kinds=("truncated",)) as server:
        with sdk(server) as client, pytest.raises(openai.APIConnectionError) as info:
            ask(client)
        assert server.fault_counts == {"truncated": 1}
    cause = info.value.__cause__
    assert isinstance(cause, httpx2.RemoteProtocolError)
    assert "without sending complete message body" in str(cause)


def test_hang_outlasts_the_client_timeout_and_its_thread_ends_with_the_server():
    before = threading.active_count()
    with running(rate=1.0, kinds=("hang",), hang_s=1.5) as server:
        with sdk(server, timeout=0.5) as client, pytest.raises(openai.APITimeoutError):
            ask(client)
        assert server.fault_counts == {"hang": 1}
    # Stopping the server wakes the hanging request thread; nothing is left behind.
    for _ in range(50):
        if threading.active_count() <= before:
            break
        threading.Event().wait(0.1)
    assert threading.active_count() <= before


def test_a_hanging_request_does_not_hold_up_the_others():
    plan = {"rate": 0.5, "kinds": ("hang",), "seed": 0, "hang_s": 30.0}
    hangs = next(f"slow {n}" for n in range(200) if decide(FaultPlan(**plan), body_digest(body_of(f"slow {n}")), 0))
    quick = next(f"quick {n}" for n in range(200) if not decide(FaultPlan(**plan), body_digest(body_of(f"quick {n}")), 0))
    outcome: list[object] = []

    def send_hanging(url: str) -> None:
        with httpx2.Client(base_url=url, timeout=20) as http:
            try:
                outcome.append(http.post("/chat/completions", content=body_of(hangs)).status_code)
            except httpx2.HTTPError as exc:
                outcome.append(type(exc).__name__)

    with running(**plan) as server:
        slow = threading.Thread(target=send_hanging, args=(server.url,), daemon=True)
        slow.start()
        with httpx2.Client(base_url=server.url, timeout=10) as http:
            while server.fault_counts["hang"] == 0:
                threading.Event().wait(0.02)
            fast = http.post("/chat/completions", content=body_of(quick))
        assert fast.status_code == 200 and fast.json()["model"] == MODEL_NAME
        assert slow.is_alive() and outcome == []
    # The server stopped: the hanging request ends without an answer, well before its 30 s.
    slow.join(timeout=10)
    assert not slow.is_alive()
    assert outcome and outcome[0] != 200


# --- content faults ------------------------------------------------------------------------------


def test_bad_tool_args_reach_the_sdk_as_unparseable_arguments():
    with running(rate=1.0, kinds=("bad_tool_args",)) as server, sdk(server) as client:
        raw = client.chat.completions.with_raw_response.create(
            model=MODEL_NAME, messages=[{"role": "user", "content": ASK}], tools=[TOOL], seed=1)
        call = raw.parse().choices[0].message.tool_calls[0]
        assert raw.headers[FAULT_HEADER] == "bad_tool_args"
        assert call.function.name == "get_rooms_and_availability"
        with pytest.raises(ValueError):
            json.loads(call.function.arguments)
        assert server.fault_counts == {"bad_tool_args": 1}


def test_unknown_tool_calls_a_tool_that_was_not_offered():
    with running(rate=1.0, kinds=("unknown_tool",)) as server, sdk(server) as client:
        call = ask(client).choices[0].message.tool_calls[0]
        assert call.function.name == UNKNOWN_TOOL
        assert json.loads(call.function.arguments)["date"] == "2026-03-02"
        assert server.fault_counts == {"unknown_tool": 1}


def test_unknown_room_bends_only_the_answer_after_a_tool_result():
    with running(rate=1.0, kinds=("unknown_room",)) as server, sdk(server) as client:
        final = answer_stage(client)
        # The first turn had no tool result: it passed through, and only the answer was bent.
        assert server.fault_counts == {"unknown_room": 1}
    assert final.choices[0].message.content == UNKNOWN_ROOM
    assert final.choices[0].finish_reason == "stop"


# --- counters, reproducibility and retries ---------------------------------------------------------


def test_counters_count_and_are_served_at_faults_endpoint():
    kinds = ("429", "500", "503", "malformed_json")
    with running(rate=1.0, kinds=kinds, seed=5) as server:
        with httpx2.Client(base_url=server.url) as http:
            statuses = [http.post("/chat/completions", content=body_of(f"n{n}")).status_code for n in range(12)]
            models = http.get("/models")  # never faulted
            report = http.get("/_faults").json()
    assert models.status_code == 200
    assert report["counts"] == server.fault_counts
    assert set(report["counts"]) == set(kinds) and report["total"] == 12 == report["requests"]
    assert report["counts"]["429"] == statuses.count(429)
    assert report["counts"]["500"] == statuses.count(500)
    assert report["counts"]["503"] == statuses.count(503)
    assert report["counts"]["malformed_json"] == statuses.count(200)
    assert (report["rate"], report["seed"], report["kinds"]) == (1.0, 5, list(kinds))


def test_no_rate_no_faults():
    with running() as server, sdk(server) as client:
        assert ask(client).choices[0].finish_reason == "tool_calls"
        assert server.fault_counts == {kind: 0 for kind in KINDS}


def statuses_for(seed: int) -> list[int]:
    with running(rate=0.5, kinds=("429", "500", "503"), seed=seed) as server:
        with httpx2.Client(base_url=server.url) as http:
            # Each body twice: the second sending is a retry with its own decision.
            return [http.post("/chat/completions", content=body_of(f"r{n % 15}")).status_code for n in range(30)]


def test_the_same_seed_replays_the_same_faults_and_another_seed_does_not():
    first = statuses_for(11)
    assert first == statuses_for(11)
    assert first != statuses_for(12)
    assert 200 in first and set(first) - {200}


def test_the_sdks_own_retry_of_the_same_body_can_succeed():
    plan = {"rate": 0.5, "kinds": ("500",)}
    # A seed under which this exact request fails once, then goes through on its retry.
    with running() as server:
        sent: list[bytes] = []

        def remember(request: httpx2.Request) -> None:
            sent.append(request.read())

        with httpx2.Client(event_hooks={"request": [remember]}) as http:
            client = openai.OpenAI(api_key="sk-fake", base_url=server.url, max_retries=0, http_client=http)
            ask(client)
    digest = body_digest(sent[0])
    seed = next(s for s in range(500) if decide(FaultPlan(seed=s, **plan), digest, 0) and not decide(FaultPlan(seed=s, **plan), digest, 1))
    with running(seed=seed, **plan) as server, sdk(server, retries=1) as client:
        assert ask(client).choices[0].finish_reason == "tool_calls"
        assert server.fault_counts == {"500": 1}
        assert server.ledger.report()["requests"] == 2


# --- the command line ----------------------------------------------------------------------------


def test_command_line_defaults_inject_nothing():
    plan = fault_plan(parser().parse_args(["--port", "0"]))
    assert plan == FaultPlan(rate=0.0, kinds=KINDS, seed=0, retry_after_s=1, hang_s=30.0)
    assert not plan.active


def test_command_line_builds_the_plan():
    args = parser().parse_args(["--port", "0", "--fault-rate", "0.2", "--faults", "hang,429", "--fault-seed", "9",
                                "--retry-after", "3", "--hang-s", "1.5"])
    assert fault_plan(args) == FaultPlan(rate=0.2, kinds=("429", "hang"), seed=9, retry_after_s=3, hang_s=1.5)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--fault-rate", "1.5"], "argument --fault-rate: 1.5 is outside 0..1"),
        (["--fault-rate", "lots"], "argument --fault-rate: 'lots' is not a number"),
        (["--faults", "429,teapot"], "argument --faults: unknown fault kind 'teapot'; use some of 429,500"),
        (["--retry-after", "-1"], "argument --retry-after: must be 0 or more"),
        (["--hang-s", "0"], "argument --hang-s: must be more than 0 seconds"),
    ],
)
def test_command_line_refuses_bad_fault_options(args, fragment, capsys):
    with pytest.raises(SystemExit) as info:
        parser().parse_args(["--port", "0", *args])
    assert info.value.code == 2
    assert fragment in capsys.readouterr().err


def test_command_line_serves_faults_and_reports_their_counts_on_exit():
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "evals.sim", "--port", "0", "--fault-rate", "1", "--faults", "503", "--fault-seed", "3"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        url = proc.stdout.readline().split()[3]
        announced = proc.stdout.readline().strip()
        assert announced == (f"evals.sim injecting faults into 1 of chat requests: 503; seed 3, retry-after 1 s, "
                             f"hang 30 s; counts at {url}/_faults")
        with openai.OpenAI(api_key="sk-never-logged", base_url=url, max_retries=0, timeout=5) as client:
            with pytest.raises(openai.InternalServerError):
                ask(client)
        assert httpx2.get(f"{url}/_faults").json()["counts"] == {"503": 1}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        out, err = proc.communicate(timeout=5)
        assert out.strip().splitlines()[-1] == "evals.sim faults injected: 503=1"
        assert "sk-never-logged" not in out + err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
