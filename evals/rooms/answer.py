"""Reading the agent's final text: which room it chose, or that it found none."""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

from evals.rooms.world import NO_ROOM

__all__ = ["parse_choice"]

# Most specific first: if an object carries several of these, final_choice wins.
_CHOICE_KEYS = ("final_choice", "choice", "room_id", "room")

_FINAL_LINE = re.compile(r"^[ \t>#*_`-]*final[ _]?choice[*_`]*[ \t]*[:=](.*)$", re.IGNORECASE | re.MULTILINE)

# Ways a model says nothing fits; "No Room" itself is the first alternative.
_NO_ROOM_PHRASE = re.compile(
    r"\bno\s+(?:suitable\s+|available\s+|free\s+|matching\s+)?rooms?\b"
    r"|\bnone\s+(?:of\s+(?:the\s+|these\s+)?rooms\s+)?(?:is\s+|are\s+)?(?:available|suitable)\b"
    r"|\bnone\s+of\s+the\s+rooms\b"
    r"|\b(?:couldn[’']?t|could\s+not|can[’']?t|cannot|unable\s+to)\s+find\s+(?:a\s+|any\s+)?"
    r"(?:suitable\s+|available\s+|free\s+|matching\s+)?rooms?\b",
    re.IGNORECASE,
)
_NO_ROOM_VALUES = {"no room", "no rooms", "none", "no suitable room", "none available", "no_room"}

# Wrapping a model puts around a bare answer: spaces, quotes, backticks, bold markers, end punctuation.
_WRAPPING = " \t\r\n\"'`*“”‘’"
_TRAILING = ".!,;:"


def parse_choice(text: str | None, room_ids: Iterable[str]) -> tuple[str | None, str]:
    """Return (choice, how it was read); choice is a room id, "No Room", an unknown value or None."""
    if not isinstance(text, str) or not text.strip():
        return None, "no answer"
    ids = tuple(room_ids)

    structured = _from_json(text, ids) or _from_final_line(text, ids)
    if structured:
        return structured

    whole = _clean(text)
    known = _known(whole, ids)
    if known:
        return known, "whole answer is a room id"
    if whole.casefold() in _NO_ROOM_VALUES:
        return NO_ROOM, "whole answer is No Room"

    mentioned = _mentions(text, ids)
    says_none = bool(_NO_ROOM_PHRASE.search(text))
    if len(mentioned) > 1:
        return None, f"ambiguous: mentions {', '.join(mentioned)}"
    if len(mentioned) == 1 and says_none:
        # "R-101 is booked, so there is no room" names a room but does not choose it.
        return None, f"ambiguous: mentions {mentioned[0]} and says there is no room"
    if mentioned:
        return mentioned[0], f"text mentions only {mentioned[0]}"
    if says_none:
        return NO_ROOM, "text says there is no room"
    return None, "no known room id in the answer"


def _from_json(text: str, ids: tuple[str, ...]) -> tuple[str | None, str] | None:
    """The last JSON object in the text that has a choice key (objects may sit inside prose or fences)."""
    decoder = json.JSONDecoder()
    found: tuple[str, Any] | None = None
    for match in re.finditer(r"\{", text):
        try:
            obj, _ = decoder.raw_decode(text, match.start())
        except (ValueError, RecursionError):
            continue
        if not isinstance(obj, dict):
            continue
        lowered = {str(k).casefold(): v for k, v in obj.items()}
        key = next((k for k in _CHOICE_KEYS if k in lowered), None)
        if key:
            found = (key, lowered[key])
    if found is None:
        return None
    key, value = found
    how = f"json field {key!r}"
    if value is None:
        return NO_ROOM, f"{how} is null, read as No Room"
    if isinstance(value, (dict, list)):
        return None, f"{how} is not a single value"
    return _resolve(str(value), ids, how)


def _from_final_line(text: str, ids: tuple[str, ...]) -> tuple[str | None, str] | None:
    lines = _FINAL_LINE.findall(text)
    if not lines:
        return None
    return _resolve(lines[-1], ids, "final_choice line")  # a model that revises itself means the last one


def _resolve(value: str, ids: tuple[str, ...], how: str) -> tuple[str | None, str]:
    """Map a structured answer value to a known id or No Room; an unknown value is kept as given."""
    cleaned = _clean(value)
    if not cleaned:
        return None, f"{how} is empty"
    known = _known(cleaned, ids)
    if known:
        return known, how
    if cleaned.casefold() in _NO_ROOM_VALUES:
        return NO_ROOM, how
    mentioned = _mentions(cleaned, ids)
    if len(mentioned) == 1 and not _NO_ROOM_PHRASE.search(cleaned):
        return mentioned[0], f"{how} mentions {mentioned[0]}"
    if len(mentioned) > 1:
        return None, f"ambiguous: {how} mentions {', '.join(mentioned)}"
    if not mentioned and _NO_ROOM_PHRASE.search(cleaned):
        return NO_ROOM, f"{how} says there is no room"
    # Kept verbatim so graders can report it as a room that does not exist.
    return cleaned, f"{how} names an unknown room"


def _clean(value: str) -> str:
    previous = None
    while value != previous:
        previous = value
        value = value.strip(_WRAPPING).rstrip(_TRAILING)
        if len(value) > 4 and value.startswith("__") and value.endswith("__"):
            value = value[2:-2]  # __bold__; lone underscores may belong to an id
    return value


def _known(value: str, ids: tuple[str, ...]) -> str | None:
    folded = value.casefold()
    return next((i for i in ids if i.casefold() == folded), None)


def _mentions(text: str, ids: tuple[str, ...]) -> list[str]:
    """Known ids appearing as whole tokens, in order of first appearance."""
    first_at: dict[str, int] = {}
    for room_id in ids:
        if not room_id:
            continue
        # Hyphens and word characters continue a token, so "R-1010" does not mention "R-101".
        match = re.search(rf"(?<![\w-]){re.escape(room_id)}(?![\w-])", text, re.IGNORECASE)
        if match:
            first_at[room_id] = match.start()
    return sorted(first_at, key=first_at.__getitem__)
