"""How a request finds its recording: same method, same endpoint (whatever the host), equal JSON bodies."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vcr.request import Request

from replaygate.cassettes.cassette_format import json_or_raw

@functools.lru_cache(maxsize=256)  # matching asks for the same few paths a few times per request
def endpoint_of(path: str) -> str:
    """`/v1/chat/completions`, Azure's `/openai/deployments/x/chat/completions` and `/openai/responses`, and a
    Foundry project's `/api/projects/p/openai/v1/chat/completions` are one endpoint each."""
    path = path.rstrip("/")
    azure = re.search(r"/deployments/[^/]+/(.+)$", path)
    if azure:
        return azure.group(1)
    # Before the generic version match: a project named like a version (v2-team) must not be taken for one.
    openai_v1 = re.search(r"/openai/v1/(.+)$", path)
    if openai_v1:
        return openai_v1.group(1)
    # A Foundry project's agent service (/threads, /assistants): the project, like the host, is not the endpoint.
    project = re.match(r"/api/projects/[^/]+/(.+)$", path)
    if project:
        return project.group(1).removeprefix("openai/")
    versioned = re.search(r"/v\d+[^/]*/(.+)$", path)
    if versioned:
        return versioned.group(1)
    return path.lstrip("/").removeprefix("openai/")  # Azure's deployment-less routes: /openai/responses


def method(r1: Request, r2: Request) -> None:
    if r1.method != r2.method:
        raise AssertionError(f"method {r1.method} != {r2.method}")


def endpoint(r1: Request, r2: Request) -> None:
    a, b = endpoint_of(r1.path), endpoint_of(r2.path)
    if a != b:
        raise AssertionError(f"endpoint {a} != {b}")


def first_difference(a: Any, b: Any, where: str = "body") -> str | None:
    """The path of the first place two JSON values differ, for a readable miss message."""
    if a == b:
        return None
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{where}.{key}"
            found = first_difference(a[key], b[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for index, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f"{where}[{index}]")
            if found:
                return found
        return f"{where} (length {len(a)} != {len(b)})" if len(a) != len(b) else None
    return None if a == b else where


def json_body(r1: Request, r2: Request) -> None:
    """Bodies are equal as JSON values: key order and whitespace do not matter."""
    diff = first_difference(json_or_raw(r1.body), json_or_raw(r2.body))
    if diff:
        raise AssertionError(f"{diff} differs")


MATCH_ON = (method, endpoint, json_body)
