"""Azure specifics: Entra ID bearer tokens, endpoint shapes, per-role deployments, and hints for Azure's refusals.

azure-identity is an optional extra (`pytest-replaygate[azure]`): it is imported only when Entra ID
auth is used without a credential passed in code.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import urllib.parse
import weakref
from typing import TYPE_CHECKING, Any, Callable, Mapping

import httpx2

if TYPE_CHECKING:
    import openai

from replaygate.core.errors import InputError

# Azure OpenAI resources take tokens for Cognitive Services; Foundry projects take tokens for Azure AI.
OPENAI_SCOPE = "https://cognitiveservices.azure.com/.default"
FOUNDRY_SCOPE = "https://ai.azure.com/.default"
OPENAI_ROLE = "Cognitive Services OpenAI User"
FOUNDRY_ROLE = "Azure AI User"
INSTALL = "pip install 'pytest-replaygate[azure]'"
# Entra ID tokens live about an hour; renewing this long before expiry keeps a slow request from outliving its token.
REFRESH_MARGIN_S = 300.0
# Which role a request is for, from the SDK client to the transport that names the role's deployment; never sent on.
ROLE_HEADER = "x-replaygate-role"
PROJECT_ENDPOINT = re.compile(r"https://[A-Za-z0-9][A-Za-z0-9-]*\.services\.ai\.azure\.com/api/projects/[^/?#\s]+/?")
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
# Unknown deployments: Azure's deployment route says DeploymentNotFound, OpenAI-style v1 routes model_not_found.
MISSING_DEPLOYMENT_CODES = frozenset({"DeploymentNotFound", "model_not_found"})


class AzureAuthError(InputError):
    pass


def default_credential(needed_by: str, fallback: str) -> Any:
    """azure-identity's DefaultAzureCredential; a one-line InputError when the package is not installed."""
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise AzureAuthError(
            f"--llm=azure: {needed_by} Entra ID auth, which needs azure-identity; {INSTALL}{fallback}"
        ) from None
    return DefaultAzureCredential()


def _shown(value: str) -> str:
    # Scheme, host and path only: a pasted URL may carry a key in its query.
    parts = urllib.parse.urlsplit(value.strip())
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) or repr(value)


def _loopback(parts: urllib.parse.SplitResult) -> bool:
    # A local stand-in (the simulator, a proxy) may speak plain http.
    return parts.scheme == "http" and (parts.hostname or "") in LOOPBACK


def check_openai_endpoint(value: str) -> str:
    """AZURE_OPENAI_ENDPOINT, checked: an https URL with no path; returned without a trailing slash."""
    parts = urllib.parse.urlsplit(value.strip())
    if "/api/projects/" in parts.path:
        raise InputError(f"--llm=azure: AZURE_OPENAI_ENDPOINT={_shown(value)} is a Foundry project endpoint; "
                         "set it as AZURE_AI_PROJECT_ENDPOINT instead")
    if (parts.scheme != "https" and not _loopback(parts)) or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment:
        raise InputError(f"--llm=azure: AZURE_OPENAI_ENDPOINT={_shown(value)} is not an Azure OpenAI endpoint; "
                         "set it to the resource's https URL with no path, e.g. https://<resource>.openai.azure.com/")
    return value.strip().rstrip("/")


def check_project_endpoint(value: str) -> str:
    """AZURE_AI_PROJECT_ENDPOINT, checked: https://<resource>.services.ai.azure.com/api/projects/<project>."""
    text = value.strip()
    parts = urllib.parse.urlsplit(text)
    local = _loopback(parts) and re.fullmatch(r"/api/projects/[^/]+/?", parts.path) and not parts.query
    if not (PROJECT_ENDPOINT.fullmatch(text) or local):
        raise InputError(f"--llm=azure: AZURE_AI_PROJECT_ENDPOINT={_shown(value)} is not a Foundry project endpoint; "
                         "set it to https://<resource>.services.ai.azure.com/api/projects/<project> "
                         "(the project's overview page shows it)")
    return text.rstrip("/")


class BearerTokens:
    """A credential's tokens for one scope: cached, renewed before expiry, shared by every client and thread of a run.

    The credential is TokenCredential-like: `get_token(scope)` returns an object with `.token` and `.expires_on`.
    """

    def __init__(self, credential: Any, scope: str, fallback: str = "", clock: Callable[[], float] = time.time,
                 margin_s: float = REFRESH_MARGIN_S):
        self.credential, self.scope, self.fallback = credential, scope, fallback
        self.clock, self.margin_s = clock, margin_s
        self._lock = threading.Lock()
        # (token, when to renew it), replaced whole so a reader never pairs one token with another's time.
        self._current: tuple[str, float] | None = None
        self._failure: AzureAuthError | None = None

    def _fresh(self) -> str | None:
        current = self._current
        return current[0] if current is not None and self.clock() < current[1] else None

    def __call__(self) -> str:
        """The token; sync clients call this per request (a sync solver does so in its worker thread)."""
        token = self._fresh()
        if token is not None:
            return token
        with self._lock:
            token = self._fresh()
            if token is not None:
                return token
            if self._failure is not None:
                raise self._failure
            try:
                got = self.credential.get_token(self.scope)
                token, expires_on = str(got.token), float(got.expires_on)
            except Exception as exc:  # noqa: BLE001 - every credential fails its own way; the user needs one line
                error = AzureAuthError(self._failed(exc))
                if self._current is None:
                    # Never had a token: asking again per case would only repeat the same slow failure.
                    self._failure = error
                raise error from None
            now = self.clock()
            # A short-lived token is renewed halfway through its life rather than on every request.
            self._current = (token, expires_on - min(self.margin_s, max(0.0, expires_on - now) / 2))
            return token

    async def async_token(self) -> str:
        """The token for async clients: a cached one at once, a renewal in a worker thread so the loop runs on."""
        token = self._fresh()
        return token if token is not None else await asyncio.to_thread(self)

    def _failed(self, exc: Exception) -> str:
        lines = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__
        name = type(self.credential).__name__
        if name == "DefaultAzureCredential":
            return (f"Entra ID: DefaultAzureCredential found no credential for {self.scope} ({reason}); run `az login`, "
                    "or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, or run where a managed identity "
                    f"is assigned{self.fallback}")
        return f"Entra ID: {name}.get_token({self.scope}) failed ({reason}); fix that credential{self.fallback}"


class DeploymentAsModel(httpx2.AsyncBaseTransport):
    """Names each role's deployment as the body's `model` where the URL does not (Foundry's v1 route, Azure's /openai/responses).

    It sits innermost, below the cassettes, so recordings keep the configured model and replay anywhere.
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport, deployments: Mapping[str, str]):
        self.inner, self.deployments = inner, dict(deployments)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        role = request.headers.get(ROLE_HEADER)
        if role is None:
            return await self.inner.handle_async_request(request)
        content = await request.aread()
        deployment = self.deployments.get(role, "")
        if deployment and "/deployments/" not in request.url.path:
            try:
                body = json.loads(content)
            except ValueError:
                body = None
            if isinstance(body, dict) and "model" in body:
                content = json.dumps({**body, "model": deployment}, ensure_ascii=False).encode("utf-8")
        drop = (ROLE_HEADER, "content-length", "transfer-encoding")
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in drop]
        forwarded = httpx2.Request(request.method, request.url, headers=headers, content=content,
                                   extensions=request.extensions)
        return await self.inner.handle_async_request(forwarded)

    async def aclose(self) -> None:
        await self.inner.aclose()


# The backend and role of each SDK client the harness made, for error hints; gone with the client.
_CLIENTS: "weakref.WeakKeyDictionary[Any, tuple[Any, str]]" = weakref.WeakKeyDictionary()


def remember(client: Any, backend: Any, role: str) -> None:
    _CLIENTS[client] = (backend, role)


def made_by(client: Any) -> tuple[Any, str] | None:
    """The (backend, role) the harness made `client` for; None for a client made elsewhere."""
    return _CLIENTS.get(client)


def api_error_hint(exc: openai.APIStatusError, client: Any) -> str:
    """'; what to do' for Azure's 401, 403 and unknown-deployment answers to a client the harness made, else ''."""
    found = _CLIENTS.get(client)
    return status_hint(exc, *found) if found is not None and getattr(found[0], "kind", "azure") == "azure" else ""


def status_hint(exc: openai.APIStatusError, backend: Any, role: str) -> str:
    """The hint for one Azure error answer, from the backend that sent the request and the role it was for."""
    endpoint = backend.endpoint
    place = "project" if backend.foundry else "resource"
    if exc.status_code in (401, 403):
        if backend.api_key:
            return (f"; {endpoint} refused AZURE_OPENAI_API_KEY: use a key of that resource (Keys and Endpoint "
                    "in the portal), or unset it to sign in with Entra ID")
        need = FOUNDRY_ROLE if backend.foundry else OPENAI_ROLE
        return (f"; {endpoint} refused the Entra ID token for scope {backend.token_scope}: give the signed-in "
                f"identity the '{need}' role on that {place} (it takes a few minutes to apply), then re-run")
    code = getattr(exc, "code", None)
    message = str(getattr(exc, "message", "") or "")
    if code in MISSING_DEPLOYMENT_CODES or (exc.status_code == 404 and "deployment" in message.lower()):
        deployment = (backend.deployments or {}).get(role, "") or _requested_deployment(exc.request)
        named_by = (backend.sources or {}).get(role, "") or f"the {role} model's name, as no deployment is set"
        return (f"; deployment {deployment!r} does not exist at {endpoint} (named by {named_by}): set "
                f"AZURE_OPENAI_{role.upper()}_DEPLOYMENT to one that the {place}'s Deployments page lists")
    return ""


def _requested_deployment(request: httpx2.Request | None) -> str:
    """The deployment a request named: in Azure's URL path, else the body's model."""
    if request is None:
        return "?"
    found = re.search(r"/deployments/([^/]+)/", request.url.path)
    if found:
        return urllib.parse.unquote(found.group(1))
    try:
        body = json.loads(request.content)
    except (ValueError, httpx2.RequestNotRead):
        return "?"
    return str(body.get("model", "?")) if isinstance(body, dict) else "?"
