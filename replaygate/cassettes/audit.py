"""Audit files for credentials before they are committed: `python -m replaygate.cassettes.audit [PATH ...]`.

Scans every file under the given paths (default: the `cassettes` and `reports` folders of
`[tool.replaygate]`, the report page's embedded data decoded too) for OpenAI-style keys, bearer tokens (`Bearer ...` and JWT-shaped, as Entra ID
issues), credential headers stored in cassettes, 32-hex keys given as header or query values, and
the values of the `secret_env` variables.
Prints `path:line: what (value hidden)` per hit, never the value; exits 1 on any hit.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tomllib
import urllib.parse
from dataclasses import dataclass
from json.decoder import scanstring
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from replaygate.core.config import load_config
from replaygate.core.errors import InputError, OneLineParser, read_input
from replaygate.cassettes.secrets import BEARER, JWT, secrets_from_env

OPENAI_KEY = re.compile(r"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{16,}")
HEX_KEY = re.compile(r"(?:bearer\s+)?[0-9a-fA-F]{32}", re.IGNORECASE)
# Only where a key would be sent: a query value, or the value of a `Name: value` header line.
# Ids such as chatcmpl-sim-<hash> or call_<hash> sit elsewhere and never match.
QUERY_HEX = re.compile(r"[?&]([A-Za-z0-9_.~%-]+)=(?:[0-9a-fA-F]{32})(?![0-9A-Za-z])")
HEADER_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9-]*)\s*:[ \t]*(.*?)\s*$")
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "x-api-key", "cookie", "set-cookie",
     "openai-organization", "openai-project"}
)
CREDENTIAL_QUERY_KEYS = frozenset({"api-key", "api_key", "key", "access_token", "token", "subscription-key"})


@dataclass(frozen=True, order=True)
class Hit:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what} (value hidden)"


# ---- where things are in a JSON text ----------------------------------------------------------

_SPACE = re.compile(r"[ \t\n\r]*")


def json_offsets(text: str) -> dict[tuple[Any, ...], int]:
    """Where each object member (its key) and array element starts in `text`, by JSON path."""
    found: dict[tuple[Any, ...], int] = {}
    decoder = json.JSONDecoder()

    def skip(i: int) -> int:
        return _SPACE.match(text, i).end()  # type: ignore[union-attr]  # the pattern matches empty

    def walk(i: int, path: tuple[Any, ...]) -> int:
        i = skip(i)
        if text[i] == "{":
            i = skip(i + 1)
            if text[i] == "}":
                return i + 1
            while True:
                key, after = scanstring(text, i + 1)
                found[path + (key,)] = i
                i = skip(walk(skip(after) + 1, path + (key,)))  # past the colon, then the value
                if text[i] == "}":
                    return i + 1
                i = skip(i + 1)
        if text[i] == "[":
            i, index = skip(i + 1), 0
            if text[i] == "]":
                return i + 1
            while True:
                found[path + (index,)] = i
                i = skip(walk(i, path + (index,)))
                if text[i] == "]":
                    return i + 1
                i, index = skip(i + 1), index + 1
        return decoder.raw_decode(text, i)[1]

    walk(0, ())
    return found


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


# ---- the checks ---------------------------------------------------------------------------------


def scan_lines(text: str, secrets: Sequence[tuple[str, str]]) -> Iterator[tuple[int, str]]:
    """(line, what) for every credential-looking thing a line shows, whatever the file's format."""
    for number, line in enumerate(text.splitlines(), start=1):
        if OPENAI_KEY.search(line):
            yield number, "OpenAI-style API key"
        if BEARER.search(line):
            yield number, "Bearer token"
        if JWT.search(line):
            yield number, "JWT-shaped token (an Entra ID or other bearer token)"
        for match in QUERY_HEX.finditer(line):
            yield number, f"32-hex key in query {urllib.parse.unquote(match.group(1))!r}"
        header = HEADER_LINE.match(line)
        if header:
            name, value = header.group(1).lower(), header.group(2)
            if name in CREDENTIAL_HEADERS:
                yield number, f"credential header {name!r}"
            elif HEX_KEY.fullmatch(value):
                yield number, f"32-hex key in header {name!r}"
        for name, value in secrets:
            # Also the JSON-escaped spelling, as a value inside a stored body would be written.
            if value in line or json.dumps(value)[1:-1] in line:
                yield number, f"value of ${name}"


def _header_items(headers: Any) -> Iterator[tuple[str, int | None, Any]]:
    """(name, index in its list or None, value) for a cassette's stored headers."""
    if not isinstance(headers, dict):
        return
    for name, values in headers.items():
        if isinstance(values, list):
            for index, value in enumerate(values):
                yield str(name), index, value
        else:
            yield str(name), None, values


def scan_cassette(text: str, data: Mapping[str, Any]) -> Iterator[tuple[int, str]]:
    """(line, what) for credential headers and keys in a JSON cassette's stored requests and responses."""
    interactions = data.get("interactions")
    if not isinstance(interactions, list):
        return
    try:
        offsets = json_offsets(text)
    except RecursionError:
        offsets = {}  # nested too deep to walk: hits are still reported, at line 1
    for i, interaction in enumerate(interactions):
        if not isinstance(interaction, dict):
            continue
        for side in ("request", "response"):
            stored = interaction.get(side)
            if not isinstance(stored, dict):
                continue
            base = ("interactions", i, side, "headers")
            for name, index, value in _header_items(stored.get("headers")):
                at = offsets.get(base + (name,), 0)
                if name.lower() in CREDENTIAL_HEADERS:
                    yield _line_of(text, at), f"credential header {name.lower()!r} stored in the cassette"
                elif isinstance(value, str) and HEX_KEY.fullmatch(value.strip()):
                    where = at if index is None else offsets.get(base + (name, index), at)
                    yield _line_of(text, where), f"32-hex key in header {name.lower()!r}"
        request = interaction.get("request")
        uri = request.get("uri") if isinstance(request, dict) else None
        if isinstance(uri, str):
            line = _line_of(text, offsets.get(("interactions", i, "request", "uri"), 0))
            for key, value in urllib.parse.parse_qsl(urllib.parse.urlsplit(uri).query, keep_blank_values=True):
                if key.lower() in CREDENTIAL_QUERY_KEYS:
                    yield line, f"credential query key {key!r} stored in the cassette"
                elif re.fullmatch(r"[0-9a-fA-F]{32}", value):
                    yield line, f"32-hex key in query {key!r}"


# The JSON a report page embeds (`reports/index.html`): one long line of escaped text, so it is read as JSON too.
EMBEDDED_JSON = re.compile(r'<script type="application/json"[^>]*>(.*?)</script>', re.DOTALL)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def scan_page(text: str, secrets: Sequence[tuple[str, str]]) -> Iterator[tuple[int, str]]:
    """(line, what) for keys and tokens in a page's embedded JSON once decoded, where an escape (`\\u003c`, `\\"`)
    could split one the line scan reads. Header and query shapes are a cassette's: its own scan covers them."""
    for match in EMBEDDED_JSON.finditer(text):
        line = _line_of(text, match.start(1))
        try:
            data = json.loads(match.group(1))
        except (ValueError, RecursionError):
            continue  # not JSON: its text was scanned line by line already
        for value in _strings(data):
            for what, pattern in (("OpenAI-style API key", OPENAI_KEY), ("Bearer token", BEARER),
                                  ("JWT-shaped token (an Entra ID or other bearer token)", JWT)):
                if pattern.search(value):
                    yield line, f"{what} in the page's embedded data"
            for name, secret in secrets:
                if secret in value:
                    yield line, f"value of ${name} in the page's embedded data"


def scan_text(path: str, text: str, secrets: Sequence[tuple[str, str]]) -> list[Hit]:
    """Every hit in one file's text, sorted by line, each reported once."""
    found = set(scan_lines(text, secrets))
    if "<script" in text:
        found |= set(scan_page(text, secrets))
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, dict):
            found |= set(scan_cassette(text, data))
    return sorted(Hit(path, line, what) for line, what in found)


def _unreadable(path: Path, exc: OSError) -> str:
    # An unreadable file or folder may hold a key: it stops the audit rather than being skipped.
    reason = "permission denied" if isinstance(exc, PermissionError) else exc.strerror or type(exc).__name__
    return f"{path}: cannot read it ({reason}), and what cannot be read may hold a key; make it readable (chmod u+r) and re-run"


def _files_under(path: Path) -> list[Path]:
    """Every file under `path` (or `path` itself), sorted; a folder it cannot list raises, where rglob would skip it."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []

    def refuse(exc: OSError) -> None:
        raise InputError(_unreadable(Path(exc.filename or path), exc))

    found = [Path(folder) / name for folder, _, names in os.walk(path, onerror=refuse) for name in names]
    return sorted(p for p in found if p.is_file())


def audit_files(paths: Iterable[Path], secrets: Sequence[tuple[str, str]]) -> tuple[list[Hit], int]:
    """(hits, files scanned) for every file under `paths`."""
    hits: list[Hit] = []
    count = 0
    for path in paths:
        for file in _files_under(path):
            count += 1
            try:
                data = file.read_bytes()
            except OSError as exc:
                raise InputError(_unreadable(file, exc)) from None
            # Keys are ASCII: a file that is not UTF-8 is still read, its odd bytes replaced.
            hits += scan_text(str(file), data.decode("utf-8", errors="replace"), secrets)
    return hits, count


# ---- the command line ---------------------------------------------------------------------------


def default_paths(pyproject: Path, config) -> list[Path]:
    """The cassettes and reports folders of a project root's `[tool.replaygate]`; refuses a root without one."""
    hint = "run it from the project root, or pass --pyproject or the files to audit"
    if not pyproject.exists():
        raise InputError(f"{pyproject}: not found, so nothing says which folders to audit; {hint}")
    text = read_input(pyproject, InputError, "pyproject file", hint, "TOML")
    if "replaygate" not in tomllib.loads(text).get("tool", {}):
        raise InputError(f"{pyproject}: has no [tool.replaygate] table, so this is not a replaygate project root; {hint}")
    root = pyproject.parent
    return [config.resolve(root, config.cassettes), config.resolve(root, config.reports)]


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = OneLineParser(
        prog="python -m replaygate.cassettes.audit",
        description="Scan files for credentials (API keys, bearer and JWT-shaped tokens, credential headers, secret_env values). "
        "Exits 1 when anything is found; the values are never printed.",
    )
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders (default: [tool.replaygate] cassettes and reports)")
    parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"),
                        help="where [tool.replaygate] secret_env, cassettes and reports are read (default ./pyproject.toml)")
    args = parser.parse_args(argv)
    environ = os.environ if environ is None else environ
    try:
        config = load_config(args.pyproject)
        if args.paths:
            missing = next((p for p in args.paths if not p.exists()), None)
            if missing is not None:
                raise InputError(f"{missing}: no such file or folder; pass existing files or folders")
            paths = list(args.paths)
        else:
            paths = default_paths(args.pyproject, config)
        hits, count = audit_files(paths, secrets_from_env(config.secret_env, environ))
        if not count:
            # A clean verdict over no file would pass a CI job that audited nothing.
            shown = ", ".join(str(p) for p in paths)
            raise InputError(f"nothing to scan: no file under {shown}; run it from the project root, or pass the files to audit")
    except InputError as exc:
        print(f"audit: {exc}", file=sys.stderr)
        return 2
    for hit in hits:
        print(hit)
    if hits:
        files = len({hit.path for hit in hits})
        print(f"audit: {len(hits)} credential-looking {'hit' if len(hits) == 1 else 'hits'} in {files} of {count} files; "
              "remove them (and rotate any real key), then re-run")
        return 1
    print(f"audit: {count} files clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
