"""Capture at the transport class: a client the solver builds itself still sends through its case's route.

As Inspect AI's agent bridge does, the classes are patched for the duration of a run (refcounted:
`install` at wiring, `uninstall` at close; nothing stays patched after) and the patch acts only
where a case's route is current in the calling context. Then a model request sent by any
`httpx2.HTTPTransport` / `AsyncHTTPTransport` (what every OpenAI and Azure OpenAI client uses by
default), or by httpx's when it is installed, goes to `route.send` instead of the network. The
harness's own network transport is marked and passes untouched. Threads a case starts (plain
threads and thread pools) carry its context, so their requests are the case's too.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import sys
import threading
from typing import Any, Callable

import httpx2

from replaygate.capture.route import CAPTURED, CURRENT_ROUTE, CaptureError, CaseRoute, endpoint_address, harness_send, \
    is_active
from replaygate.cassettes.cassette_match import endpoint_of
from replaygate.llm.backend import OWN_TRANSPORT as OWN  # the harness's own network transport: never captured

# First path segment, after the version or Azure prefix, of the OpenAI and Azure OpenAI APIs: what a model request is.
MODEL_ENDPOINTS = frozenset({
    "chat", "completions", "responses", "embeddings", "models", "threads", "assistants", "conversations",
    "files", "uploads", "vector_stores", "batches", "moderations", "images", "audio", "realtime",
})
_ABSENT = object()


class Patches:
    """Attributes replaced while at least one run holds them, put back exactly as they were (inherited ones are
    removed again). Runs nest: the first `hold` applies the patches, the last `release` restores them."""

    def __init__(self, apply: Callable[["Patches"], None], on_restore: Callable[[], None] = lambda: None) -> None:
        self.apply, self.on_restore = apply, on_restore
        self.lock = threading.Lock()
        self.holders = 0
        self._saved: list[tuple[Any, str, Any]] = []

    @property
    def held(self) -> bool:
        return self.holders > 0

    def hold(self) -> None:
        with self.lock:
            self.holders += 1
            if self.holders == 1:
                self.apply(self)

    def release(self) -> None:
        with self.lock:
            if self.holders == 0:
                return
            self.holders -= 1
            if self.holders == 0:
                self.on_restore()
                # What `apply` kept of the originals stays: a call already inside a patched function still finds them.
                while self._saved:
                    owner, name, old = self._saved.pop()
                    if old is _ABSENT:
                        delattr(owner, name)
                    else:
                        setattr(owner, name, old)

    def replace(self, owner: Any, name: str, value: Any) -> None:
        self._saved.append((owner, name, vars(owner).get(name, _ABSENT)))
        setattr(owner, name, value)


_originals: dict[str, Callable[..., Any]] = {}
_httpx_patched = False


def is_model_request(url: Any) -> bool:
    """A call of the OpenAI or Azure OpenAI API (any host: the backend decides where it goes), not another service."""
    endpoint = endpoint_address()
    if endpoint is not None and (url.host, url.port) == endpoint and url.path.startswith("/case/"):
        return False  # for the loopback endpoint, which routes by the case token in its path
    # The loopback's shared root (OPENAI_BASE_URL during a run) names no case: the context does, as for any host.
    return endpoint_of(url.path).split("/", 1)[0] in MODEL_ENDPOINTS


def captured_route(url: Any) -> CaseRoute | None:
    """The case a request is captured for: a model (or agent-service) request made in a running case's context."""
    route = CURRENT_ROUTE.get()
    if route is None or not is_model_request(url):
        return None
    if not is_active(route):
        raise CaptureError(f"case {route.name or route.case or '?'} had finished when a thread it started sent "
                           f"{url.path}; wait for the solver's threads before it returns")
    return route


def _captured(request: httpx2.Request) -> httpx2.Request:
    request.extensions = {**request.extensions, CAPTURED: True}
    if (request.url.host, request.url.port) == endpoint_address():
        # The loopback's shared root (from OPENAI_BASE_URL): its port changes every run, a recording must not.
        request.url = request.url.copy_with(host="loopback.invalid", port=None)
    return request


# --- httpx2 ----------------------------------------------------------------------------------------------


def _handle_request(self: httpx2.HTTPTransport, request: httpx2.Request) -> httpx2.Response:
    original = _originals["httpx2.sync"]
    if getattr(self, OWN, False):
        with harness_send():
            return original(self, request)
    route = captured_route(request.url)
    return original(self, request) if route is None else route.send_sync(_captured(request), stream=True)


async def _handle_async_request(self: httpx2.AsyncHTTPTransport, request: httpx2.Request) -> httpx2.Response:
    original = _originals["httpx2.async"]
    if getattr(self, OWN, False):
        with harness_send():
            return await original(self, request)
    route = captured_route(request.url)
    return await original(self, request) if route is None else await route.send_async(_captured(request))


# --- httpx (when installed): converted to httpx2 and back ------------------------------------------------


def _to_httpx2(request: Any, content: bytes) -> httpx2.Request:
    return httpx2.Request(request.method, str(request.url), headers=request.headers.multi_items(), content=content,
                          extensions={CAPTURED: True})


def _legacy_handle_request(self: Any, request: Any) -> Any:
    import httpx

    route = captured_route(request.url)
    if route is None:
        return _originals["httpx.sync"](self, request)
    response = route.send_sync(_to_httpx2(request, request.read()))
    return httpx.Response(response.status_code, headers=_decoded_headers(response), content=response.content,
                          request=request)


async def _legacy_handle_async_request(self: Any, request: Any) -> Any:
    import httpx

    route = captured_route(request.url)
    if route is None:
        return await _originals["httpx.async"](self, request)
    response = await route.send_async(_to_httpx2(request, await request.aread()))
    if response.is_stream_consumed:  # read on the way (the trace, a cassette): hand over the decoded bytes
        return httpx.Response(response.status_code, headers=_decoded_headers(response), content=response.content,
                              request=request)

    class Stream(httpx.AsyncByteStream):  # the answer as it arrives, still encoded as sent
        async def __aiter__(self):
            async for chunk in response.aiter_raw():
                yield chunk

        async def aclose(self) -> None:
            await response.aclose()

    return httpx.Response(response.status_code, headers=response.headers.multi_items(), stream=Stream(),
                          request=request)


def _decoded_headers(response: httpx2.Response) -> list[tuple[str, str]]:
    return [(k, v) for k, v in response.headers.multi_items() if k.lower() not in ("content-encoding", "content-length")]


# --- threads ---------------------------------------------------------------------------------------------


def _start(self: threading.Thread) -> None:
    # Only a thread started inside a case inherits it; the harness's and the pools' own threads stay plain.
    if CURRENT_ROUTE.get() is not None:
        context, run = contextvars.copy_context(), self.run
        self.run = lambda: context.run(run)  # type: ignore[method-assign]
    return _originals["thread.start"](self)


def _submit(self: concurrent.futures.ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    # Every job runs in its submitter's context: a pool worker may have been started by another case.
    return _originals["pool.submit"](self, contextvars.copy_context().run, fn, *args, **kwargs)


def _legacy_httpx() -> Any:
    """httpx, once something imported it, and not httpx2 under that name; importing it here would slow every run."""
    httpx = sys.modules.get("httpx")
    return None if httpx is None or getattr(httpx, "HTTPTransport", None) is httpx2.HTTPTransport else httpx


def _apply(patches: Patches) -> None:
    for key, owner, name, replacement in (
        ("httpx2.sync", httpx2.HTTPTransport, "handle_request", _handle_request),
        ("httpx2.async", httpx2.AsyncHTTPTransport, "handle_async_request", _handle_async_request),
        ("thread.start", threading.Thread, "start", _start),
        ("pool.submit", concurrent.futures.ThreadPoolExecutor, "submit", _submit),
    ):
        _originals[key] = getattr(owner, name)
        patches.replace(owner, name, replacement)
    _follow_httpx(patches)


def _forget_httpx() -> None:
    global _httpx_patched
    _httpx_patched = False


_patches = Patches(_apply, on_restore=_forget_httpx)


def install() -> None:
    """Capture until the matching `uninstall` (calls nest: the last uninstall restores every class)."""
    _patches.hold()


def follow_imports() -> None:
    """Capture httpx too if a solver imported it since `install` (called as each case starts)."""
    if _patches.held and not _httpx_patched and "httpx" in sys.modules:
        with _patches.lock:
            if _patches.held:
                _follow_httpx(_patches)


def _follow_httpx(patches: Patches) -> None:
    global _httpx_patched
    httpx = _legacy_httpx()
    if httpx is None or _httpx_patched:
        return
    for key, owner, name, replacement in (("httpx.sync", httpx.HTTPTransport, "handle_request", _legacy_handle_request),
                                          ("httpx.async", httpx.AsyncHTTPTransport, "handle_async_request",
                                           _legacy_handle_async_request)):
        _originals[key] = getattr(owner, name)
        patches.replace(owner, name, replacement)
    _httpx_patched = True


def uninstall() -> None:
    _patches.release()


def installed() -> bool:
    return _patches.held
