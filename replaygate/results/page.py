"""`reports/index.html`: one self-contained page per run (no network, no server), the data embedded as JSON.

The page's script and style ship as package data (`page_assets/`) and are inlined; the document from
`page_data` is embedded in a `<script type="application/json">` block that the script renders. The same
inputs give the same bytes: sorted keys, no times, and static assets.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any, Iterator, Mapping, Sequence

from replaygate.cassettes.secrets import refuse_secrets
from replaygate.results.gate import BaselineDiff
from replaygate.results.page_data import PageSources, page_document
from replaygate.results.results import RunResults

PAGE_NAME = "index.html"
DATA_ID = "replaygate-data"


def _asset(name: str) -> str:
    return (resources.files("replaygate.results") / "page_assets" / name).read_text(encoding="utf-8")


def embedded_json(document: Mapping[str, Any]) -> str:
    """The document as JSON that cannot end its script element: every `<` is written as its escape."""
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c")


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included, as it will read once parsed."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def render_page(document: Mapping[str, Any]) -> str:
    names = ", ".join(suite["name"] for suite in document.get("suites", [])) or "no suite"
    return "\n".join([
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Eval report: {html.escape(names)}</title>",
        f"<style>\n{_asset('page.css')}</style>",
        "</head>",
        "<body>",
        '<noscript>This report draws itself with JavaScript; scores.md holds its numbers as text.</noscript>',
        '<div id="app"></div>',
        f'<script type="application/json" id="{DATA_ID}">{embedded_json(document)}</script>',
        f"<script>\n{_asset('page.js')}</script>",
        "</body>",
        "</html>",
        "",
    ])


def build_page(results: RunResults, diffs: Mapping[str, BaselineDiff], sources: PageSources,
               secrets: Sequence[tuple[str, str]], where: str = PAGE_NAME) -> str:
    """The page's text, refused (SecretLeakError naming `where`) if it or any text in its data holds a credential."""
    document = page_document(results, diffs, sources)
    text = render_page(document)
    # The embedded JSON escapes `<` and non-ASCII stays as is, but check the plain document too: no escape may hide a key.
    refuse_secrets(where, text, secrets)
    refuse_secrets(where, "\n".join(_strings(document)), secrets)
    return text
