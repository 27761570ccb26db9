"""Reading the room listing out of a tool result, the way a model reads JSON it was given."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from .facts import Facts


class ListingError(ValueError):
    """The tool result holds no usable room list (bad JSON or an {"error": ...} reply)."""


@dataclass(frozen=True)
class Room:
    id: str
    position: int  # index in the tool result, the last tie-break
    capacity: float
    equipment: tuple[str, ...]
    accessible: bool
    distance_m: float
    bookings: tuple[tuple[str, str, float], ...]
    free: bool | None  # None when the result did not say

    def bookings_on(self, date: str | None) -> int:
        return sum(1 for booking in self.bookings if booking[0] == date)

    def extra_equipment(self, needs: tuple[str, ...]) -> int:
        return sum(1 for item in self.equipment if item not in needs)

    def is_free(self, facts: Facts) -> bool:
        """The listing's `free` flag, or else an overlap check against the bookings."""
        if self.free is not None:
            return self.free
        if facts.date is None or facts.time is None or facts.duration_min is None:
            return True  # nothing to check against, so nothing rules it out
        start = _minutes(facts.time)
        end = start + facts.duration_min
        for day, at, length in self.bookings:
            if day == facts.date and _minutes(at) < end and start < _minutes(at) + length:
                return False
        return True


def _minutes(hhmm: str) -> float:
    try:
        hours, minutes = hhmm.split(":")[:2]
        return int(hours) * 60 + int(minutes)
    except (ValueError, AttributeError):
        return math.nan  # comparisons with NaN are False, so a garbled booking never clashes


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _bookings(value: Any) -> tuple[tuple[str, str, float], ...]:
    out = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, (list, tuple)) and len(item) >= 3:
            out.append((str(item[0]), str(item[1]), _number(item[2], 0.0)))
        elif isinstance(item, dict):
            out.append((str(item.get("date")), str(item.get("time")), _number(item.get("duration_min"), 0.0)))
    return tuple(out)


def parse_listing(text: str) -> list[Room]:
    """Rooms from a tool result's JSON text; raises ListingError when there are none to read."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        raise ListingError("tool result is not JSON") from None
    if isinstance(data, dict) and "error" in data:
        raise ListingError(f"tool reported an error: {data['error']}")
    rooms = data.get("rooms") if isinstance(data, dict) else data
    if not isinstance(rooms, list):
        raise ListingError("tool result has no 'rooms' list")
    parsed = []
    for raw in rooms:
        if not isinstance(raw, dict) or raw.get("id") in (None, ""):
            continue  # a model skips entries it cannot name
        equipment = raw.get("equipment") if isinstance(raw.get("equipment"), list) else []
        free = raw.get("free")
        parsed.append(
            Room(
                id=str(raw["id"]),
                position=len(parsed),
                capacity=_number(raw.get("capacity"), 0.0),
                equipment=tuple(str(item).strip().lower() for item in equipment),
                accessible=raw.get("accessible") is True,
                distance_m=_number(raw.get("distance_m"), math.inf),
                bookings=_bookings(raw.get("bookings")),
                free=free if isinstance(free, bool) else None,
            )
        )
    return parsed
