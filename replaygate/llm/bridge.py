"""A sync httpx2 transport that sends through the run's async transport, for solvers written sync.

A sync solver runs in a worker thread; its requests cross to the event loop, carrying the
case and trace that were current in the thread, so cassettes and traces work as for async.
"""

from __future__ import annotations

import asyncio

import httpx2

from replaygate.cassettes.cassette import CURRENT_CASE
from replaygate.llm.trace import CURRENT_TRACE


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
