"""Infrastructure failures: the model service was not reached, refused the run, or failed past the SDK's retries.

Such a case is an error, never a score. `api_failure` is the one place that tells them from a
content fault (a 400 about the request, an unreadable answer), which stays scored as the solver's.
"""

from __future__ import annotations

import os
import socket
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import Any

import httpx2
import openai

from replaygate.llm.azure import api_error_hint, made_by
from replaygate.llm.breaker import CircuitOpen, Silent
from replaygate.llm.chat import first_line
from replaygate.core.rollout import INFRA
from replaygate.llm.status import REFUSALS, model_answer, retried_status

PREFIX = "infrastructure error: "
# The kind of a failure the model answered (a 4xx about the request): scored as the solver's, recorded, replayed.
REJECTED = "rejected"


@dataclass(frozen=True)
class Settings:
    """Where the failed request's URL, key and model came from, as the user would set them."""

    url: str
    key: str
    model: str
    backend: str


def _settings(client: Any) -> Settings:
    backend, role = made_by(client) or (None, "agent")
    kind = getattr(backend, "kind", "")
    if kind == "azure":
        url = "AZURE_AI_PROJECT_ENDPOINT" if backend.foundry else "AZURE_OPENAI_ENDPOINT"
        return Settings(url, "AZURE_OPENAI_API_KEY", f"AZURE_OPENAI_{role.upper()}_DEPLOYMENT", kind)
    if kind == "openai":
        return Settings("OPENAI_BASE_URL", "OPENAI_API_KEY",
                        f"models.{role} in [tool.replaygate] (or EVALS_{role.upper()}_MODEL)", kind)
    return Settings("the client's base_url", "the client's api_key", "the model name", kind)


def shown_url(request: httpx2.Request | None) -> str:
    """scheme://host:port/path of a request: no user info, no query (an Azure key or token may ride in either)."""
    if request is None:
        return "?"
    url = request.url
    port = url.port or {"http": 80, "https": 443}.get(url.scheme, 0)
    host = f"[{url.host}]" if ":" in url.host else url.host
    return urllib.parse.urlunsplit((url.scheme, f"{host}:{port}", url.path, "", ""))


def _request_of(exc: openai.APIError) -> httpx2.Request | None:
    return getattr(exc, "request", None)


def _tries(client: Any) -> str:
    retries = getattr(client, "max_retries", None)
    return f"{retries + 1} tr{'y' if retries == 0 else 'ies'}" if isinstance(retries, int) else "after retries"


def _timeouts(client: Any) -> tuple[str, str]:
    timeout = getattr(client, "timeout", None)
    if isinstance(timeout, httpx2.Timeout):
        return f"{timeout.read:g}", f"{timeout.connect:g}"
    return (f"{timeout:g}", f"{timeout:g}") if isinstance(timeout, (int, float)) else ("?", "?")


def _detail(exc: openai.APIStatusError) -> str:
    """The service's own message for an error answer, on one line."""
    body = exc.body
    message = body.get("message") if isinstance(body, dict) else body if isinstance(body, str) else None
    text = " ".join(str(message or exc.response.text or exc.response.reason_phrase).split())
    return f"{type(exc).__name__}: {text[:160]}".rstrip(": ")


def _status_line(exc: openai.APIStatusError, client: Any) -> str:
    where, status = _settings(client), exc.status_code
    azure = api_error_hint(exc, client).removeprefix("; ")
    code = exc.code if isinstance(exc.code, str) else ""
    if azure:
        todo = azure
    elif status == 401:
        todo = f"set {where.key} to a key this endpoint accepts"
    elif status == 403:
        todo = f"the key may not use this model or endpoint: check {where.key} and the key's permissions"
    elif status == 404 and where.backend == "azure":
        todo = f"check {where.model}, {where.url} and AZURE_OPENAI_API_VERSION"
    elif status == 404:
        todo = f"check the model name ({where.model}) and {where.url} (an OpenAI-compatible base URL ends in /v1)"
    elif status == 405:
        todo = f"check {where.url}: it does not point at an OpenAI-compatible API"
    elif status == 407:
        todo = "the proxy wants credentials: check HTTPS_PROXY / HTTP_PROXY"
    elif status == 429 and code == "insufficient_quota":
        todo = "the account is out of quota: check its plan and billing"
    elif status == 429:
        todo = "rate-limited on every try: lower concurrency, raise max_retries in [tool.replaygate], or check the quota"
    else:
        todo = f"the service failed on every try: try again later, or check the server behind {where.url}"
    tries = f", {_tries(client)}" if retried_status(status) else ""
    return f"{shown_url(_request_of(exc))} answered {status} ({_detail(exc)}{tries}); {todo}"


def _root(exc: BaseException) -> BaseException:
    """The innermost cause: the OS's or TLS library's own error, when there is one."""
    seen = {id(exc)}
    while (inner := exc.__cause__ or exc.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        exc = inner
    return exc


def _connection_line(exc: openai.APIConnectionError, client: Any) -> str:
    where = _settings(client)
    cause: BaseException | None = exc.cause if isinstance(exc, CircuitOpen) else exc.__cause__
    root = _root(cause) if cause is not None else None
    seen = cause if cause is not None else exc
    # httpx2 may sum up ("All connection attempts failed") what the OS said plainly ("Connection refused").
    said = root if isinstance(root, OSError) and str(root).strip() else seen
    text = " ".join(str(said).split())[:160]
    if isinstance(root, OSError) and not isinstance(root, ssl.SSLError) and isinstance(root.errno, int) and root.errno > 0:
        text = f"[Errno {root.errno}] {os.strerror(root.errno)}"  # asyncio words it "Connect call failed (...)"
    what = f"{type(seen).__name__}: {text}".rstrip(": ")
    url = shown_url(_request_of(exc))
    tries = (f"not sent after {exc.failures} failures in a row to {exc.endpoint}" if isinstance(exc, CircuitOpen)
             else _tries(client))
    read_s, connect_s = _timeouts(client)
    if isinstance(seen, Silent):
        head, what = f"{url} took the connection but answered nothing, not even a HEAD, within {seen.seconds:g} s", "ReadTimeout"
        tries = "no request sent"
        todo = f"check the server behind {where.url} (is it hung?), or raise connect_timeout_s in [tool.replaygate]"
    elif isinstance(seen, httpx2.ConnectTimeout):
        head = f"no connection to {url} within connect_timeout_s={connect_s} s"
        todo = f"check {where.url} and the network, or raise connect_timeout_s in [tool.replaygate]"
    elif isinstance(exc, openai.APITimeoutError) or isinstance(seen, httpx2.TimeoutException):
        head = f"no answer from {url} within timeout_s={read_s} s"
        todo = f"check the server behind {where.url}, or raise timeout_s in [tool.replaygate]"
    elif isinstance(root, ssl.SSLError) or "ssl" in text.lower():
        head = f"TLS failed with {url}"
        todo = f"check {where.url}'s scheme (https or http) and host, or trust its certificate (SSL_CERT_FILE)"
    elif isinstance(seen, (httpx2.ProtocolError, httpx2.ReadError, httpx2.WriteError)):
        head = f"the connection to {url} broke off"
        todo = f"check the server behind {where.url}, and any proxy in between"
    elif isinstance(root, socket.gaierror):
        head = f"cannot resolve the host of {url}"
        todo = f"check the host name in {where.url}"
    else:
        head = f"cannot reach {url}"
        todo = f"check {where.url} or start the server"
    return f"{head} ({what}; {tries}); {todo}"


def _scrubbed(text: str, client: Any) -> str:
    # A service may quote the key it refused; the line goes to terminals, JUnit XML and reports.
    key = getattr(client, "api_key", None)
    return text.replace(key, "***") if isinstance(key, str) and len(key) >= 8 else text


def api_failure(exc: openai.APIError, client: Any) -> tuple[str, str]:
    """(kind, one-line reason) of an API error: `infra` when no model could answer, `rejected` when the model service
    answered that the request itself is wrong (a 4xx: recorded, so the case replays), else `api`; both scored 0."""
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code in REFUSALS or retried_status(exc.status_code):
            return INFRA, _scrubbed(PREFIX + _status_line(exc, client), client)
        kind = REJECTED if model_answer(exc.status_code) else "api"
        return kind, _scrubbed(f"API error {exc.status_code}: {first_line(exc)}{api_error_hint(exc, client)}", client)
    if isinstance(exc, openai.APIConnectionError):  # timeouts and an open circuit too
        return INFRA, _scrubbed(PREFIX + _connection_line(exc, client), client)
    return "api", f"API error: {first_line(exc)}"
