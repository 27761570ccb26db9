"""The office: rooms with their capacity, equipment, access, distance and bookings, read from JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from replaygate import read_input
from evals.rooms.clock import is_date, minutes_of
from evals.rooms.errors import RoomsFileError, shown

__all__ = ["Booking", "Room", "World", "RoomsFileError", "load_world", "parse_world", "NO_ROOM"]

NO_ROOM = "No Room"  # the answer when nothing fits, so no room may carry this id

_FIX = "fix the rooms file"


@dataclass(frozen=True)
class Booking:
    date: str
    start: str
    duration_min: int

    @property
    def start_min(self) -> int:
        return minutes_of(self.start)  # type: ignore[return-value]  # validated at load

    @property
    def end_min(self) -> int:
        """Minutes since midnight of the booking's date; may exceed 1440, nothing wraps."""
        return self.start_min + self.duration_min


@dataclass(frozen=True)
class Room:
    id: str
    capacity: int
    equipment: tuple[str, ...]
    accessible: bool
    distance_m: int
    bookings: tuple[Booking, ...] = ()

    def bookings_on(self, date: str) -> tuple[Booking, ...]:
        return tuple(b for b in self.bookings if b.date == date)


@dataclass(frozen=True)
class World:
    rooms: tuple[Room, ...]

    def room(self, room_id: str) -> Room | None:
        return next((r for r in self.rooms if r.id == room_id), None)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rooms)

    @property
    def dates(self) -> tuple[str, ...]:
        """Every date that has at least one booking, sorted."""
        return tuple(sorted({b.date for r in self.rooms for b in r.bookings}))


def load_world(path: str | Path) -> World:
    """Read and validate a rooms file `{"rooms": [...]}`; every problem raises RoomsFileError."""
    path = Path(path)
    text = read_input(path, RoomsFileError, "rooms file", "check the path or create the file", "JSON",
                      source="the rooms setting")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RoomsFileError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); {_FIX}"
        ) from None
    return parse_world(data, str(path))


def parse_world(data: Any, where: str) -> World:
    """Validate already-decoded rooms JSON; `where` names the source in error messages."""
    if not isinstance(data, dict) or "rooms" not in data:
        raise RoomsFileError(f'{where}: expected a JSON object with a "rooms" list, got {shown(data)}; {_FIX}')
    raw_rooms = data["rooms"]
    if not isinstance(raw_rooms, list):
        raise RoomsFileError(f'{where}: "rooms" must be a list of room objects, got {shown(raw_rooms)}; {_FIX}')
    if not raw_rooms:
        raise RoomsFileError(f'{where}: "rooms" is empty; add at least one room')
    rooms: list[Room] = []
    # By case-folded id: graders compare answers to ids without regard to case, so R-101 and r-101 would collide.
    first_seen: dict[str, tuple[int, str]] = {}
    for number, raw in enumerate(raw_rooms, start=1):
        room = _parse_room(raw, f"{where}: room #{number}", where)
        earlier = first_seen.get(room.id.casefold())
        if earlier is not None:
            same = "" if earlier[1] == room.id else f" (as {earlier[1]!r}; ids are compared regardless of case)"
            raise RoomsFileError(
                f"{where}: room {room.id!r}: id used by rooms #{earlier[0]}{same} and #{number}; "
                "give every room a unique id"
            )
        first_seen[room.id.casefold()] = (number, room.id)
        rooms.append(room)
    return World(rooms=tuple(rooms))


def _parse_room(raw: Any, at_position: str, where: str) -> Room:
    if not isinstance(raw, dict):
        raise RoomsFileError(f"{at_position}: expected a room object, got {shown(raw)}; {_FIX}")
    room_id = raw.get("id")
    if not isinstance(room_id, str) or not room_id.strip() or room_id != room_id.strip():
        raise RoomsFileError(
            f'{at_position}: "id" must be a non-empty string without surrounding spaces, got {shown(room_id)}; {_FIX}'
        )
    if room_id.casefold() == NO_ROOM.casefold():
        raise RoomsFileError(f"{at_position}: id {room_id!r} is reserved for the no-room answer; rename the room")
    at = f"{where}: room {room_id!r}"

    capacity = _required(raw, "capacity", at)
    if not _is_whole(capacity) or capacity < 1:
        raise RoomsFileError(f"{at}: capacity must be a whole number ≥ 1, got {shown(capacity)}; {_FIX}")
    distance = _required(raw, "distance_m", at)
    if not _is_whole(distance) or distance < 0:
        raise RoomsFileError(f"{at}: distance_m must be a whole number of metres ≥ 0, got {shown(distance)}; {_FIX}")
    accessible = _required(raw, "accessible", at)
    if not isinstance(accessible, bool):
        raise RoomsFileError(f"{at}: accessible must be true or false, got {shown(accessible)}; {_FIX}")
    equipment = _parse_equipment(_required(raw, "equipment", at), at)

    if "bookings" in raw and "booked" in raw:
        raise RoomsFileError(f'{at}: has both "bookings" and "booked" (its alias); keep one of them')
    key = "booked" if "booked" in raw else "bookings"
    raw_bookings = _required(raw, key, at)
    if not isinstance(raw_bookings, list):
        raise RoomsFileError(f"{at}: {key} must be a list (may be empty), got {shown(raw_bookings)}; {_FIX}")
    bookings = tuple(_parse_booking(b, f"{at}: booking #{n}") for n, b in enumerate(raw_bookings, start=1))
    _refuse_overlaps(bookings, at)
    return Room(
        id=room_id,
        capacity=capacity,
        equipment=equipment,
        accessible=accessible,
        distance_m=distance,
        bookings=bookings,
    )


def _required(raw: dict, key: str, at: str) -> Any:
    if key not in raw:
        raise RoomsFileError(f'{at}: missing "{key}"; add it to the room')
    return raw[key]


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON true is not a count


def _parse_equipment(value: Any, at: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise RoomsFileError(f"{at}: equipment must be a list of item names, got {shown(value)}; {_FIX}")
    # Names compare case-insensitively, so "Projector" in a room matches "projector" in a task.
    items = tuple(item.strip().lower() for item in value)
    duplicates = sorted({item for item in items if items.count(item) > 1})
    if duplicates:
        raise RoomsFileError(f"{at}: equipment lists {', '.join(duplicates)} more than once; list each item once")
    return items


def _parse_booking(raw: Any, at: str) -> Booking:
    if isinstance(raw, list) and len(raw) == 3:
        date, start, duration = raw
    elif isinstance(raw, dict) and set(raw) == {"date", "start", "duration_min"}:
        date, start, duration = raw["date"], raw["start"], raw["duration_min"]
    else:
        raise RoomsFileError(
            f'{at}: expected ["YYYY-MM-DD", "HH:MM", minutes] or {{"date", "start", "duration_min"}}, '
            f"got {shown(raw)}; {_FIX}"
        )
    if not is_date(date):
        raise RoomsFileError(f"{at}: date must be a real date YYYY-MM-DD, got {shown(date)}; {_FIX}")
    if minutes_of(start) is None:
        raise RoomsFileError(f"{at}: start must be a time HH:MM between 00:00 and 23:59, got {shown(start)}; {_FIX}")
    if not _is_whole(duration) or duration < 1:
        raise RoomsFileError(f"{at}: duration must be a whole number of minutes ≥ 1, got {shown(duration)}; {_FIX}")
    return Booking(date=date, start=start, duration_min=duration)


def _refuse_overlaps(bookings: tuple[Booking, ...], at: str) -> None:
    # A room cannot be booked twice at once; an overlap is almost always a typo in the file.
    ordered = sorted(bookings, key=lambda b: (b.date, b.start_min))
    for earlier, later in zip(ordered, ordered[1:]):
        if earlier.date == later.date and later.start_min < earlier.end_min:
            raise RoomsFileError(
                f"{at}: bookings on {earlier.date} at {earlier.start} ({earlier.duration_min} min) "
                f"and {later.start} overlap; {_FIX}"
            )
