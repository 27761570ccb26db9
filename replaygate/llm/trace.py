"""What one case's model calls asked and answered, read off the wire as they pass.

The transport sees every call a solver makes through the real SDK, whatever API it
uses; the case it belongs to is the one whose trace is current in this task.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Iterator

import httpx2

from replaygate.core.rollout import ToolCall, Usage
from replaygate.llm.wire import api_of, text_of, tool_calls_of, usage_of

CURRENT_TRACE: ContextVar["Trace | None"] = ContextVar("replaygate_trace", default=None)


@dataclass
class Trace:
    usage: Usage = field(default_factory=Usage)
    tool_calls: list[ToolCall] = field(default_factory=list)
    final_text: str | None = None  # the last answer's text

    def observe(self, body: object) -> None:
        used = usage_of(body)
        self.usage.add(Usage(used[0], used[1], 1) if used else Usage(calls=1))
        self.tool_calls += [ToolCall(name=name, arguments=arguments) for name, arguments in tool_calls_of(body)]
        text = text_of(body)
        if text is not None:
            self.final_text = text


@contextmanager
def tracing(trace: Trace) -> Iterator[Trace]:
    token = CURRENT_TRACE.set(trace)
    try:
        yield trace
    finally:
        CURRENT_TRACE.reset(token)


class TracingTransport(httpx2.AsyncBaseTransport):
    """Adds every model answer to the current case's trace; passes everything through unchanged."""

    def __init__(self, inner: httpx2.AsyncBaseTransport):
        self.inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        trace = CURRENT_TRACE.get()
        if trace is not None and 200 <= response.status_code < 300 and api_of(request.url.path):
            content = await response.aread()
            try:
                trace.observe(json.loads(content))
            except ValueError:
                pass  # an unreadable answer: the SDK raises it to the solver, which decides
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
