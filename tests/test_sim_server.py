"""The simulator served over loopback HTTP, called with the real openai SDK."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2
import openai
import pytest

from evals.sim import MODEL_NAME
from evals.sim.server import serve

REPO = Path(__file__).resolve().parents[1]
TOOL = {"type": "function", "function": {"name": "get_rooms_and_availability", "parameters": {
    "type": "object", "properties": {"date": {"type": "string"}, "time": {"type": "string"}, "duration_min": {"type": "integer"}},
    "required": ["date", "time", "duration_min"]}}}
PROMPT = ("Call the tool only once. The room must be free for the whole slot, have capacity >= attendees, "
          "all required equipment, and be accessible when required. Prefer the tightest fit. Reply with only the room id.\n"
          "Find a room on 2026-03-02 at 10:30 for 45 minutes, 6 attendees. Needs: projector. Accessible required: False")
ROOMS = {"rooms": [
    {"id": "Big", "capacity": 20, "equipment": ["projector"], "accessible": True, "distance_m": 5, "bookings": [], "free": True},
    {"id": "Right", "capacity": 6, "equipment": ["projector"], "accessible": False, "distance_m": 50, "bookings": [], "free": True},
]}


def run_server(latency_ms: int = 0):
    server = serve("127.0.0.1", 0, latency_ms)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture(scope="module")
def server():
    srv, thread = run_server()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def two_turns(client, model: str) -> str:
    messages = [{"role": "user", "content": PROMPT}]
    first = client.chat.completions.create(model=model, messages=messages, tools=[TOOL], tool_choice="auto", seed=4)
    call = first.choices[0].message.tool_calls[0]
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [{"id": call.id, "type": "function",
                                                               "function": {"name": call.function.name, "arguments": call.function.arguments}}]},
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps(ROOMS)},
    ]
    return client.chat.completions.create(model=model, messages=messages, tools=[TOOL], tool_choice="auto", seed=4).choices[0].message.content


def test_openai_sdk_over_http(server):
    assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/v1")
    with openai.OpenAI(api_key="sk-anything", base_url=server.url, max_retries=0) as client:
        raw = client.chat.completions.with_raw_response.create(model=MODEL_NAME, messages=[{"role": "user", "content": PROMPT}], tools=[TOOL])
        assert raw.headers["x-simulator"] == "evals.sim offline stand-in (not a real model)"
        assert raw.parse().model == MODEL_NAME
        assert two_turns(client, MODEL_NAME) == "Right"
        assert [m.id for m in client.models.list().data] == [MODEL_NAME]


def test_azure_path_over_http(server):
    endpoint = server.url.removesuffix("/v1")
    with openai.AzureOpenAI(api_key="k", azure_endpoint=endpoint, api_version="2024-10-21", max_retries=0) as client:
        assert two_turns(client, "room-deployment") == "Right"


def test_malformed_body_is_a_400_and_unknown_path_a_404(server):
    with httpx2.Client(base_url=server.url) as http:
        bad = http.post("/chat/completions", content=b"{oops", headers={"content-type": "application/json"})
        no_messages = http.post("/chat/completions", json={"model": MODEL_NAME})
        missing = http.get("/nothing-here")
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "invalid_request_error"
    assert bad.headers["x-simulator"].startswith("evals.sim")
    assert no_messages.status_code == 400 and "messages" in no_messages.json()["error"]["message"]
    assert missing.status_code == 404
    assert set(missing.json()["error"]) == {"message", "type", "param", "code"}


def test_latency_is_added_per_request():
    srv, thread = run_server(latency_ms=150)
    try:
        with openai.OpenAI(api_key="x", base_url=srv.url, max_retries=0) as client:
            started = time.perf_counter()
            client.chat.completions.create(model=MODEL_NAME, messages=[{"role": "user", "content": "hi"}])
            assert time.perf_counter() - started >= 0.15
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def test_command_line_announces_itself_and_stops_cleanly_on_sigterm():
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.Popen([sys.executable, "-m", "evals.sim", "--port", "0", "--latency-ms", "1"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("evals.sim listening on http://127.0.0.1:")
        assert line.endswith("/v1 — offline simulator sim-standin-1, not a real model")
        url = line.split()[3]
        with openai.OpenAI(api_key="sk-never-logged", base_url=url, max_retries=0) as client:
            reply = client.chat.completions.create(model=MODEL_NAME, messages=[{"role": "user", "content": PROMPT}], tools=[TOOL])
            assert reply.choices[0].finish_reason == "tool_calls"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        out, err = proc.communicate(timeout=5)
        assert "sk-never-logged" not in out + err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
