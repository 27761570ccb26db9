"""Record and replay model traffic in vcrpy cassettes: one file per case and repeat.

vcrpy's `use_cassette` patches httpx2 for the whole process, so concurrent
rollouts cannot each hold a cassette of their own. Here nothing is patched:
a `CassetteLibrary` owns one vcrpy `Cassette` per case, and its transport
routes every request to the cassette its case-header names. vcrpy still does
the matching, the record modes and the file format, through its extension
points: matchers, a serializer and a persister.
"""

from __future__ import annotations

import functools
import json
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import httpx2
from vcr.cassette import Cassette
from vcr.filters import decode_response
from vcr.matchers import method
from vcr.persisters.filesystem import CassetteNotFoundError
from vcr.record_mode import RecordMode
from vcr.request import Request
from vcr.serialize import deserialize, serialize

from evals.harness.atomic import write_text_atomic
from evals.harness.errors import InputError
from evals.harness.secrets import SecretLeakError, find_secrets

RECORD_MODES = ("none", "once", "new_episodes", "all")
CASE_HEADER = "x-evals-case"
# Allow-lists, never deny-lists: a header or query key we did not think of stays out.
REQUEST_HEADERS = frozenset({"content-type", "accept"})
RESPONSE_HEADERS = frozenset({"content-type", "x-simulator"})
QUERY_KEYS = frozenset({"api-version"})


class CassetteFileError(InputError):
    pass


class CassetteMiss(Exception):
    """A request with no recording while recording is off: the case fails, nothing is sent."""

    def __init__(self, key: "CaseKey", path: Path, detail: str, file_exists: bool):
        self.key, self.path, self.detail, self.file_exists = key, path, detail, file_exists
        super().__init__(f"case {key.case_id} (repeat {key.repeat}): no recording in {path}: {detail}")

    @property
    def record_mode_hint(self) -> str:
        """`once` records a missing file; an existing, outdated one needs `all`."""
        return "all" if self.file_exists else "once"


class OfflineTransport(httpx2.AsyncBaseTransport):
    """The replay-only backend: reaching it is a bug, so it refuses loudly."""

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        raise RuntimeError(f"network access attempted in replay mode: {request.method} {request.url.path}")


@dataclass(frozen=True)
class CaseKey:
    suite: str
    model: str
    case_id: str
    repeat: int = 0

    @property
    def relpath(self) -> str:
        model = re.sub(r"[^A-Za-z0-9._-]+", "_", self.model).strip("_") or "model"
        return f"{self.suite}/{model}/{self.case_id}.r{self.repeat}.json"


# ---- what is stored of a request and a response --------------------------------


@functools.lru_cache(maxsize=256)
def clean_uri(uri: str) -> str:
    """Drop userinfo and every query key not on the allow-list."""
    parts = urllib.parse.urlsplit(uri)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # IPv6 literals keep their brackets
    netloc = f"{host}:{parts.port}" if parts.port else host
    query = urllib.parse.urlencode(
        [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k.lower() in QUERY_KEYS]
    )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def scrub_request(request: Request) -> Request:
    """Keep allow-listed headers and query keys. Idempotent and never None:
    vcrpy also runs it on every stored request when a cassette loads."""
    headers = {k: v for k, v in request.headers.items() if k.lower() in REQUEST_HEADERS}
    return Request(request.method, clean_uri(request.uri), request.body, headers)


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """Decode compressed bodies and keep allow-listed headers. Idempotent, never None."""
    response = decode_response(response)
    headers = {k: v for k, v in response.get("headers", {}).items() if k.lower() in RESPONSE_HEADERS}
    return {**response, "headers": headers}


# ---- matching -------------------------------------------------------------------


def endpoint_of(path: str) -> str:
    """`/v1/chat/completions` and Azure's `/openai/deployments/x/chat/completions` are one endpoint."""
    path = path.rstrip("/")
    azure = re.search(r"/deployments/[^/]+/(.+)$", path)
    if azure:
        return azure.group(1)
    versioned = re.search(r"/v\d+[^/]*/(.+)$", path)
    return versioned.group(1) if versioned else path.lstrip("/")


def endpoint(r1: Request, r2: Request) -> None:
    a, b = endpoint_of(r1.path), endpoint_of(r2.path)
    if a != b:
        raise AssertionError(f"endpoint {a} != {b}")


def _json_or_raw(body: Any) -> Any:
    if isinstance(body, bytearray):
        body = bytes(body)
    if isinstance(body, (bytes, str)):
        return _parsed(body)
    return body


@functools.lru_cache(maxsize=4096)
def _parsed(body: bytes | str) -> Any:
    # vcrpy compares a request with every stored one, several times per play: parse each body once.
    # Callers only compare the result, never change it.
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        return json.loads(text)
    except ValueError:
        return text


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
    diff = first_difference(_json_or_raw(r1.body), _json_or_raw(r2.body))
    if diff:
        raise AssertionError(f"{diff} differs")


MATCH_ON = (method, endpoint, json_body)


# ---- the file format --------------------------------------------------------------


class ReadableJsonSerializer:
    """vcrpy serializer: sorted, indented JSON with JSON bodies stored as JSON, so diffs read well."""

    @staticmethod
    def serialize(cassette_dict: dict[str, Any]) -> str:
        data = json.loads(json.dumps(cassette_dict))
        for interaction in data.get("interactions", []):
            request, response = interaction["request"], interaction["response"]
            parsed = _json_or_raw(request.get("body"))
            if not isinstance(parsed, str) and parsed is not None:
                request["body"] = {"json": parsed}
            body = response.get("body", {})
            parsed = _json_or_raw(body.get("string"))
            if not isinstance(parsed, str) and parsed is not None:
                response["body"] = {"json": parsed}
        return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"

    @staticmethod
    def deserialize(text: str) -> dict[str, Any]:
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
            raise ValueError(f'expected a JSON object with an "interactions" list, got {type(data).__name__}')
        for interaction in data.get("interactions", []):
            request, response = interaction["request"], interaction["response"]
            if isinstance(request.get("body"), dict) and "json" in request["body"]:
                request["body"] = json.dumps(request["body"]["json"], ensure_ascii=False)
            body = response.get("body", {})
            if "json" in body:
                response["body"] = {"string": json.dumps(body["json"], ensure_ascii=False)}
        return data


class AtomicPersister:
    """vcrpy persister: clear errors for broken files, a secret scan, and atomic writes."""

    def __init__(self, secrets: Sequence[tuple[str, str]] = ()):
        self.secrets = list(secrets)

    def load_cassette(self, cassette_path: str | Path, serializer: Any):
        path = Path(cassette_path)
        if not path.is_file():
            raise CassetteNotFoundError()
        try:
            return deserialize(path.read_text(encoding="utf-8"), serializer)
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CassetteFileError(
                f"{path}: not a readable cassette ({reason}); restore it from git or delete it and re-record with --record-mode=once"
            ) from None

    def save_cassette(self, cassette_path: str | Path, cassette_dict: dict[str, Any], serializer: Any) -> None:
        text = serialize(cassette_dict, serializer)
        leaked = find_secrets(text, self.secrets)
        if leaked:
            raise SecretLeakError(
                f"{cassette_path}: refusing to write, it would contain the value of ${leaked[0]}; "
                "keep credentials out of prompts, task inputs and allow-listed headers"
            )
        write_text_atomic(cassette_path, text)


# ---- the library and its transport ------------------------------------------------


class CassetteLibrary:
    """One vcrpy cassette per case and repeat, under `root`, loaded on first use."""

    def __init__(
        self,
        root: Path,
        record_mode: str,
        inner: httpx2.AsyncBaseTransport | None,
        secrets: Sequence[tuple[str, str]] = (),
        label: str = "",
    ):
        if record_mode not in RECORD_MODES:
            raise InputError(f"--record-mode={record_mode}: unknown mode; use one of {', '.join(RECORD_MODES)}")
        self.root = Path(root)
        self.record_mode = record_mode
        self.inner = inner or OfflineTransport()
        self.persister = AtomicPersister(secrets)
        self.label = label
        self._open: dict[str, tuple[CaseKey, Cassette]] = {}
        self.saved: list[Path] = []
        # Set when any answer, played or recorded, came from the simulator.
        self.simulator_seen = False

    def headers_for(self, key: CaseKey) -> dict[str, str]:
        self._open.setdefault(key.relpath, (key, None))  # type: ignore[arg-type]
        return {CASE_HEADER: key.relpath}

    def path_for(self, key: CaseKey) -> Path:
        return self.root / key.relpath

    def cassette(self, relpath: str) -> tuple[CaseKey, Cassette]:
        key, cassette = self._open.get(relpath, (None, None))
        if key is None:
            raise RuntimeError(f"request for an unregistered case {relpath!r}")
        if cassette is None:
            cassette = Cassette.load(
                path=str(self.root / relpath),
                serializer=ReadableJsonSerializer,
                persister=self.persister,
                record_mode=RecordMode(self.record_mode),
                match_on=MATCH_ON,
                before_record_request=scrub_request,
                # Responses are scrubbed once, as they are recorded (below), not again on every load.
                # Re-recording a case replaces its file instead of appending stale episodes.
                drop_unused_requests=self.record_mode == "all",
            )
            self._open[relpath] = (key, cassette)
        return key, cassette

    def finish(self, key: CaseKey, keep: bool = True) -> Path | None:
        """Close a case's cassette; write it (atomically) if it recorded anything and `keep`."""
        _, cassette = self._open.pop(key.relpath, (None, None))
        if cassette is None or not keep or not cassette.dirty:
            return None
        if self.label:
            # vcrpy offers get_metadata only, which keeps an old value; a re-record must relabel.
            cassette._metadata["recorded_with"] = self.label
        cassette._save()  # vcrpy's own save: honours the record mode's keep/drop rules
        path = self.path_for(key)
        self.saved.append(path)
        return path

    def transport(self) -> "CassetteTransport":
        return CassetteTransport(self)


class CassetteTransport(httpx2.AsyncBaseTransport):
    """Plays a request from its case's cassette, or sends it on and records a 2xx answer."""

    def __init__(self, library: CassetteLibrary):
        self.library = library

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        relpath = request.headers.get(CASE_HEADER)
        if relpath is None:
            raise RuntimeError(f"request without the {CASE_HEADER} header cannot be routed to a cassette")
        del request.headers[CASE_HEADER]
        key, cassette = self.library.cassette(relpath)
        body = await request.aread()
        vcr_request = Request(request.method, str(request.url), body, dict(request.headers))

        if cassette.can_play_response_for(vcr_request):
            response = _to_httpx(cassette.play_response(vcr_request), request)
            self.library.simulator_seen |= "x-simulator" in response.headers
            return response
        if cassette.write_protected:
            raise self._miss(key, cassette, vcr_request)

        response = await self.library.inner.handle_async_request(request)
        content = await response.aread()  # decoded: httpx2 undoes content-encoding here
        self.library.simulator_seen |= "x-simulator" in response.headers
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in ("content-encoding", "content-length")]
        if 200 <= response.status_code < 300 and _readable(content, response.headers.get("content-type", "")):
            # Error answers and unreadable bodies are not model answers: they are never recorded.
            stored_headers: dict[str, list[str]] = {}
            for k, v in headers:
                stored_headers.setdefault(k.lower(), []).append(v)
            cassette.append(
                vcr_request,
                scrub_response(
                    {
                        "status": {"code": response.status_code, "message": response.reason_phrase},
                        "headers": stored_headers,
                        "body": {"string": content},
                    }
                ),
            )
        return httpx2.Response(response.status_code, headers=headers, content=content, request=request)

    def _miss(self, key: CaseKey, cassette: Cassette, vcr_request: Request) -> CassetteMiss:
        path = self.library.path_for(key)
        if not path.is_file():
            return CassetteMiss(key, path, "the cassette file does not exist", file_exists=False)
        closest = cassette.find_requests_with_most_matches(vcr_request)
        failures = closest[0][2] if closest else []
        if failures:
            detail = "the request differs from the recording: " + "; ".join(msg.strip() or name for name, msg in failures)
        elif len(cassette):
            detail = "its recording has already been played (the case sent this request more often than it was recorded)"
        else:
            detail = "the cassette is empty"
        return CassetteMiss(key, path, " ".join(detail.split()), file_exists=True)

    async def aclose(self) -> None:
        await self.library.inner.aclose()


def _readable(content: bytes, content_type: str) -> bool:
    if "json" not in content_type:
        return True
    try:
        json.loads(content)
    except ValueError:
        return False
    return True


def _to_httpx(stored: dict[str, Any], request: httpx2.Request) -> httpx2.Response:
    headers = [(name, value) for name, values in stored.get("headers", {}).items() for value in values]
    body = stored["body"]["string"]
    if isinstance(body, str):
        body = body.encode("utf-8")
    return httpx2.Response(stored["status"]["code"], headers=headers, content=body, request=request)


def secrets_from_env(names: Iterable[str], environ: dict[str, str]) -> list[tuple[str, str]]:
    return [(name, environ[name]) for name in names if environ.get(name)]
