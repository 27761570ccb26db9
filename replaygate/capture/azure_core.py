"""Capture of the azure-core pipeline (`azure-ai-agents`, `azure-ai-projects` and every other Azure SDK client).

Azure SDKs do not send through httpx: their pipeline ends in an azure-core transport, `RequestsTransport` (sync)
or `AioHttpTransport` / `AsyncioRequestsTransport` (async). While a run is active their `send` is patched at the
class, as `replaygate.capture.patch` does for httpx2, and acts only where a case's route is current: a model or
agent-service request is converted to an httpx2 request, sent through `route.send_sync` / `route.send_async` (the
case's cassette, trace, double, breaker and throttle), and its answer comes back as azure-core's own response type,
built over a `requests.Response`, so the SDK reads it as it reads the network's. Everything else (a token request
to Entra ID, a blob download) is left to the original transport and to the network guard.

The SDK's own headers are sent on as they are (a live Foundry call is signed by the SDK's credential); the
cassette's header allow-list keeps `Authorization` out of every recording.
"""

from __future__ import annotations

import io
import sys
from typing import Any, Callable

import httpx2

from replaygate.capture.patch import Patches, captured_route

_originals: dict[str, Callable[..., Any]] = {}


# --- azure-core request -> httpx2 ------------------------------------------------------------------------------


def _to_httpx2(request: Any) -> tuple[httpx2.Request, Any]:
    """The request as httpx2 sends it, and as `requests` prepares it (the body bytes azure-core's requests
    transport would put on the wire, multipart files included)."""
    import requests

    prepared = requests.Request(request.method, request.url, headers=dict(request.headers), data=request.data or None,
                                files=request.files or None).prepare()
    body = prepared.body
    if hasattr(body, "read"):
        body = body.read()
    elif body is not None and not isinstance(body, (bytes, str)):
        body = b"".join(part if isinstance(part, bytes) else str(part).encode("utf-8") for part in body)
    content = body.encode("utf-8") if isinstance(body, str) else body or b""
    headers = [(k, v) for k, v in prepared.headers.items() if k.lower() != "content-length"]
    # Not marked CAPTURED: a hosted agent's endpoint and sign-in are its own, so a live run sends it where the SDK
    # pointed, with the SDK's credential, instead of retargeting it to the run's model backend.
    return httpx2.Request(request.method, prepared.url, headers=headers, content=content), prepared


# --- httpx2 response -> requests.Response -> azure-core response -----------------------------------------------


def _requests_response(prepared: Any, response: httpx2.Response) -> Any:
    """A `requests.Response` over the answer's bytes, as requests' own adapter builds one from the socket."""
    import requests
    import urllib3
    from requests.structures import CaseInsensitiveDict
    from requests.utils import get_encoding_from_headers

    # httpx2 has decoded the body already, so its encoding headers no longer describe the bytes.
    headers = [(k, v) for k, v in response.headers.multi_items()
               if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
    content = response.content
    headers.append(("content-length", str(len(content))))
    raw = urllib3.HTTPResponse(body=io.BytesIO(content), headers=headers, status=response.status_code,
                               reason=response.reason_phrase, preload_content=False, decode_content=False)
    built = requests.Response()
    built.status_code = response.status_code
    built.headers = CaseInsensitiveDict(headers)
    built.encoding = get_encoding_from_headers(built.headers)
    built.raw = raw
    built.reason = response.reason_phrase
    built.url = prepared.url
    built.request = prepared
    return built


def _block_size(transport: Any) -> int:
    config = getattr(transport, "connection_config", None)
    return getattr(config, "data_block_size", None) or 4096


def _sync_response(transport: Any, request: Any, internal: Any, stream: bool) -> Any:
    from azure.core.pipeline._tools import handle_non_stream_rest_response, is_rest

    if is_rest(request):
        from azure.core.rest._requests_basic import RestRequestsTransportResponse

        response = RestRequestsTransportResponse(request=request, internal_response=internal,
                                                 block_size=_block_size(transport))
        if not stream:
            handle_non_stream_rest_response(response)
        return response
    from azure.core.pipeline.transport._requests_basic import RequestsTransportResponse

    return RequestsTransportResponse(request, internal, _block_size(transport))


async def _async_response(transport: Any, request: Any, internal: Any, stream: bool) -> Any:
    from azure.core.pipeline._tools import is_rest
    from azure.core.pipeline._tools_async import handle_no_stream_rest_response

    if is_rest(request):
        from azure.core.rest._requests_asyncio import RestAsyncioRequestsTransportResponse

        response = RestAsyncioRequestsTransportResponse(request=request, internal_response=internal,
                                                        block_size=_block_size(transport))
        if not stream:
            await handle_no_stream_rest_response(response)
        return response
    from azure.core.pipeline.transport._requests_asyncio import AsyncioRequestsTransportResponse

    return AsyncioRequestsTransportResponse(request, internal, _block_size(transport))


def _azure_error(exc: httpx2.TransportError) -> Exception:
    """A connection-level failure as azure-core's transports raise it, so the SDK's retry policy sees its own kind."""
    from azure.core.exceptions import (ServiceRequestError, ServiceRequestTimeoutError, ServiceResponseError,
                                       ServiceResponseTimeoutError)

    if isinstance(exc, httpx2.ConnectTimeout):
        return ServiceRequestTimeoutError(exc, error=exc)
    if isinstance(exc, httpx2.TimeoutException):
        return ServiceResponseTimeoutError(exc, error=exc)
    if isinstance(exc, httpx2.ConnectError):
        return ServiceRequestError(exc, error=exc)
    return ServiceResponseError(exc, error=exc)


# --- the patched sends -----------------------------------------------------------------------------------------


def _send(self: Any, request: Any, **kwargs: Any) -> Any:
    route = captured_route(httpx2.URL(request.url))
    if route is None:
        return _originals["sync"](self, request, **kwargs)
    outgoing, prepared = _to_httpx2(request)
    try:
        answer = route.send_sync(outgoing)
    except httpx2.TransportError as exc:
        raise _azure_error(exc) from exc
    return _sync_response(self, request, _requests_response(prepared, answer), bool(kwargs.get("stream")))


def _async_send(key: str) -> Callable[..., Any]:
    async def send(self: Any, request: Any, **kwargs: Any) -> Any:
        route = captured_route(httpx2.URL(request.url))
        if route is None:
            return await _originals[key](self, request, **kwargs)
        outgoing, prepared = _to_httpx2(request)
        try:
            answer = await route.send_async(outgoing)
            await answer.aread()
        except httpx2.TransportError as exc:
            raise _azure_error(exc) from exc
        return await _async_response(self, request, _requests_response(prepared, answer), bool(kwargs.get("stream")))

    return send


def _transports() -> list[tuple[str, Any, Callable[..., Any]]]:
    """(key, class, replacement) for each azure-core transport this environment can load."""
    found: list[tuple[str, Any, Callable[..., Any]]] = []
    try:
        from azure.core.pipeline.transport._requests_basic import RequestsTransport
        from azure.core.pipeline.transport._requests_asyncio import AsyncioRequestsTransport
    except ImportError:  # requests is missing: azure-core then has no requests transports
        pass
    else:
        found += [("sync", RequestsTransport, _send), ("asyncio", AsyncioRequestsTransport, _async_send("asyncio"))]
    try:
        from azure.core.pipeline.transport._aiohttp import AioHttpTransport
    except ImportError:  # aiohttp is optional for azure-core
        pass
    else:
        found.append(("aiohttp", AioHttpTransport, _async_send("aiohttp")))
    return found


def _apply(patches: Patches) -> None:
    if "azure.core" not in sys.modules:
        return
    for key, owner, replacement in _transports():
        _originals[key] = owner.send
        patches.replace(owner, "send", replacement)


_patches = Patches(_apply)


def install() -> None:
    """Capture azure-core until the matching `uninstall` (calls nest).

    Only when an Azure SDK is loaded already (the solver's module imports it): a run whose code never loads azure-core
    pays nothing for it at start-up. A client module imported later, inside a case, is not captured; the network
    guard then refuses its calls with its one line.
    """
    _patches.hold()


def uninstall() -> None:
    _patches.release()


def installed() -> bool:
    return _patches.held
