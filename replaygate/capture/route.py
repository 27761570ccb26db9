"""Where one case's model requests go, whoever sends them: the run's transport, under that case's cassette and trace.

A `CaseRoute` exists while a case's solver runs. The handed client, a client the solver builds itself
(captured at the transport class), and the loopback endpoint (by the token in its URL) all send through
`route.send` / `route.send_sync`, so every model call of a case lands in the same cassette, trace,
breaker and throttle. Concurrent cases stay apart: the route travels with the case's context, or is
named by its token, never by a process-wide variable.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import urllib.parse
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Iterator

import httpx2

from replaygate.cassettes.cassette import CURRENT_CASE
from replaygate.core.errors import InputError
from replaygate.llm.stream import is_event_stream
from replaygate.llm.tap import relayed
from replaygate.llm.trace import CURRENT_TRACE, Trace

CURRENT_ROUTE: ContextVar["CaseRoute | None"] = ContextVar("replaygate_route", default=None)
# Set while the harness's own network transport sends (record and live runs): its connections are the run's.
HARNESS_SEND: ContextVar[bool] = ContextVar("replaygate_harness_send", default=False)
# A request extension: the request came from a client the harness did not hand over (captured at its transport),
# so in record and live runs it is retargeted to the backend before the network (replaygate.capture.retarget).
CAPTURED = "replaygate_captured"
GUARD_FIX = ("send model calls through the `client` argument or `prompt.base_url` "
             "(or set network_guard = false for suites that call other services)")

_lock = threading.Lock()
_routes: dict[str, "CaseRoute"] = {}
# The loopback endpoint's root (http://127.0.0.1:PORT) while one is serving; set by replaygate.capture.endpoint.
_endpoint: list[str] = []


class CaptureError(InputError):
    """A captured request the harness cannot carry (a sync call that would block the run's own loop)."""


@dataclass(eq=False)
class CaseRoute:
    """One running case: its cassette (None in live runs), its trace, and the run's transport on the run's loop."""

    case: str | None
    trace: Trace | None
    transport: httpx2.AsyncBaseTransport
    loop: asyncio.AbstractEventLoop
    token: str = field(default_factory=lambda: secrets.token_hex(8))
    # Model requests this case sent through the harness, by any route; 0 at the end marks a case whose calls escaped.
    calls: int = 0
    name: str = ""  # the case as messages name it (its task id)
    # The network guard (replaygate.capture.guard): on, a connection this case makes outside the harness is refused.
    guard: bool = True
    allow_hosts: tuple[str, ...] = ()  # hosts (or host:port) the guard lets this case reach
    violation: str = ""  # the guard's line for the first connection it refused; the case fails with it
    # The harness's own failure (a cassette miss) on a request the loopback endpoint relayed: its client saw only a
    # 502, so the case fails with this, as it would have through the handed client.
    failure: Exception | None = None

    @property
    def base_url(self) -> str:
        """This case's OpenAI-compatible URL on the loopback endpoint ("" when none is serving)."""
        return f"{_endpoint[0]}/case/{self.token}/v1" if _endpoint else ""

    def escaped(self, host: str, port: int | None) -> str:
        """Note a refused connection (the first one is the case's failure) and return the line that says so."""
        where = f"[{host}]" if ":" in host else host
        line = (f"replaygate: case {self.name or self.case or '?'} tried to reach {where}:{port if port is not None else '?'} "
                f"outside the harness; {GUARD_FIX}")
        if not self.violation:
            self.violation = line
        return line

    async def send(self, request: httpx2.Request) -> httpx2.Response:
        """Send on the run's transport as this case; must be awaited on `self.loop`."""
        case_token, trace_token = CURRENT_CASE.set(self.case), CURRENT_TRACE.set(self.trace)
        try:
            self.calls += 1
            return await self.transport.handle_async_request(request)
        finally:
            CURRENT_CASE.reset(case_token)
            CURRENT_TRACE.reset(trace_token)

    async def send_async(self, request: httpx2.Request) -> httpx2.Response:
        """From any event loop: on the run's own, the answer streams as it comes; from another, it comes whole."""
        if asyncio.get_running_loop() is self.loop:
            return await self.send(request)
        body = await request.aread()
        future = asyncio.run_coroutine_threadsafe(self._send_whole(request, body), self.loop)
        status, headers, content = await asyncio.wrap_future(future)
        return httpx2.Response(status, headers=headers, content=content, request=request)

    def send_sync(self, request: httpx2.Request, stream: bool = False) -> httpx2.Response:
        """From any other thread: cross to the run's loop, send, and hand back the whole answer; with `stream`,
        for a caller that reads a response's stream (an httpx2 client), an event stream passes on as it comes."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            # Waiting here for the loop would wait for ourselves: the loop is this thread, blocked in the call.
            raise CaptureError(
                f"case {self.name or self.case or '?'}: a sync client was called from the async solver, which blocks "
                "the run's event loop; await an async client (openai.AsyncOpenAI, httpx2.AsyncClient), or write the "
                "solver as a plain def")
        body = request.read()
        answer = asyncio.run_coroutine_threadsafe(self._send_whole(request, body, stream), self.loop).result()
        if isinstance(answer, httpx2.Response):
            return relayed(answer, request, self.loop)  # a stream: each event passes on as the loop gets it
        status, headers, content = answer
        return httpx2.Response(status, headers=headers, content=content, request=request)

    async def _send_whole(self, request: httpx2.Request, body: bytes,
                          stream: bool = False) -> tuple[int, list[tuple[str, str]], bytes] | httpx2.Response:
        forwarded = httpx2.Request(request.method, request.url, headers=request.headers, content=body,
                                   extensions=dict(request.extensions))
        response = await self.send(forwarded)
        if stream and is_event_stream(response.headers.get("content-type", "")):
            return response  # read chunk by chunk by send_sync's caller, not here
        try:
            content = await response.aread()
        finally:
            await response.aclose()
        kept = [(k, v) for k, v in response.headers.multi_items()
                if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        return response.status_code, kept, content


class RouteTransport(httpx2.BaseTransport):
    """The handed sync client's transport: the current case's route, or `fallback` outside any case."""

    def __init__(self, fallback: httpx2.BaseTransport):
        self.fallback = fallback

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        route = CURRENT_ROUTE.get()
        if route is None:
            return self.fallback.handle_request(request)
        return route.send_sync(request, stream=True)

    def close(self) -> None:
        self.fallback.close()


@contextmanager
def harness_send() -> Iterator[None]:
    """Mark what runs in the block as the harness's own sending: neither captured nor refused by the guard."""
    token = HARNESS_SEND.set(True)
    try:
        yield
    finally:
        HARNESS_SEND.reset(token)


@contextmanager
def routing(route: CaseRoute) -> Iterator[CaseRoute]:
    """Make `route` the current case's route, findable by its token, while the block runs."""
    with _lock:
        _routes[route.token] = route
    context_token = CURRENT_ROUTE.set(route)
    try:
        yield route
    finally:
        CURRENT_ROUTE.reset(context_token)
        with _lock:
            _routes.pop(route.token, None)


def is_active(route: CaseRoute) -> bool:
    """The route's case is still running (a thread it started may outlive it)."""
    with _lock:
        return _routes.get(route.token) is route


def route_for(token: str) -> CaseRoute | None:
    with _lock:
        return _routes.get(token)


def active_routes() -> list[CaseRoute]:
    with _lock:
        return list(_routes.values())


def set_endpoint(root: str | None) -> None:
    """Called by the loopback endpoint as it starts (its root URL) and stops (None)."""
    _endpoint[:] = [root.rstrip("/")] if root else []


def endpoint_address() -> tuple[str, int] | None:
    """(host, port) of the loopback endpoint while one is serving: the guard lets cases reach it."""
    if not _endpoint:
        return None
    parts = urllib.parse.urlsplit(_endpoint[0])
    return (parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))


# A sync solver's client outside any route (no case is current): its requests cross to the run's loop carrying
# the case and trace current in the calling thread, so cassettes and traces work as for async.
class SyncBridge(httpx2.BaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport, loop: asyncio.AbstractEventLoop):
        self.inner, self.loop = inner, loop

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        body = request.read()
        case, trace = CURRENT_CASE.get(), CURRENT_TRACE.get()

        async def send() -> tuple[int, list[tuple[str, str]], bytes]:
            CURRENT_CASE.set(case)
            CURRENT_TRACE.set(trace)
            forwarded = httpx2.Request(request.method, request.url, headers=request.headers, content=body)
            response = await self.inner.handle_async_request(forwarded)
            content = await response.aread()
            kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in ("content-encoding", "content-length")]
            return response.status_code, kept, content

        status, headers, content = asyncio.run_coroutine_threadsafe(send(), self.loop).result()
        return httpx2.Response(status, headers=headers, content=content, request=request)
