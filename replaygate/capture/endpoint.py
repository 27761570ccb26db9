"""The loopback endpoint: OpenAI-compatible HTTP on 127.0.0.1 while cases run, for agents configured only by a URL.

Any method and path under a case's URL (`<root>/case/<token>/...`: chat completions, Responses, Azure's
routes, polls) is sent through that case's route, so it lands in the case's cassette, trace, double,
breaker and throttle; the answer is relayed chunk by chunk as it arrives, so a stream stays a stream.
The root without a token (`<root>/v1/...`, where OPENAI_BASE_URL points during a run) serves the one
running case when exactly one runs. The server has an event loop of its own, in a thread of its own:
each request crosses to its route's loop to be sent, and a blocked case loop cannot stall other cases.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import socket
import threading
from contextlib import contextmanager
from typing import Any, Iterator

import h11
import httpx2

from replaygate.capture.route import CAPTURED, CaseRoute, active_routes, route_for, set_endpoint
from replaygate.cassettes.cassette import CASE_HEADER
from replaygate.core.errors import InputError
from replaygate.llm.azure import ROLE_HEADER

CASE_PREFIX = "/case/"
# Where a relayed request is addressed: a host that is stable across runs (cassettes do not churn with the port)
# and reaches nothing. In record and live runs the request is marked captured, so Retarget (replaygate.capture.
# retarget) sends it to the backend with the backend's credentials.
LOOPBACK_ORIGIN = "http://loopback.invalid"
# Framing, the client's own credentials (never trusted, never recorded), and the harness's routing headers.
REQUEST_DROPPED = frozenset({
    "host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "upgrade", "expect",
    "proxy-authorization", "proxy-connection", "accept-encoding", "cookie",
    "authorization", "api-key", "openai-organization", "openai-project", CASE_HEADER, ROLE_HEADER,
})
# What a client built with no arguments reads during a run. Keys only where the user has none: theirs
# would reach the loopback (which drops it) and no further.
PLACEHOLDER_KEY = "replaygate-loopback"
PLACEHOLDER_API_VERSION = "2024-10-21"
# A relay not started on its case's loop by then means that loop is blocked (an async solver waiting
# synchronously on the agent that made this request): answer that, rather than hang both forever.
START_TIMEOUT_S = 20.0
# Framing is the endpoint's own, and the body is relayed decoded.
RESPONSE_DROPPED = frozenset({"content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive"})
_STARTED, _HEAD, _DATA, _END, _FAILED = "started", "head", "data", "end", "failed"


class LoopBlocked(InputError):
    """A case's own event loop never took its agent's request: the case fails with this line, unscored."""


class _Relay:
    """One request sent on its route's loop, its answer put on the server loop's `queue` piece by piece."""

    def __init__(self, server_loop: asyncio.AbstractEventLoop, queue: asyncio.Queue, route: CaseRoute,
                 request: httpx2.Request) -> None:
        self.server_loop, self.queue, self.route, self.request = server_loop, queue, route, request
        # Cancelled before it ran (a blocked loop, a client gone): asyncio would still start it once, so it checks.
        self.abandoned = threading.Event()

    def put(self, item: tuple) -> None:
        try:
            self.server_loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:
            pass  # the server closed meanwhile: nobody is waiting

    async def send(self) -> None:
        if self.abandoned.is_set():
            return
        self.put((_STARTED, None))  # the route's loop is running
        try:
            response = await self.route.send(self.request)
        except Exception as exc:
            # The client sees a 502; the case fails with what the handed client would have raised.
            self.route.failure = self.route.failure or exc
            raise
        try:
            kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in RESPONSE_DROPPED]
            self.put((_HEAD, (response.status_code, kept)))
            async for chunk in response.aiter_bytes():
                if chunk:
                    self.put((_DATA, chunk))
        finally:
            await response.aclose()
        self.put((_END, None))

    def done(self, future: concurrent.futures.Future) -> None:
        if future.cancelled():
            self.abandoned.set()
            self.put((_FAILED, None))
        elif future.exception() is not None:
            self.put((_FAILED, future.exception()))


class LoopbackServer:
    """An HTTP/1.1 server (h11 on asyncio) on 127.0.0.1 at an ephemeral port, relaying to case routes."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.root = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._connections: set[asyncio.Task] = set()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, name="replaygate-loopback", daemon=True)

    def start(self) -> "LoopbackServer":
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(timeout=30)
        except BaseException:
            self.close()
            raise
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._connection, sock=self._sock)

    def close(self) -> None:
        """Stop listening, drop open connections and relays, and end the thread; safe to call twice."""
        if self.loop.is_closed():
            return
        if self._thread.is_alive():
            async def shut() -> None:
                if self._server is not None:
                    self._server.close()
                for task in list(self._connections):
                    task.cancel()  # each cancels its relay on the way out
                await asyncio.gather(*self._connections, return_exceptions=True)

            try:
                asyncio.run_coroutine_threadsafe(shut(), self.loop).result(timeout=30)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join(timeout=30)
        self._sock.close()
        self.loop.close()

    # -- one connection, one request at a time (HTTP/1.1 keep-alive) --

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # Each event of a stream is its own small write: Nagle would hold it for the client's delayed ACK (40 ms).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = h11.Connection(h11.SERVER)
        try:
            while True:
                event = await _next_event(connection, reader)
                if not isinstance(event, h11.Request):
                    break
                if connection.they_are_waiting_for_100_continue:
                    writer.write(connection.send(h11.InformationalResponse(status_code=100, headers=[])))
                body = bytearray()
                while isinstance(part := await _next_event(connection, reader), h11.Data):
                    body += part.data
                if not isinstance(part, h11.EndOfMessage):
                    break
                await self._exchange(connection, writer, event, bytes(body))
                if connection.our_state is not h11.DONE or connection.their_state is not h11.DONE:
                    break
                connection.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            if connection.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                _write_whole(connection, writer, exc.error_status_hint, _error(f"bad HTTP request: {exc}"))
        except (ConnectionError, asyncio.CancelledError, h11.LocalProtocolError):
            pass  # the client went away, or the server is closing: nothing to answer
        finally:
            self._connections.discard(task)
            writer.close()

    async def _exchange(self, connection: h11.Connection, writer: asyncio.StreamWriter, request: h11.Request,
                        body: bytes) -> None:
        target = request.target.decode("latin-1")
        path, _, query = target.partition("?")
        route, rest, refusal = self._route_of(path)
        if route is None:
            _write_whole(connection, writer, *refusal)
            await writer.drain()
            return
        method = request.method.decode("ascii")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers
                   if k.decode("latin-1").lower() not in REQUEST_DROPPED]
        url = LOOPBACK_ORIGIN + rest + (f"?{query}" if query else "")
        forwarded = httpx2.Request(method, url, headers=headers, content=body, extensions={CAPTURED: True})
        queue: asyncio.Queue = asyncio.Queue()
        relay = self._relay(route, forwarded, queue)
        try:
            await self._answer(connection, writer, queue, relay, route, bodyless=method == "HEAD")
        finally:
            relay.cancel()  # the client left mid-answer: stop reading the case's response

    def _route_of(self, path: str) -> tuple[CaseRoute | None, str, tuple[int, bytes]]:
        """The route a path names (and the path past its case prefix), or the status and body to refuse with."""
        if path.startswith(CASE_PREFIX):
            token, _, rest = path[len(CASE_PREFIX):].partition("/")
            route = route_for(token)
            if route is None:
                return None, "", (404, _error(
                    f"no running case has token {token!r}: the URL is from a case that has finished or from "
                    "another run; read prompt.base_url in the solver while its case runs", "unknown_case"))
            return route, "/" + rest, (0, b"")
        running = active_routes()
        if len(running) == 1:
            return running[0], path, (0, b"")
        if running:
            names = ", ".join(sorted(route.name or route.case or f"token {route.token}" for route in running))
            message = (f"{len(running)} cases are running ({names}) and this request names none: give each "
                       "case's client its own URL, prompt.base_url, instead of the shared OPENAI_BASE_URL")
        else:
            message = "no case is running: the loopback serves model requests only while a case runs; use prompt.base_url"
        return None, "", (400, _error(message, "no_case"))

    def _relay(self, route: CaseRoute, request: httpx2.Request, queue: asyncio.Queue) -> concurrent.futures.Future:
        """Send on the route's loop; the answer's head, chunks and end come back through `queue` as they arrive."""
        relay = _Relay(self.loop, queue, route, request)
        try:
            future = asyncio.run_coroutine_threadsafe(relay.send(), route.loop)
        except RuntimeError as exc:  # the case's loop is closed: its run has ended
            future = concurrent.futures.Future()
            future.set_exception(exc)
        future.add_done_callback(relay.done)
        return future

    async def _answer(self, connection: h11.Connection, writer: asyncio.StreamWriter, queue: asyncio.Queue,
                      relay: concurrent.futures.Future, route: CaseRoute, bodyless: bool) -> None:
        try:
            kind, value = await asyncio.wait_for(queue.get(), START_TIMEOUT_S)
        except asyncio.TimeoutError:
            relay.cancel()
            line = (f"case {route.name or route.case or '?'}: its event loop did not take a request to the loopback "
                    f"within {START_TIMEOUT_S:g}s: an async solver is blocked waiting on its agent (subprocess.run, a sync "
                    "HTTP call); use asyncio.create_subprocess_exec, or write the solver as a plain def")
            route.failure = route.failure or LoopBlocked(line)
            _write_whole(connection, writer, 503, _error(line, "case_loop_blocked"))
            await writer.drain()
            return
        if kind == _STARTED:  # the head follows, whenever the model answers
            kind, value = await queue.get()
        if kind == _FAILED:
            _write_whole(connection, writer, 502, _error(_failure_line(value), "replaygate_error"))
            await writer.drain()
            return
        status, headers = value
        writer.write(connection.send(h11.Response(status_code=status, headers=headers)))
        await writer.drain()
        while True:
            kind, value = await queue.get()
            if kind == _DATA:
                if not bodyless:
                    writer.write(connection.send(h11.Data(data=value)))
                    await writer.drain()
            elif kind == _END:
                writer.write(connection.send(h11.EndOfMessage()))
                await writer.drain()
                return
            else:
                # Failed mid-answer: the status is sent, so only an unfinished body can tell the client.
                raise ConnectionError("the case's answer broke off")


async def _next_event(connection: h11.Connection, reader: asyncio.StreamReader) -> Any:
    while True:
        event = connection.next_event()
        if event is not h11.NEED_DATA:
            return event
        connection.receive_data(await reader.read(65536))


def _error(message: str, code: str = "invalid_request") -> bytes:
    """An OpenAI-shaped error body, so SDKs show `message` as the error."""
    payload = {"error": {"message": f"replaygate loopback: {message}", "type": "invalid_request_error",
                         "param": None, "code": code}}
    return json.dumps(payload).encode("utf-8")


def _failure_line(exc: BaseException | None) -> str:
    if exc is None:
        return "the request was cancelled: the run is ending"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _write_whole(connection: h11.Connection, writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
    # The harness's own refusals are final: the SDK must not retry them.
    headers = [("content-type", "application/json"), ("content-length", str(len(body))), ("x-should-retry", "false")]
    writer.write(connection.send(h11.Response(status_code=status, headers=headers)))
    writer.write(connection.send(h11.Data(data=body)))
    writer.write(connection.send(h11.EndOfMessage()))


# -- one server per process, while any run serves; the environment points at it meanwhile --

_lock = threading.Lock()
_server: list[LoopbackServer] = []
_users = 0
_saved_environment: dict[str, str | None] = {}


def loopback_environment(root: str, environ: Any = os.environ) -> dict[str, str]:
    """The variables a client built with no arguments reads, pointed at the loopback root."""
    values = {
        "OPENAI_BASE_URL": f"{root}/v1",
        "AZURE_OPENAI_ENDPOINT": root,
    }
    for name, placeholder in (("OPENAI_API_KEY", PLACEHOLDER_KEY), ("AZURE_OPENAI_API_KEY", PLACEHOLDER_KEY),
                              ("OPENAI_API_VERSION", PLACEHOLDER_API_VERSION)):
        if not environ.get(name):
            values[name] = placeholder
    return values


@contextmanager
def serving() -> Iterator[LoopbackServer]:
    """Serve the loopback (started by the first user, stopped by the last) with the environment pointed at it."""
    global _users
    with _lock:
        if not _server:
            server = LoopbackServer().start()
            _server.append(server)
            set_endpoint(server.root)
            for name, value in loopback_environment(server.root).items():
                _saved_environment[name] = os.environ.get(name)
                os.environ[name] = value
        server = _server[0]
        _users += 1
    try:
        yield server
    finally:
        with _lock:
            _users -= 1
            last = _users == 0
            if last:
                _server.clear()
                set_endpoint(None)
                for name, value in _saved_environment.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
                _saved_environment.clear()
        if last:
            server.close()
