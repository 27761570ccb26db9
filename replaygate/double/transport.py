"""`FunctionModel`: a Python function behind the OpenAI wire protocol, as an in-process httpx2 transport."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, Union

import httpx2

from replaygate.core.errors import InputError
from replaygate.double.reply import (
    Reply,
    ToolCall,
    UnsupportedReply,
    as_reply,
    chat_chunks,
    chat_completion,
    encode,
    error_body,
    response_events,
    response_object,
    sse_frames,
)
from replaygate.double.request import ModelRequest, RequestError, parse_request
from replaygate.llm.trace import CURRENT_TRACE
from replaygate.llm.wire import api_of

ReplyValue = Union[str, ToolCall, list[ToolCall], Reply]
ReplyFunction = Callable[[ModelRequest], Union[ReplyValue, Awaitable[ReplyValue]]]

HEADERS = {"content-type": "application/json", "x-simulator": "function-double"}
STREAM_HEADERS = {"content-type": "text/event-stream; charset=utf-8", "x-simulator": "function-double"}
# Its errors are the same on every attempt: the SDK should report them, not retry them.
ERROR_HEADERS = {**HEADERS, "x-should-retry": "false"}


def _one_line(text: str) -> str:
    return " ".join(text.split())


class FunctionModel:
    """A test double answering every model call with `fn(request)`; calling it makes a transport (the factory a suite's `double` takes)."""

    label = "function test double (in-process; not a real model)"

    def __init__(self, fn: ReplyFunction, name: str | None = None, stream_delay_s: float = 0.0):
        """`stream_delay_s`: a pause before each event of a streamed answer, so a stream takes time as a model's does."""
        if not callable(fn):
            raise TypeError(f"FunctionModel needs a function of a ModelRequest, got {type(fn).__name__}")
        if not isinstance(stream_delay_s, (int, float)) or isinstance(stream_delay_s, bool) or not stream_delay_s >= 0:
            raise InputError(f"FunctionModel stream_delay_s must be a number of seconds >= 0, got {stream_delay_s!r}")
        self.fn = fn
        self.stream_delay_s = float(stream_delay_s)
        self.name = name or getattr(fn, "__name__", None) or type(fn).__name__
        self.label = f"function test double {self.name} (in-process; not a real model)"
        # Reports and cassette folders call its model this, unless the settings name one: never a real model's name.
        self.model_name = self.name

    def __call__(self) -> "FunctionTransport":
        return FunctionTransport(self)

    def __repr__(self) -> str:
        return f"FunctionModel({self.name})"


class FunctionTransport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """Sync and async httpx2 transport serving POST .../chat/completions, POST .../responses and GET .../models."""

    def __init__(self, model: FunctionModel):
        self.model = model
        self.label = model.label

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        routed = self._route(request)
        if isinstance(routed, tuple):
            return self._respond(request, *routed)
        try:
            value = self.model.fn(routed)
            if inspect.isawaitable(value):
                value = _wait(value)
        except Exception as exc:  # noqa: BLE001 - the user's failure becomes the service's 500
            return self._respond(request, *self._failed(exc))
        status, payload = self._answer(routed, value)
        if status == 200 and _streams(routed):
            return httpx2.Response(200, headers=STREAM_HEADERS, content=self._frames(routed, payload), request=request)
        return self._respond(request, status, payload)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        routed = self._route(request)
        if isinstance(routed, tuple):
            return self._respond(request, *routed)
        try:
            value = self.model.fn(routed)
            if inspect.isawaitable(value):
                value = await value
        except Exception as exc:  # noqa: BLE001 - the user's failure becomes the service's 500
            return self._respond(request, *self._failed(exc))
        status, payload = self._answer(routed, value)
        if status == 200 and _streams(routed):
            return httpx2.Response(200, headers=STREAM_HEADERS, content=self._aframes(routed, payload), request=request)
        return self._respond(request, status, payload)

    def _route(self, request: httpx2.Request) -> ModelRequest | tuple[int, dict[str, Any]]:
        """The request the function should answer, or the (status, body) to send instead."""
        path = request.url.path.rstrip("/")
        api = api_of(path) if request.method == "POST" else None
        if api is None:
            if request.method == "GET" and path.endswith("/models"):
                return 200, {"object": "list", "data": []}
            return 404, error_body(
                f"no route for {request.method} {path or '/'}; the function test double serves "
                "POST .../chat/completions, POST .../responses and GET .../models"
            )
        try:
            body = json.loads(request.content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return 400, error_body(f"request body is not valid JSON: {_one_line(str(exc))}")
        deployment = re.search(r"/deployments/([^/]+)/", path)
        try:
            return parse_request(api, body, deployment.group(1) if deployment else "")
        except RequestError as exc:
            return 400, error_body(_one_line(str(exc)))

    def _answer(self, request: ModelRequest, value: Any) -> tuple[int, dict[str, Any]]:
        try:
            reply = as_reply(value)
        except UnsupportedReply as exc:
            return 500, error_body(f"function test double {self.model.name} {_one_line(str(exc))}", "server_error")
        encoder = chat_completion if request.api == "chat" else response_object
        return 200, encoder(request, reply)

    def _frame_list(self, request: ModelRequest, payload: dict[str, Any]) -> list[bytes]:
        if request.api == "chat":
            options = request.body.get("stream_options")
            include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
            return sse_frames(chat_chunks(payload, include_usage), named=False)
        return sse_frames(response_events(payload), named=True)

    def _frames(self, request: ModelRequest, payload: dict[str, Any]) -> Iterator[bytes]:
        # Built whole up front (the reply is already known), sent one event at a time.
        frames, delay = self._frame_list(request, payload), self.model.stream_delay_s
        for frame in frames:
            if delay:
                time.sleep(delay)
            yield frame

    async def _aframes(self, request: ModelRequest, payload: dict[str, Any]) -> AsyncIterator[bytes]:
        frames, delay = self._frame_list(request, payload), self.model.stream_delay_s
        for frame in frames:
            if delay:
                await asyncio.sleep(delay)
            yield frame

    def _failed(self, exc: Exception) -> tuple[int, dict[str, Any]]:
        trace = CURRENT_TRACE.get()
        if trace is not None and trace.double_failure is None:
            trace.double_failure = exc  # the case fails with the user's exception (replaygate.run.solver)
        detail = _one_line(str(exc))
        message = f"function test double {self.model.name} raised {type(exc).__name__}" + (f": {detail}" if detail else "")
        return 500, error_body(message, "server_error")

    def _respond(self, request: httpx2.Request, status: int, payload: dict[str, Any]) -> httpx2.Response:
        headers = HEADERS if status < 400 else ERROR_HEADERS
        return httpx2.Response(status, headers=headers, content=encode(payload), request=request)


def _streams(request: ModelRequest) -> bool:
    return request.body.get("stream") is True


def _wait(awaitable: Awaitable[Any]) -> Any:
    """Run an async function's result from the sync transport, even when this thread already runs a loop."""

    async def wait() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, wait()).result()
