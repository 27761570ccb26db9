"""Reading the meeting request's facts (date, time, size, needs, access) out of prompt text."""

from __future__ import annotations

import re
from dataclasses import dataclass

_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
# Lookarounds keep "2026-03-02T10:30:00" style stamps and ratios like "1:2:3" from half-matching.
_TIME = re.compile(r"(?<![\d:])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])")
_MINUTES = re.compile(r"\b(\d{1,4})\s*-?\s*(?:minutes?|mins?|min)\b", re.IGNORECASE)
_HOURS = re.compile(r"\b(\d{1,2}(?:\.\d+)?)\s*-?\s*(?:hours?|hrs?)\b", re.IGNORECASE)
_DURATION_FIELD = re.compile(r"\bduration(?:_min)?\s*[:=]\s*(\d{1,4})\b", re.IGNORECASE)
_ATTENDEES = re.compile(
    r"\b(\d{1,4})\s+(?:attendees?|people|participants?|persons?|guests?|ppl|heads)\b", re.IGNORECASE
)
_ATTENDEES_FIELD = re.compile(r"\b(?:attendees|participants|headcount|people)\s*[:=]\s*(\d{1,4})\b", re.IGNORECASE)
_NEEDS = re.compile(
    r"\b(?:needs|(?:required|needed)\s+equipment|equipment\s+(?:needed|required))\s*:\s*([^.\n]*)", re.IGNORECASE
)
_NO_NEEDS = {"", "none", "nothing", "n/a", "na", "-", "no", "no equipment", "[]"}
_ACCESS_FIELD = re.compile(
    r"\baccessib(?:le|ility)(?:\s+[\w-]+){0,2}\s*[:=]\s*(true|yes|required|needed|false|no|not\s+required|none)\b",
    re.IGNORECASE,
)
_ACCESS_PHRASE = re.compile(
    r"\b(?:needs?|requires?|requiring|must\s+have)\s+(?:an?\s+)?(?:wheelchair[-\s]+)?accessible\s+room\b", re.IGNORECASE
)


@dataclass(frozen=True)
class Facts:
    """What the prompt says about the meeting; None means the prompt did not say."""

    date: str | None = None
    time: str | None = None
    duration_min: int | None = None
    attendees: int | None = None
    needs: tuple[str, ...] = ()
    accessible_required: bool | None = None

    def key(self) -> list[object]:
        """A JSON-friendly fingerprint used to key the simulator's draws."""
        return [self.date, self.time, self.duration_min, self.attendees, sorted(self.needs), self.accessible_required]

    def tool_arguments(self) -> dict[str, object]:
        """Arguments for the room lookup; unknown facts are left out, as a model would."""
        args: dict[str, object] = {}
        if self.date is not None:
            args["date"] = self.date
        if self.time is not None:
            args["time"] = self.time
        if self.duration_min is not None:
            args["duration_min"] = self.duration_min
        return args


def _split_needs(raw: str) -> tuple[str, ...]:
    items = [part.strip(" \t'\"`[]()").lower() for part in re.split(r",|;|\band\b|&", raw)]
    return tuple(item for item in items if item and item not in _NO_NEEDS)


def _needs(text: str) -> tuple[str, ...]:
    matches = list(_NEEDS.finditer(text))
    # Instruction prose can also say "needs:"; the task's list is the one made of short items.
    for match in matches:
        items = _split_needs(match.group(1))
        if all(len(item.split()) <= 3 for item in items):
            return items
    return _split_needs(matches[0].group(1)) if matches else ()


def _accessible(text: str) -> bool | None:
    match = _ACCESS_FIELD.search(text)
    if match:
        return match.group(1).lower() in {"true", "yes", "required", "needed"}
    if _ACCESS_PHRASE.search(text):
        return True
    return None


def _duration(text: str) -> int | None:
    for pattern, scale in ((_DURATION_FIELD, 1), (_MINUTES, 1), (_HOURS, 60)):
        match = pattern.search(text)
        if match:
            return int(round(float(match.group(1)) * scale))
    return None


def _attendees(text: str) -> int | None:
    match = _ATTENDEES.search(text) or _ATTENDEES_FIELD.search(text)
    return int(match.group(1)) if match else None


def extract_facts(text: str) -> Facts:
    """Pull the meeting facts out of free prompt text, tolerating rewordings."""
    date = _DATE.search(text)
    time = _TIME.search(text)
    return Facts(
        date=date.group(0) if date else None,
        time=f"{int(time.group(1)):02d}:{time.group(2)}" if time else None,
        duration_min=_duration(text),
        attendees=_attendees(text),
        needs=_needs(text),
        accessible_required=_accessible(text),
    )
