"""Candidate lint, before any rollout is spent: text a reviewer would accept, or a rejection that says why.

Editors invent placeholders (Agent Lightning's KeyError, PR #473), drop ones the tasks fill,
repeat a heading, and pad few-shot answers with instructions. Lint repairs only what it can
repair without guessing (a code fence, a dropped placeholder on a line of its own, a repeated
heading over two lists); everything else is rejected, with a message an editor can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Collection, Sequence

from replaygate.core.prompt import SECTION, placeholder_spans
from replaygate.optimize.candidate import version_of

_FENCE = re.compile(r"^\s*```[\w-]*\s*\n(.*?)\n\s*```\s*$", re.DOTALL)
# "Rules:" or "## Rules": a short title on a line of its own.
_HEADING = re.compile(r"^\s*(?:#{1,6}\s+(?P<md>[^\W_][\w '&/-]{0,39}?)\s*:?|(?P<plain>[^\W_][\w '&/-]{0,39}?)\s*:)\s*$")
# Titles that label the parts of few-shot examples, which repeat by design.
_EXAMPLE_PARTS = ("example", "input", "output", "answer", "question")
_LIST_ITEM = re.compile(r"^(?P<indent>\s*)(?P<mark>[-*•]|(?P<number>\d+)(?P<sep>[.)]))\s+(?P<body>\S.*)$")
_EXAMPLE_LINE = re.compile(r"^\s*(?:[-*•]\s+)?example\b[^:\n]{0,20}:\s*\S", re.IGNORECASE)
_ARROW = re.compile(r"->|=>|→")
_SENTENCE_BREAK = re.compile(r"[.!?]\s+\S")


@dataclass(frozen=True)
class LintVerdict:
    text: str | None  # the (repaired) text, or None when rejected
    repairs: tuple[str, ...] = field(default=())
    rejected: str = ""
    duplicate: bool = False  # rejected only for repeating an earlier candidate: no feedback can help


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
    present = list(dict.fromkeys(name for _, _, name in placeholder_spans(text)))
    problem = invented_placeholders(present, required)
    if problem:
        return LintVerdict(None, tuple(repairs), rejected=problem)
    text, merged, problem = merge_repeated_headings(text)
    if problem:
        return LintVerdict(None, tuple(repairs), rejected=problem)
    repairs += merged
    text, restored = restore_placeholders(text, [name for name in required if name not in present])
    repairs += restored
    problem = example_defect(text)
    if problem:
        return LintVerdict(None, tuple(repairs), rejected=problem)
    if len(text) > max_chars:
        return LintVerdict(None, tuple(repairs), rejected=f"{len(text)} characters, over the cap of {max_chars}")
    if normalized(text) in seen:
        return LintVerdict(None, tuple(repairs), rejected=f"duplicate of {version_of(text)}", duplicate=True)
    return LintVerdict(text, tuple(repairs))


# --- placeholders ------------------------------------------------------------------------------


def invented_placeholders(present: Sequence[str], required: Sequence[str]) -> str:
    """The problem with placeholders no task fills, or "": they are rejected, not repaired, since a bare word where
    the placeholder stood ("held near location.") reads worse than no edit."""
    invented = [name for name in present if name not in required]
    if not invented:
        return ""
    keep = ", ".join("{" + n + "}" for n in required)
    return (f"invents placeholder(s) {', '.join('{' + n + '}' for n in invented)} that no task fills; "
            f"use only {keep} and write no other name in braces")


def restore_placeholders(text: str, missing: Sequence[str]) -> tuple[str, list[str]]:
    """(text, repairs): the dropped placeholders put back, each on a line of its own."""
    if not missing:
        return text, []
    # A paragraph of its own, so it joins no list or heading above it.
    text = text.rstrip("\n") + "\n\n" + "\n".join(f"{name}: {{{name}}}" for name in missing) + "\n"
    return text, ["restored dropped placeholder(s) " + ", ".join("{" + n + "}" for n in missing)]


# --- headings --------------------------------------------------------------------------------


def heading_title(line: str) -> str | None:
    """The folded title of a heading line ("Rules:", "## Rules"), or None for any other line."""
    match = _HEADING.match(line)
    if not match or placeholder_spans(line):
        return None
    title = (match.group("md") or match.group("plain")).strip()
    return title.casefold() if len(title.split()) <= 5 else None


def _block(lines: list[str], start: int) -> list[int]:
    """Indexes of the lines under the heading at `start`: up to a blank line, a heading or a section."""
    out = []
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if not line.strip() or heading_title(line) is not None or SECTION.fullmatch(line.strip()):
            break
        out.append(index)
    return out


def merge_repeated_headings(text: str) -> tuple[str, list[str], str]:
    """(text, repairs, problem): a repeated heading over lists in one section has its lists merged under the
    first; any other repeat is a problem, since merging prose could change what it says."""
    lines = text.split("\n")
    repairs: list[str] = []
    while (repeat := _first_repeat(lines)) is not None:
        first, second = repeat
        name = lines[first].strip()
        blocks = [_block(lines, first), _block(lines, second)]
        between = "\n".join(lines[first:second])
        lists = all(b and all(_LIST_ITEM.match(lines[i]) for i in b) for b in blocks)
        if not lists or SECTION.search(between):
            return text, repairs, (f"the heading {name!r} appears twice (lines {first + 1} and {second + 1}) and the "
                                   "text under it cannot be merged safely; state it once, with everything under it")
        items = _merged_list([lines[i] for i in blocks[0]], [lines[i] for i in blocks[1]])
        gone = {second, *blocks[1]}
        lines = lines[: blocks[0][0]] + items + [
            line for index, line in enumerate(lines) if index > blocks[0][-1] and index not in gone]
        repairs.append(f"merged the repeated heading {name!r} into its first occurrence")
    if not repairs:
        return text, repairs, ""
    # The removed block leaves its blank lines behind.
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).rstrip("\n") + "\n", repairs, ""


def _first_repeat(lines: list[str]) -> tuple[int, int] | None:
    """The line indexes of the first two occurrences of the first heading title that repeats (example parts may)."""
    titles: dict[str, list[int]] = {}
    for index, line in enumerate(lines):
        title = heading_title(line)
        if title is not None and not title.startswith(_EXAMPLE_PARTS):
            titles.setdefault(title, []).append(index)
    return next(((at[0], at[1]) for at in titles.values() if len(at) > 1), None)


def _merged_list(items: list[str], more: list[str]) -> list[str]:
    """The first list with the second's new items appended in the first's style (its marker, or its numbering)."""
    items = list(items)
    known = {_LIST_ITEM.match(line).group("body").strip().casefold() for line in items}
    style = _LIST_ITEM.match(items[-1])
    number = int(style.group("number")) if style.group("number") else None
    for line in more:
        body = _LIST_ITEM.match(line).group("body").strip()
        if body.casefold() in known:
            continue
        known.add(body.casefold())
        if number is None:
            items.append(f"{style.group('indent')}{style.group('mark')} {body}")
        else:
            number += 1
            items.append(f"{style.group('indent')}{number}{style.group('sep')} {body}")
    return items


# --- few-shot examples -------------------------------------------------------------------------


def example_defect(text: str) -> str:
    """A problem with a few-shot line ("Example: <input> -> <answer>") whose answer carries more than an answer."""
    for number, line in enumerate(text.split("\n"), 1):
        if not _EXAMPLE_LINE.match(line):
            continue
        parts = _ARROW.split(line)
        if len(parts) < 2:
            continue
        answer = parts[-1].strip()
        if "(" in answer or _SENTENCE_BREAK.search(answer):
            return (f"line {number}: a few-shot example carries instructions in its answer; write an example as its "
                    "input and its answer only (`Example: <input> -> <answer>`) and state rules apart")
    return ""
