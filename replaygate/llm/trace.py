"""What one case's model calls asked and answered, read off the wire as they pass.

The transport sees every call a solver makes through the real SDK, whatever API it
uses; the case it belongs to is the one whose trace is current in this task. A streamed
answer passes on to the SDK chunk by chunk; the trace keeps a copy and reads it once whole.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Iterator

import httpx2

from replaygate.core.rollout import ToolCall, Usage
from replaygate.llm.stream import assemble, is_event_stream, looks_like_event_stream
from replaygate.llm.tap import tapped
from replaygate.llm.runs import is_agent_body, is_agent_path, is_run, run_step, thread_text_of, tool_outputs_of
from replaygate.llm.wire import api_of, call_ids_of, call_usage, text_of, tool_calls_of, tool_results_of

CURRENT_TRACE: ContextVar["Trace | None"] = ContextVar("replaygate_trace", default=None)


@dataclass
class Trace:
    """A case's model calls as they passed on the wire, read (usage, tool calls, text) only when asked.

    A solver that returns its own Rollout never asks, so its calls cost no second parse here.
    """

    # In the order they passed: (True, a request's body) and (False, a 2xx answer's body); a streamed
    # answer's body joins when its stream ends.
    wire: list[tuple[bool, bytes]] = field(default_factory=list)
    # Per streamed call, in order: seconds from sending the request to the first chunk of its answer.
    ttfts: list[float] = field(default_factory=list)
    # An exception the suite's own in-process double raised: the user's bug, which the case fails with (not the
    # service's 500 the SDK saw), so its own frame is shown.
    double_failure: Exception | None = None
    _read: int = 0  # how many of `wire` the fields below account for
    _usage: Usage = field(default_factory=Usage)
    _tool_calls: list[ToolCall] = field(default_factory=list)
    _run_steps: set[str] = field(default_factory=set)  # an agent service's run steps already read (runs are polled)
    _final_text: str | None = None  # the last answer's text
    by_id: dict[str, ToolCall] = field(default_factory=dict)  # calls awaiting the result the solver sends back

    @property
    def usage(self) -> Usage:
        self._catch_up()
        return self._usage

    @property
    def tool_calls(self) -> list[ToolCall]:
        self._catch_up()
        return self._tool_calls

    @property
    def final_text(self) -> str | None:
        self._catch_up()
        return self._final_text

    @property
    def ttft_s(self) -> float | None:
        """Time to first token of the case's first streamed call; None when no call streamed."""
        return self.ttfts[0] if self.ttfts else None

    def _catch_up(self) -> None:
        for is_request, body in self.wire[self._read:]:
            if is_request and not self.by_id:
                continue  # no tool call awaits a result
            try:
                parsed = json.loads(body)
            except ValueError:
                # A streamed answer reads as the body the same call would get unstreamed.
                parsed = assemble(body) if not is_request and looks_like_event_stream(body) else None
                if parsed is None:
                    continue  # an unreadable answer: the SDK raises it to the solver, which decides
            if is_request:
                self.sent(parsed)
            else:
                self.observe(parsed)
        self._read = len(self.wire)

    def observe(self, body: object) -> None:
        """A model answer: its usage, the tool calls it asks for, its text."""
        if is_agent_body(body):
            self._observe_agent(body)
            return
        self._usage.add(call_usage(body))
        for call_id, (name, arguments) in zip(call_ids_of(body), tool_calls_of(body)):
            call = ToolCall(name=name, arguments=arguments)
            self._tool_calls.append(call)
            if call_id:
                self.by_id[call_id] = call
        text = text_of(body)
        if text is not None:
            self._final_text = text

    def _observe_agent(self, body: dict) -> None:
        """An agent service's answer: a run step (counted once, however often it is polled) or a thread's messages."""
        if is_run(body):
            usage, calls = run_step(body, self._run_steps)
            if usage is not None:
                self._usage.add(usage)
            for call_id, name, arguments in calls:
                call = ToolCall(name=name, arguments=arguments)
                self._tool_calls.append(call)
                if call_id:
                    self.by_id[call_id] = call
            return
        text = thread_text_of(body)
        if text is not None:
            self._final_text = text

    def sent(self, body: object) -> None:
        """A request: the results of earlier tool calls it sends back, so traces show what the tools said."""
        for call_id, output in [*tool_results_of(body), *tool_outputs_of(body)]:
            call = self.by_id.pop(call_id, None)
            if call is not None:
                call.result = output


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
        trace = CURRENT_TRACE.get()
        if trace is None or not (api_of(request.url.path) or is_agent_path(request.url.path)):
            return await self.inner.handle_async_request(request)
        trace.wire.append((True, await request.aread()))
        sent = time.perf_counter()
        response = await self.inner.handle_async_request(request)
        if not 200 <= response.status_code < 300:
            return response
        if not is_event_stream(response.headers.get("content-type", "")):
            trace.wire.append((False, await response.aread()))
            return response

        # Never buffered: the SDK gets each chunk as it comes, the trace the whole body at the end.
        def first() -> None:
            trace.ttfts.append(time.perf_counter() - sent)

        return tapped(response, request, lambda body: trace.wire.append((False, body)), first)

    async def aclose(self) -> None:
        await self.inner.aclose()
