"""A live answer passed on as it arrives, never buffered whole, with a copy kept for the trace and the cassette.

`tapped` wraps an answer on the run's event loop; `relayed` hands an answer got on that loop to a sync client
in another thread, a chunk at a time.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncGenerator, AsyncIterator, Callable, Iterator

import httpx2


class TappedStream(httpx2.AsyncByteStream):
    """A response body passed on chunk by chunk as it arrives, with a copy kept on the side.

    `on_first()` runs as the first chunk passes; `on_end(body)` once, with every byte that passed, when the
    body ends or is closed early (a client that stops reading has seen only that much); never for a body
    that broke off with an error, which is no answer.
    """

    def __init__(self, response: httpx2.Response, on_end: Callable[[bytes], None],
                 on_first: Callable[[], None] | None = None):
        self.response, self.on_end, self.on_first = response, on_end, on_first
        self.parts: list[bytes] = []
        self.ended = False
        self._source: AsyncGenerator[bytes, None] | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        # One source for every pass: a client may stop at the end marker and drain the rest in a second pass.
        # Decoded chunks: the copy is the body a reader parses, and the headers passed on drop content-encoding.
        if self._source is None:
            self._source = self.response.aiter_bytes()
        while True:
            try:
                chunk = await self._source.__anext__()
            except StopAsyncIteration:
                self._end()
                return
            except Exception:
                self.ended = True  # broken off: no answer to hand on
                raise
            if not chunk:
                continue
            if not self.parts and self.on_first is not None:
                self.on_first()
            self.parts.append(chunk)
            yield chunk

    async def aclose(self) -> None:
        try:
            if self._source is not None:
                await self._source.aclose()
            await self.response.aclose()
        finally:
            self._end()

    def _end(self) -> None:
        if not self.ended:
            self.ended = True
            self.on_end(b"".join(self.parts))


def tapped(response: httpx2.Response, request: httpx2.Request, on_end: Callable[[bytes], None],
           on_first: Callable[[], None] | None = None) -> httpx2.Response:
    """`response` with its body tapped (see TappedStream), to hand on in its place."""
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in ("content-encoding", "content-length")]
    return httpx2.Response(response.status_code, headers=headers, stream=TappedStream(response, on_end, on_first),
                           request=request, extensions=response.extensions)


class LoopRelay(httpx2.SyncByteStream):
    """An answer sent on an event loop, read from another thread chunk by chunk: each read fetches one chunk on
    the loop, so a sync client sees a stream's first event as soon as the loop has it, not when it ends."""

    def __init__(self, response: httpx2.Response, loop: asyncio.AbstractEventLoop):
        self.response, self.loop = response, loop
        self._source: AsyncGenerator[bytes, None] | None = None

    def _on_loop(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def __iter__(self) -> Iterator[bytes]:
        async def start() -> None:
            if self._source is None:
                self._source = self.response.aiter_bytes()

        async def fetch() -> bytes | None:
            try:
                return await self._source.__anext__()  # type: ignore[union-attr]
            except StopAsyncIteration:
                return None

        self._on_loop(start())
        while (chunk := self._on_loop(fetch())) is not None:
            yield chunk

    def close(self) -> None:
        async def close() -> None:
            if self._source is not None:
                await self._source.aclose()
            await self.response.aclose()

        self._on_loop(close())


def relayed(response: httpx2.Response, request: httpx2.Request, loop: asyncio.AbstractEventLoop) -> httpx2.Response:
    """An event-stream `response` got on `loop`, as a sync response for a client in another thread."""
    headers = [(k, v) for k, v in response.headers.multi_items()
               if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
    return httpx2.Response(response.status_code, headers=headers, stream=LoopRelay(response, loop), request=request,
                           extensions=response.extensions)
