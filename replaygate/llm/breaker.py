"""Fail fast: after a few consecutive connection failures or timeouts to one endpoint, stop sending to it.

A dead or silent server then costs a few failed requests, not every case's requests and retries.
A server that accepts connections and never answers would still cost whole read timeouts, which
must be long for a model: so each endpoint is first asked a HEAD, which any live server answers at once.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field

import httpx2
import openai

# Consecutive failures that open an endpoint's circuit: more than one case's worth of bad luck.
OPEN_AFTER = 3
DEFAULT_PORTS = {"http": 80, "https": 443}
# What says the endpoint is not there: no connection, no answer in time, a URL or proxy that cannot work.
# A broken-off answer (a protocol error) shows a live server and counts for neither side.
BREAKING = (httpx2.ConnectError, httpx2.TimeoutException, httpx2.ProxyError, httpx2.UnsupportedProtocol, ssl.SSLError)


def endpoint_of(url: httpx2.URL) -> str:
    """scheme://host:port, what a circuit is kept for (never the path or query)."""
    return f"{url.scheme}://{url.host}:{url.port or DEFAULT_PORTS.get(url.scheme, 0)}"


class Silent(httpx2.ReadTimeout):
    """The endpoint took a connection and answered nothing, not even a HEAD, within `seconds`."""

    def __init__(self, seconds: float, url: httpx2.URL):
        super().__init__(f"accepted the connection, answered nothing to a HEAD within {seconds:g} s")
        self.seconds, self.url = seconds, url


class CircuitOpen(openai.APIConnectionError):
    """A request never sent: its endpoint failed `failures` times in a row, last with `cause`.

    An OpenAIError from the transport is re-raised by the SDK as it is, without a retry.
    """

    def __init__(self, request: httpx2.Request, endpoint: str, failures: int, cause: BaseException):
        super().__init__(message=f"not sent: {endpoint} failed {failures} times in a row", request=request)
        self.endpoint, self.failures, self.cause = endpoint, failures, cause


@dataclass
class Breaker:
    """Consecutive failures per endpoint; an endpoint stays open for the rest of the run once opened."""

    open_after: int = OPEN_AFTER
    failures: dict[str, int] = field(default_factory=dict)
    opened_by: dict[str, BaseException] = field(default_factory=dict)  # endpoint -> the failure that opened it
    probed: set[str] = field(default_factory=set)

    def failed(self, endpoint: str, exc: BaseException) -> None:
        self.failures[endpoint] = self.failures.get(endpoint, 0) + 1
        if self.failures[endpoint] >= self.open_after:
            self.opened_by.setdefault(endpoint, exc)

    def answered(self, endpoint: str) -> None:
        # Any HTTP answer, an error status included, shows the endpoint is there.
        self.failures[endpoint] = 0


class BreakerTransport(httpx2.AsyncBaseTransport):
    """Sends through `inner` while the request's endpoint is closed; raises CircuitOpen at once when it is open.

    With `probe` (the transport to the network), an endpoint's first request waits for a HEAD through it:
    no answer within `probe_s` opens the circuit at once.
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport, breaker: Breaker,
                 probe: httpx2.AsyncBaseTransport | None = None, probe_s: float = 5.0):
        self.inner, self.breaker, self.probe, self.probe_s = inner, breaker, probe, probe_s
        self._probes: dict[str, asyncio.Future] = {}

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        endpoint = endpoint_of(request.url)
        if self.probe is not None and endpoint not in self.breaker.probed:
            if endpoint not in self._probes:
                self._probes[endpoint] = asyncio.ensure_future(self._check(endpoint, request.url))
            await asyncio.shield(self._probes[endpoint])  # concurrent first requests share one probe
        cause = self.breaker.opened_by.get(endpoint)
        if cause is not None:
            raise CircuitOpen(request, endpoint, self.breaker.open_after, cause)
        try:
            response = await self.inner.handle_async_request(request)
        except BREAKING as exc:
            self.breaker.failed(endpoint, exc)
            raise
        self.breaker.answered(endpoint)
        return response

    async def _check(self, endpoint: str, url: httpx2.URL) -> None:
        # No credentials and no body: any status at all shows a live server.
        seconds = {"connect": self.probe_s, "read": self.probe_s, "write": self.probe_s, "pool": self.probe_s}
        head = httpx2.Request("HEAD", url.copy_with(query=None), extensions={"timeout": seconds})
        try:
            response = await self.probe.handle_async_request(head)
            await response.aclose()
        except httpx2.ReadTimeout:
            self.breaker.opened_by.setdefault(endpoint, Silent(self.probe_s, url))
        except Exception:  # noqa: BLE001 - refused, unresolvable...: the real request finds out, and counts
            pass
        self.breaker.probed.add(endpoint)

    async def aclose(self) -> None:
        await self.inner.aclose()
