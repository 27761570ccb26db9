"""Record and replay model traffic in vcrpy cassettes: one file per case and repeat.

vcrpy's `use_cassette` patches httpx2 for the whole process, so concurrent
rollouts cannot each hold a cassette of their own. Here nothing is patched:
a `CassetteLibrary` owns one vcrpy `Cassette` per case, and its transport
routes every request to the cassette its case-header names. vcrpy still does
the matching, the record modes and the file format, through its extension
points: matchers, a serializer and a persister.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import httpx2
if TYPE_CHECKING:
    from vcr.cassette import Cassette
    from vcr.request import Request

from replaygate.cassettes.cassette_format import (REQUEST_HEADERS, AtomicPersister, ReadableJsonSerializer, clean_uri,
                                                  scrub_request, scrub_response)
from replaygate.cassettes.cassette_match import MATCH_ON
from replaygate.core.changeset import checkpoint
from replaygate.core.errors import InputError
from replaygate.llm.status import model_answer
from replaygate.llm.stream import is_event_stream
from replaygate.llm.tap import tapped

RECORD_MODES = ("none", "once", "new_episodes", "all")
CASE_HEADER = "x-evals-case"
CASSETTE_NAME = re.compile(r"(?P<case>.+)\.r(?P<repeat>[0-9]+)\.json")
# The case whose cassette this asyncio task's requests belong to: the solver's own client calls
# carry no header of ours, so the case travels with the task instead.
CURRENT_CASE: ContextVar[str | None] = ContextVar("replaygate_case", default=None)


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
        return f"{self.folder}/{self.case_id}.r{self.repeat}.json"

    @property
    def folder(self) -> str:
        """The folder, relative to the cassettes setting, holding every case of this suite (or group) and model."""
        model = re.sub(r"[^A-Za-z0-9._-]+", "_", self.model).strip("_") or "model"
        return f"{self.suite}/{model}"


@dataclass
class FolderUse:
    """What the cases a session ran own of one cassette folder: whole cases (any repeat) and single files.

    `complete` is false when a case that might own a file there did not run (-k, a shard, another task file).
    """

    folder: str
    cases: set[str] = field(default_factory=set)
    files: set[str] = field(default_factory=set)
    complete: bool = True

    def to_json(self) -> str:
        return json.dumps({"folder": self.folder, "cases": sorted(self.cases), "files": sorted(self.files),
                           "complete": self.complete})

    @classmethod
    def from_json(cls, text: str) -> "FolderUse":
        data = json.loads(text)
        return cls(data["folder"], set(data["cases"]), set(data["files"]), data["complete"])

    def merge(self, other: "FolderUse") -> None:
        self.cases |= other.cases
        self.files |= other.files
        self.complete = self.complete and other.complete

    def unused(self) -> list[Path]:
        """Cassettes here that no case owns; nothing when incomplete, and never a file not named like a cassette."""
        folder = Path(self.folder)
        if not self.complete or not folder.is_dir():
            return []
        return [path for path in sorted(folder.glob("*.json"))
                if (name := CASSETTE_NAME.fullmatch(path.name)) and path.is_file()
                and name["case"] not in self.cases and path.name not in self.files]


class CassetteLibrary:
    """One vcrpy cassette per case and repeat, under `root`, loaded on first use."""

    def __init__(
        self,
        root: Path,
        record_mode: str,
        inner: httpx2.AsyncBaseTransport | None,
        secrets: Sequence[tuple[str, str]] = (),
        label: str = "",
        record_errors: bool = False,
    ):
        if record_mode not in RECORD_MODES:
            raise InputError(f"--eval-record-mode={record_mode}: unknown mode; use one of {', '.join(RECORD_MODES)}")
        self.root = Path(root)
        self.record_mode = record_mode
        self.inner = inner or OfflineTransport()
        self.persister = AtomicPersister(secrets)
        self.label = label
        # Off by default: a 429 or a 500 is the service's answer, not the model's. On, a fault
        # drill can be replayed exactly, failures included.
        self.record_errors = record_errors
        self._open: dict[str, tuple[CaseKey, Cassette]] = {}
        self.saved: list[Path] = []
        # Set when any answer, played or recorded, came from the simulator.
        self.simulator_seen = False

    def headers_for(self, key: CaseKey) -> dict[str, str]:
        self._open.setdefault(key.relpath, (key, None))  # type: ignore[arg-type]
        return {CASE_HEADER: key.relpath}

    @contextmanager
    def case(self, key: CaseKey) -> Iterator[None]:
        """Route this task's requests to `key`'s cassette while the block runs."""
        self._open.setdefault(key.relpath, (key, None))  # type: ignore[arg-type]
        token = CURRENT_CASE.set(key.relpath)
        try:
            yield
        finally:
            CURRENT_CASE.reset(token)

    def path_for(self, key: CaseKey) -> Path:
        return self.root / key.relpath

    def cassette(self, relpath: str) -> tuple[CaseKey, Cassette]:
        key, cassette = self._open.get(relpath, (None, None))
        if key is None:
            raise RuntimeError(f"request for an unregistered case {relpath!r}")
        if cassette is None:
            from vcr.cassette import Cassette
            from vcr.record_mode import RecordMode

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
        checkpoint("cassette")
        return path

    def transport(self) -> "CassetteTransport":
        return CassetteTransport(self)


class CassetteTransport(httpx2.AsyncBaseTransport):
    """Plays a request from its case's cassette, or sends it on and records the model's answer (a 2xx, or a 4xx about
    the request)."""

    def __init__(self, library: CassetteLibrary):
        self.library = library

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        key, cassette = self.library.cassette(_case_of(request))
        vcr_request = await _stored_request(request)
        if cassette.can_play_response_for(vcr_request):
            return self._play(key, cassette, vcr_request, request)
        if cassette.write_protected:
            raise self._miss(key, cassette, vcr_request)

        response = await self.library.inner.handle_async_request(request)
        if 200 <= response.status_code < 300 and is_event_stream(response.headers.get("content-type", "")):
            return self._tee(cassette, vcr_request, request, response)
        return await self._record(cassette, vcr_request, request, response)

    def _play(self, key: CaseKey, cassette: Cassette, vcr_request: Request, request: httpx2.Request) -> httpx2.Response:
        """The recorded answer to the request, checked readable unless record_errors keeps unreadable ones."""
        response = _to_httpx(cassette.play_response(vcr_request), request)
        self.library.simulator_seen |= "x-simulator" in response.headers
        if not self.library.record_errors:  # with it, an unreadable answer may be a recorded fault, kept on purpose
            _check_played(response, self.library.path_for(key))
        return response

    async def _record(self, cassette: Cassette, vcr_request: Request, request: httpx2.Request,
                      response: httpx2.Response) -> httpx2.Response:
        """The service's whole answer, passed on and, when it is the model's answer (or record_errors), recorded."""
        content = await response.aread()  # decoded: httpx2 undoes content-encoding here
        self.library.simulator_seen |= "x-simulator" in response.headers
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in ("content-encoding", "content-length")]
        status = response.status_code
        # The model's answers are recorded: a readable 2xx, and a 4xx about the request (context too long, an
        # unsupported parameter), which the solver meets again on replay. The service's failures (401, 404, 429,
        # 5xx) and unreadable 2xx bodies are not: recorded only when asked for.
        answered = model_answer(status) and (status >= 400 or _readable(content, response.headers.get("content-type", "")))
        if answered or self.library.record_errors:
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

    def _tee(self, cassette: Cassette, vcr_request: Request, request: httpx2.Request,
             response: httpx2.Response) -> httpx2.Response:
        """A streamed answer passes on unbuffered; the cassette gets the bytes that passed when the stream closes."""
        self.library.simulator_seen |= "x-simulator" in response.headers

        def record(content: bytes) -> None:
            stored: dict[str, list[str]] = {}
            for k, v in response.headers.multi_items():
                if k.lower() not in ("content-encoding", "content-length"):
                    stored.setdefault(k.lower(), []).append(v)
            status = {"code": response.status_code, "message": response.reason_phrase}
            cassette.append(vcr_request, scrub_response({"status": status, "headers": stored, "body": {"string": content}}))

        return tapped(response, request, record)

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


def _case_of(request: httpx2.Request) -> str:
    """The cassette a request belongs to: its case header (taken off: the harness's, never sent on or recorded),
    else the running case's."""
    relpath = request.headers.get(CASE_HEADER)
    if relpath is not None:
        del request.headers[CASE_HEADER]
    else:
        relpath = CURRENT_CASE.get()
    if relpath is None:
        raise RuntimeError("a model request outside any case cannot be routed to a cassette")
    return relpath


async def _stored_request(request: httpx2.Request) -> Request:
    """The request as a cassette stores and matches it."""
    body = await request.aread()
    from vcr.request import Request

    # Built as it is stored (allow-listed headers, cleaned URL): the scrub vcrpy runs on it is then a no-op.
    headers = {k: v for k, v in request.headers.items() if k in REQUEST_HEADERS}
    return Request(request.method, clean_uri(str(request.url)), body, headers)


class CassetteBodyError(InputError):
    """A recorded answer the SDK could not read (not JSON where its content type says JSON): a broken cassette."""


def _check_played(response: httpx2.Response, path: Path) -> None:
    """Refuse a recorded 2xx answer that is not the JSON its content type promises, naming the file and the fix."""
    content_type = response.headers.get("content-type", "")
    if not 200 <= response.status_code < 300 or "json" not in content_type:
        return
    try:
        json.loads(response.content)
    except ValueError as exc:
        raise CassetteBodyError(
            f"{path}: the recorded answer to {response.request.method} {response.request.url.path} is not JSON "
            f"({content_type}; {type(exc).__name__}: {exc}); re-record the case with --eval-record-mode=all, "
            "or restore the file from git"
        ) from None


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
