"""A captured request, sent in a record or live run, goes to the backend the run was asked for, not where its client pointed.

A client the solver built carries its own base URL and key (https://api.openai.com/v1, a URL from the
environment, a dummy key). Replay matches by endpoint and ignores the host, so only sending needs this:
the URL becomes the backend's base URL plus the endpoint, the client's own credentials are dropped and
the backend's are set. Requests of the handed client are the backend's already and pass unchanged.
"""

from __future__ import annotations

import json

import httpx2

from replaygate.capture.route import CAPTURED
from replaygate.cassettes.cassette_match import endpoint_of
from replaygate.llm.azure import ROLE_HEADER
from replaygate.llm.backend import Backend

# The client's own account and credentials, and what is recomputed for the new body.
DROPPED = frozenset({"authorization", "api-key", "openai-organization", "openai-project", "host", "content-length",
                     "transfer-encoding", ROLE_HEADER})
# Azure OpenAI's classic routes that name the deployment in the path (as the openai SDK's AzureOpenAI sends them).
DEPLOYMENT_ENDPOINTS = frozenset({"completions", "chat/completions", "embeddings", "audio/transcriptions",
                                  "audio/translations", "audio/speech", "images/generations", "images/edits"})


class Retarget(httpx2.AsyncBaseTransport):
    """Points captured requests at `backend` (URL and auth); every other request passes unchanged."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, backend: Backend):
        self.inner, self.backend = inner, backend

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if not request.extensions.get(CAPTURED):
            return await self.inner.handle_async_request(request)
        content = await request.aread()
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in DROPPED]
        url, auth = await self.target(request.url, content)
        forwarded = httpx2.Request(request.method, url, headers=[*headers, *auth], content=content,
                                   extensions=request.extensions)
        return await self.inner.handle_async_request(forwarded)

    async def target(self, url: httpx2.URL, content: bytes) -> tuple[httpx2.URL, list[tuple[str, str]]]:
        """The backend's URL for the request's endpoint, and the headers that authenticate it there."""
        backend = self.backend
        endpoint = endpoint_of(url.path)
        params = [(k, v) for k, v in url.params.multi_items() if k != "api-version"]
        if backend.kind != "azure":
            return _url(f"{backend.base_url.rstrip('/')}/{endpoint}", params), [("authorization", f"Bearer {backend.api_key}")]
        token = await backend.tokens.async_token() if backend.tokens is not None else None
        auth = [("authorization", f"Bearer {token}")] if token is not None else [("api-key", backend.api_key)]
        # The role names the agent's deployment where the URL does not (DeploymentAsModel, below).
        auth.append((ROLE_HEADER, "agent"))
        if backend.foundry:
            return _url(f"{backend.base_url.rstrip('/')}/{endpoint}", params), auth
        root = backend.base_url.rstrip("/")
        if endpoint in DEPLOYMENT_ENDPOINTS:
            deployment = (backend.deployments or {}).get("agent") or _model(content)
            path = f"{root}/openai/deployments/{deployment}/{endpoint}"
        else:
            path = f"{root}/openai/{endpoint}"
        return _url(path, [*params, ("api-version", backend.api_version)]), auth

    async def aclose(self) -> None:
        await self.inner.aclose()


def _url(base: str, params: list[tuple[str, str]]) -> httpx2.URL:
    return httpx2.URL(base, params=params) if params else httpx2.URL(base)


def _model(content: bytes) -> str:
    """The body's model: Azure's deployment when none is configured for the agent (the SDK does the same)."""
    try:
        body = json.loads(content)
    except ValueError:
        return ""
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else ""
