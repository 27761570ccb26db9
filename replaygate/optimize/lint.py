"""Candidate lint, before any rollout is spent: placeholders kept, none invented, a length cap, no duplicates.

Editors invent placeholders (Agent Lightning's KeyError, PR #473) and drop ones the
tasks fill. An invented `{name}` is repaired by writing it as plain text; a dropped
one is restored on a line of its own. What cannot be repaired is rejected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Collection, Sequence

from replaygate.core.prompt import SECTION, TOKEN
from replaygate.optimize.candidate import version_of

_FENCE = re.compile(r"^\s*```[\w-]*\s*\n(.*?)\n\s*```\s*$", re.DOTALL)


@dataclass(frozen=True)
class LintVerdict:
    text: str | None  # the (repaired) text, or None when rejected
    repairs: tuple[str, ...] = field(default=())
    rejected: str = ""


def normalized(text: str) -> str:
    """Whitespace-insensitive identity for spotting duplicates."""
    return " ".join(text.split())


def lint_candidate(
    text: str,
    required: Sequence[str],
    max_chars: int,
    seen: Collection[str] = (),
) -> LintVerdict:
    """`seen` holds normalized texts already proposed; a repeat is dropped before it costs anything."""
    repairs: list[str] = []
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
        repairs.append("removed a code fence around the prompt")
    text = text.strip() + "\n"
    if not text.strip():
        return LintVerdict(None, rejected="empty prompt")
    first = SECTION.search(text)
    if first and text[: first.start()].strip():
        return LintVerdict(None, rejected="text before the first [system]/[user] section would be dropped")

    def unbrace(match: re.Match) -> str:
        name = match.group(2)
        if name and name not in required:
            repairs.append(f"invented placeholder {{{name}}} written as plain text")
            return name
        return match.group(0)

    text = TOKEN.sub(unbrace, text)
    present = {m.group(2) for m in TOKEN.finditer(text) if m.group(2)}
    missing = [name for name in required if name not in present]
    if missing:
        text = text.rstrip("\n") + "\n" + "\n".join(f"{name}: {{{name}}}" for name in missing) + "\n"
        repairs.append("restored dropped placeholder(s) " + ", ".join("{" + n + "}" for n in missing))
    if len(text) > max_chars:
        return LintVerdict(None, tuple(repairs), rejected=f"{len(text)} characters, over the cap of {max_chars}")
    if normalized(text) in seen:
        return LintVerdict(None, tuple(repairs), rejected=f"duplicate of {version_of(text)}")
    return LintVerdict(text, tuple(repairs))
