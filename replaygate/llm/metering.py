"""Counting what the model service did: attempts, SDK retries, and each answer's status."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import httpx2

# The openai SDK numbers its own retries in this header; a value above 0 marks a retry.
RETRY_HEADER = "x-stainless-retry-count"


@dataclass
class Meter:
    attempts: int = 0
    retries: int = 0
    outcomes: Counter = field(default_factory=Counter)  # "200", "429", "503", "timeout", "connection"

    def summary(self) -> str:
        failed = {k: v for k, v in sorted(self.outcomes.items()) if not k.startswith("2")}
        detail = ", ".join(f"{k}: {v}" for k, v in failed.items()) or "none"
        return f"{self.attempts} HTTP attempts, {self.retries} retried by the SDK; failed attempts: {detail}"


class MeteredTransport(httpx2.AsyncBaseTransport):
    """Wraps the transport that reaches the service and counts every attempt's outcome."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, meter: Meter):
        self.inner, self.meter = inner, meter

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.meter.attempts += 1
        try:
            if int(request.headers.get(RETRY_HEADER, "0") or 0) > 0:
                self.meter.retries += 1
        except ValueError:
            pass
        try:
            response = await self.inner.handle_async_request(request)
        except httpx2.TimeoutException:
            self.meter.outcomes["timeout"] += 1
            raise
        except httpx2.TransportError:
            self.meter.outcomes["connection"] += 1
            raise
        self.meter.outcomes[str(response.status_code)] += 1
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
