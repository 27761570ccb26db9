"""HTTP routing shared by the in-process transport and the stdlib server."""

from __future__ import annotations

import json
from typing import Any

from .completion import MODEL_NAME, SIMULATOR_HEADER
from .conversation import SimRequestError
from .model import respond

HEADERS = {"content-type": "application/json", SIMULATOR_HEADER[0]: SIMULATOR_HEADER[1]}


def error_body(message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    """An OpenAI-style error object."""
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def models_body() -> dict[str, Any]:
    return {"object": "list", "data": [{"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "evals.sim"}]}


# The one deployment the simulator has not got, so clients can meet Azure's answer to a wrong name.
MISSING_DEPLOYMENT = "no-such-deployment"


def missing_deployment_body() -> dict[str, Any]:
    """Azure's 404 for a deployment that does not exist, on its deployment route and the v1 route alike."""
    body = error_body("The API deployment for this resource does not exist. If you created the deployment "
                      "within the last 5 minutes, please wait a moment and try again.")
    body["error"]["code"] = "DeploymentNotFound"
    return body


def invalid_key_body() -> dict[str, Any]:
    """OpenAI's 401 for a wrong or missing key; the key itself is never echoed."""
    body = error_body("Incorrect API key provided. The simulator was started with --api-key; send that key.")
    body["error"]["code"] = "invalid_api_key"
    return body


def is_chat_completions(method: str, path: str) -> bool:
    """Whether a request asks for a chat completion (OpenAI or Azure path); `path` excludes the query string."""
    return method == "POST" and path.rstrip("/").endswith("/chat/completions")


def route(method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) for one HTTP request; `path` excludes the query string."""
    path = path.rstrip("/")
    if is_chat_completions(method, path):
        try:
            request = json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return 400, error_body(f"request body is not valid JSON: {exc}")
        # Azure names the deployment in the path; Foundry's v1 route, in the body's model.
        named = request.get("model") if isinstance(request, dict) else None
        if f"/deployments/{MISSING_DEPLOYMENT}/" in path + "/" or named == MISSING_DEPLOYMENT:
            return 404, missing_deployment_body()
        try:
            return 200, respond(request)
        except SimRequestError as exc:
            return 400, error_body(str(exc))
        except Exception as exc:  # noqa: BLE001 - a client should get a JSON error, not a dropped connection
            return 500, error_body(f"simulator failed on this request: {type(exc).__name__}: {exc}", "server_error")
    if method == "GET" and path.endswith("/models"):
        return 200, models_body()
    return 404, error_body(f"no route for {method} {path or '/'}; the simulator serves POST .../chat/completions")


def encode(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON; dict order is fixed by construction, so equal payloads give equal bytes."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
