"""Adaptive concurrency: back off when the service rate-limits, creep back up when it doesn't.

Additive increase, multiplicative decrease (as TCP does): a 429 halves the number
of requests allowed in flight, each success adds about one per full window.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Callable

import httpx2


@dataclass
class AdaptiveLimit:
    """How many requests may be in flight; pure state, driven by outcomes."""

    ceiling: int
    floor: int = 1
    # Rate-limit answers within this many seconds of a cut count as the same signal.
    cooldown_s: float = 1.0
    clock: Callable[[], float] = time.monotonic
    value: float = field(init=False)
    cuts: int = field(init=False, default=0)
    _last_cut: float = field(init=False, default=float("-inf"))

    def __post_init__(self) -> None:
        self.value = float(self.ceiling)

    @property
    def allowed(self) -> int:
        return max(self.floor, min(self.ceiling, int(self.value)))

    def on_success(self) -> None:
        self.value = min(float(self.ceiling), self.value + 1.0 / max(self.value, 1.0))

    def on_rate_limit(self) -> None:
        now = self.clock()
        if now - self._last_cut >= self.cooldown_s:
            self.value = max(float(self.floor), self.value / 2)
            self.cuts += 1
            self._last_cut = now


class ThrottledTransport(httpx2.AsyncBaseTransport):
    """Holds each request until the adaptive limit allows it, and feeds the limit every outcome."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, limit: AdaptiveLimit):
        self.inner, self.limit = inner, limit
        self._in_flight = 0
        self._changed = asyncio.Condition()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        async with self._changed:
            await self._changed.wait_for(lambda: self._in_flight < self.limit.allowed)
            self._in_flight += 1
        try:
            response = await self.inner.handle_async_request(request)
        finally:
            async with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()
        if response.status_code == 429:
            self.limit.on_rate_limit()
        elif response.status_code < 400:
            self.limit.on_success()
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
