"""What a cassette stores and how: allow-listed headers and query keys, readable JSON files, atomic writes.

These are vcrpy's extension points: a request filter, a serializer and a persister.
"""

from __future__ import annotations

import functools
import json
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from vcr.request import Request

from replaygate.core.errors import InputError, os_error_message
from replaygate.cassettes.secrets import write_checked

# Allow-lists, never deny-lists: a header or query key we did not think of stays out
# (Authorization with its Entra ID bearer token, api-key, cookies, the harness's own routing headers).
REQUEST_HEADERS = frozenset({"content-type", "accept"})
RESPONSE_HEADERS = frozenset({"content-type", "x-simulator"})
QUERY_KEYS = frozenset({"api-version"})


class CassetteFileError(InputError):
    pass


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
    from vcr.request import Request

    headers = {k: v for k, v in request.headers.items() if k.lower() in REQUEST_HEADERS}
    uri = clean_uri(request.uri)
    if uri == request.uri and len(headers) == len(request.headers):
        # Already clean (a stored request, or one the transport built clean): vcrpy asks up to four
        # times per request, and a copy would cost more than the match.
        return request
    return Request(request.method, uri, request.body, headers)


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """Decode compressed bodies and keep allow-listed headers. Idempotent, never None."""
    from vcr.filters import decode_response

    response = decode_response(response)
    headers = {k: v for k, v in response.get("headers", {}).items() if k.lower() in RESPONSE_HEADERS}
    return {**response, "headers": headers}


def json_or_raw(body: Any) -> Any:
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


# How a JSON answer's bytes were laid out, so replay gives back the bytes the service sent (`with_raw_response`
# sees them): the words of a response body's "format", each layout a json.dumps setting. No "format" means the
# layout of cassettes written before it existed ("spaced"); an answer no layout reproduces keeps its bytes as
# "string" beside the readable "json".
LAYOUTS: dict[str, dict[str, Any]] = {
    "compact": {"separators": (",", ":")},
    "spaced": {"separators": (", ", ": ")},
    "indent2": {"indent": 2},
}
DEFAULT_FORMAT = "spaced"


def json_bytes(value: Any, layout: str) -> str:
    """A JSON value laid out as `layout` says ("compact ascii newline", say)."""
    words = layout.split()
    options = next((LAYOUTS[w] for w in words if w in LAYOUTS), LAYOUTS[DEFAULT_FORMAT])
    text = json.dumps(value, ensure_ascii="ascii" in words, **options)
    return text + "\n" if "newline" in words else text


def layout_of(value: Any, text: str) -> str | None:
    """The layout that turns `value` back into exactly `text`, or None when none does."""
    for name in LAYOUTS:
        for ascii_ in ("", " ascii"):
            for newline in ("", " newline"):
                layout = name + ascii_ + newline
                if json_bytes(value, layout) == text:
                    return layout
    return None


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


class ReadableJsonSerializer:
    """vcrpy serializer: indented JSON, JSON bodies stored as JSON so diffs read well, and the answers' own bytes.

    Keys are sorted everywhere except in an answer's body, which keeps the service's order: that order, with the
    body's layout, gives back its bytes on replay.
    """

    @staticmethod
    def serialize(cassette_dict: dict[str, Any]) -> str:
        data = _sorted(json.loads(json.dumps(cassette_dict)))
        for interaction in data.get("interactions", []):
            request, response = interaction["request"], interaction["response"]
            parsed = json_or_raw(request.get("body"))
            if not isinstance(parsed, str) and parsed is not None:
                request["body"] = {"json": _sorted(parsed)}
            body = response.get("body", {})
            text = body.get("string")
            parsed = json_or_raw(text)
            if isinstance(text, str) and not isinstance(parsed, str) and parsed is not None:
                layout = layout_of(parsed, text)
                stored: dict[str, Any] = {"json": parsed}
                if layout is None:
                    stored["string"] = text
                elif layout != DEFAULT_FORMAT:
                    stored["format"] = layout
                response["body"] = stored
        return json.dumps(data, indent=1, ensure_ascii=False) + "\n"

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
                raw = body.get("string")
                layout = body.get("format", DEFAULT_FORMAT)
                if not isinstance(layout, str):
                    raise ValueError(f'a response body\'s "format" must be text, got {type(layout).__name__}')
                response["body"] = {"string": raw if isinstance(raw, str) else json_bytes(body["json"], layout)}
        return data


class AtomicPersister:
    """vcrpy persister: clear errors for broken files, a secret scan, and atomic writes."""

    def __init__(self, secrets: Sequence[tuple[str, str]] = ()):
        self.secrets = list(secrets)

    def load_cassette(self, cassette_path: str | Path, serializer: Any):
        from vcr.persisters.filesystem import CassetteNotFoundError
        from vcr.serialize import deserialize

        path = Path(cassette_path)
        if not path.is_file():
            raise CassetteNotFoundError()
        try:
            return deserialize(path.read_text(encoding="utf-8"), serializer)
        except OSError as exc:
            raise CassetteFileError(os_error_message(path, exc, "cassette", "the cassettes setting")) from None
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CassetteFileError(
                f"{path}: not a readable cassette ({reason}); restore it from git or delete it and re-record with --eval-record-mode=once"
            ) from None

    def save_cassette(self, cassette_path: str | Path, cassette_dict: dict[str, Any], serializer: Any) -> None:
        from vcr.serialize import serialize

        text = serialize(cassette_dict, serializer)
        write_checked([(cassette_path, text)], self.secrets)
