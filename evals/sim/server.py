"""Serving the simulator over stdlib HTTP: POST /v1/chat/completions, the Azure deployments
path and GET /v1/models. Request headers are never logged: they carry API keys."""

from __future__ import annotations

import logging
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from .routes import HEADERS, encode, route

log = logging.getLogger("evals.sim.server")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as SDK connection pools expect
    server_version = "evals.sim"
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
        status, payload = route(method, urlsplit(self.path).path, body)
        data = encode(payload)
        self.send_response(status)
        for name, value in HEADERS.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        # The base class logs only the request line and status, never headers; keep it that way.
        log.debug("%s " + format, self.address_string(), *args)


class SimServer(ThreadingHTTPServer):
    """A threaded HTTP server for the simulator; `url` is its OpenAI base URL."""

    daemon_threads = True

    def __init__(self, host: str, port: int, latency_ms: int = 0):
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.latency_ms = max(0, int(latency_ms))
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}/v1"


def serve(host: str = "127.0.0.1", port: int = 0, latency_ms: int = 0) -> SimServer:
    """A bound server (port 0 picks a free one); run `serve_forever()`, e.g. in a thread, and `shutdown()` to stop."""
    return SimServer(host, port, latency_ms)
