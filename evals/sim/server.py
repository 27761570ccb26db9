"""Serving the simulator over stdlib HTTP: POST /v1/chat/completions, the Azure deployments
path and a Foundry project's /openai/v1 path (with Azure's 404 for `routes.MISSING_DEPLOYMENT`),
GET /v1/models and GET /v1/_faults, with optional fault injection (`evals.sim.faults`).
Request headers are never logged: they carry API keys."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from .faults import (
    FAULT_HEADER,
    MALFORMED_BODY,
    TRANSPORT_KINDS,
    FaultPlan,
    apply_content_fault,
    body_digest,
    decide,
    error_reply,
)
from .routes import HEADERS, encode, invalid_key_body, is_chat_completions, route

log = logging.getLogger("evals.sim.server")


class FaultLedger:
    """Per-body attempt counters and injected-fault counts, shared by the request threads."""

    def __init__(self, plan: FaultPlan):
        self.plan = plan
        self._lock = threading.Lock()
        self._attempts: dict[str, int] = {}
        self._counts = {kind: 0 for kind in plan.kinds}
        self._requests = 0

    def next_attempt(self, body: bytes) -> tuple[str, int]:
        """This body's digest and how often it was seen before; the count then goes up by one."""
        digest = body_digest(body)
        with self._lock:
            attempt = self._attempts.get(digest, 0)
            self._attempts[digest] = attempt + 1
            self._requests += 1
        return digest, attempt

    def record(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] += 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def report(self) -> dict[str, Any]:
        """What GET /v1/_faults answers."""
        with self._lock:
            counts, requests = dict(self._counts), self._requests
        plan = self.plan
        return {"object": "fault_counts", "counts": counts, "total": sum(counts.values()), "requests": requests,
                "rate": plan.rate, "seed": plan.seed, "kinds": list(plan.kinds)}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as SDK connection pools expect
    server_version = "evals.sim"
    # Headers and body go out in two writes; with Nagle on, the second waits ~40 ms for a delayed ACK.
    disable_nagle_algorithm = True
    server: "SimServer"

    def do_POST(self) -> None:
        self._answer("POST")

    def do_GET(self) -> None:
        self._answer("GET")

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if self.server.latency_ms > 0:
            # Sleeping in this request's own thread lets concurrent requests overlap.
            time.sleep(self.server.latency_ms / 1000)
        path = urlsplit(self.path).path
        if method == "GET" and path.rstrip("/").endswith("/_faults"):
            self._send(200, encode(self.server.ledger.report()))
            return
        if not self.server.accepts(self.headers):
            self._send(401, encode(invalid_key_body()))
            return
        kind = self.server.fault_for(method, path, body)
        if kind in TRANSPORT_KINDS:
            self.server.ledger.record(kind)
            self._transport_fault(kind, method, path, body)
            return
        status, payload = route(method, path, body)
        extra = {}
        if kind is not None and status == 200:
            bent = apply_content_fault(kind, json.loads(body), payload)
            if bent is not None:
                self.server.ledger.record(kind)
                payload, extra = bent, {FAULT_HEADER: kind}
        self._send(status, encode(payload), extra)

    def _transport_fault(self, kind: str, method: str, path: str, body: bytes) -> None:
        log.debug("injecting fault %s into %s %s", kind, method, path)
        marker = {FAULT_HEADER: kind}
        if kind == "malformed_json":
            self._send(200, MALFORMED_BODY, marker)
        elif kind == "truncated":
            # What a dropped connection looks like to a client: the full length promised, half the body sent.
            status, payload = route(method, path, body)
            data = encode(payload)
            self._send(status, data[: len(data) // 2], marker, length=len(data))
            self.close_connection = True
        elif kind == "hang":
            if self.server.closing.wait(self.server.faults.hang_s):
                self.close_connection = True  # the server is stopping: end this thread now
                return
            status, payload = route(method, path, body)
            try:
                self._send(status, encode(payload), marker)
            except OSError:
                self.close_connection = True  # the client gave up long ago
        else:
            status, headers, payload = error_reply(kind, self.server.faults)
            self._send(status, encode(payload), {**headers, **marker})

    def _send(self, status: int, data: bytes, extra: dict[str, str] | None = None, length: int | None = None) -> None:
        self.send_response(status)
        for name, value in {**HEADERS, **(extra or {})}.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(data) if length is None else length))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        # The base class logs only the request line and status, never headers; keep it that way.
        log.debug("%s " + format, self.address_string(), *args)


class SimServer(ThreadingHTTPServer):
    """A threaded HTTP server for the simulator; `url` is its OpenAI base URL, `fault_counts` the faults injected so far."""

    daemon_threads = True
    # A burst of 64+ connections must not overflow the listen backlog (5 by default): the
    # kernel would drop SYNs and clients would stall a second or more on the retransmit.
    request_queue_size = 1024

    def __init__(self, host: str, port: int, latency_ms: int = 0, faults: FaultPlan | None = None, api_key: str = ""):
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.api_key = api_key
        self.latency_ms = max(0, int(latency_ms))
        self.faults = faults or FaultPlan()
        self.ledger = FaultLedger(self.faults)
        # Set when the server stops, so a hanging request thread ends instead of sleeping on.
        self.closing = threading.Event()
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}/v1"

    def accepts(self, headers: Any) -> bool:
        """Whether a request carries the key, as a bearer token (OpenAI) or an api-key header (Azure); any does without one."""
        if not self.api_key:
            return True
        bearer = (headers.get("authorization") or "").removeprefix("Bearer ").strip()
        return self.api_key in (bearer, (headers.get("api-key") or "").strip())

    @property
    def fault_counts(self) -> dict[str, int]:
        """Injected faults by kind (every configured kind, zeros included)."""
        return self.ledger.counts()

    def fault_for(self, method: str, path: str, body: bytes) -> str | None:
        """The fault this request gets, if any; only chat completions are ever faulted."""
        if not self.faults.active or not is_chat_completions(method, path):
            return None
        digest, attempt = self.ledger.next_attempt(body)
        return decide(self.faults, digest, attempt)

    def shutdown(self) -> None:
        self.closing.set()
        super().shutdown()

    def server_close(self) -> None:
        self.closing.set()
        super().server_close()


def serve(host: str = "127.0.0.1", port: int = 0, latency_ms: int = 0, faults: FaultPlan | None = None,
          api_key: str = "") -> SimServer:
    """A bound server (port 0 picks a free one); run `serve_forever()`, e.g. in a thread, and `shutdown()` to stop.
    `faults` turns on fault injection; see `evals.sim.faults` for the rule. `api_key` refuses other keys with a 401."""
    return SimServer(host, port, latency_ms, faults, api_key)
