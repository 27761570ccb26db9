"""`FunctionModel`: a Python function behind the OpenAI wire protocol, as an in-process httpx2 transport."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Awaitable, Callable, Union

import httpx2

from replaygate.double.reply import (
    Reply,
    ToolCall,
    UnsupportedReply,
    as_reply,
    chat_completion,
    encode,
    error_body,
    response_object,
)
from replaygate.double.request import ModelRequest, RequestError, parse_request
from replaygate.llm.wire import api_of

ReplyValue = Union[str, ToolCall, list[ToolCall], Reply]
ReplyFunction = Callable[[ModelRequest], Union[ReplyValue, Awaitable[ReplyValue]]]

HEADERS = {"content-type": "application/json", "x-simulator": "function-double"}
# Its errors are the same on every attempt: the SDK should report them, not retry them.
ERROR_HEADERS = {**HEADERS, "x-should-retry": "false"}


def _one_line(text: str) -> str:
    return " ".join(text.split())


class FunctionModel:
    """A test double answering every model call with `fn(request)`; calling it makes a transport (the factory a suite's `double` takes)."""

    label = "function test double (in-process; not a real model)"

    def __init__(self, fn: ReplyFunction, name: str | None = None):
        if not callable(fn):
            raise TypeError(f"FunctionModel needs a function of a ModelRequest, got {type(fn).__name__}")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", None) or type(fn).__name__
        self.label = f"function test double {self.name} (in-process; not a real model)"

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
        return self._respond(request, *self._answer(routed, value))

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
        return self._respond(request, *self._answer(routed, value))

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
        if isinstance(body, dict) and body.get("stream"):
            return 400, error_body(
                "streaming is not supported by the function test double; call without stream=True", param="stream"
            )
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

    def _failed(self, exc: Exception) -> tuple[int, dict[str, Any]]:
        detail = _one_line(str(exc))
        message = f"function test double {self.model.name} raised {type(exc).__name__}" + (f": {detail}" if detail else "")
        return 500, error_body(message, "server_error")

    def _respond(self, request: httpx2.Request, status: int, payload: dict[str, Any]) -> httpx2.Response:
        headers = HEADERS if status < 400 else ERROR_HEADERS
        return httpx2.Response(status, headers=headers, content=encode(payload), request=request)


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
