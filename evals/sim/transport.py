"""An in-process httpx2 transport (no sockets) that answers OpenAI chat-completions calls
with the simulator: `httpx2.Client(transport=SimTransport())`."""

from __future__ import annotations

import httpx2

from .routes import HEADERS, encode, route


class SimTransport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """Sync and async httpx2 transport backed by `evals.sim.respond` (an offline stand-in, not a real model)."""

    # What reports and cassettes call it: a stand-in, never a real model.
    label = "simulator (evals.sim, in-process; not a real model)"

    def _answer(self, request: httpx2.Request) -> httpx2.Response:
        status, payload = route(request.method, request.url.path, request.content)
        return httpx2.Response(status, headers=HEADERS, content=encode(payload), request=request)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        return self._answer(request)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        return self._answer(request)
