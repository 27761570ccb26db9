"""The one tool the room agent may call: every room, its bookings, and whether it is free for a slot."""

from __future__ import annotations

from typing import Any

from evals.rooms.clock import is_date, minutes_of
from evals.rooms.errors import shown
from evals.rooms.oracle import is_free_at
from evals.rooms.world import World

TOOL_NAME = "get_rooms_and_availability"

TOOL_SPEC: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": (
            "List every meeting room with its capacity, equipment, wheelchair accessibility, "
            "walking distance in metres, all of its bookings, and whether it is free for the "
            "requested slot. Rooms are not filtered: you must decide which one fits."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "date": {"type": "string", "description": "Meeting date as YYYY-MM-DD, e.g. 2026-03-02."},
                "time": {"type": "string", "description": "Start time as HH:MM on a 24-hour clock, e.g. 14:30."},
                "duration_min": {"type": "integer", "description": "Meeting length in whole minutes, at least 1."},
            },
            "required": ["date", "time", "duration_min"],
            "additionalProperties": False,
        },
    },
}


class ToolArgumentError(ValueError):
    """The model called the tool with arguments it can correct; the message tells it how."""


def get_rooms_and_availability(
    world: World, date: Any = None, time: Any = None, duration_min: Any = None, **unexpected: Any
) -> dict[str, Any]:
    """Every room in file order with its details and `free` for [time, time + duration_min) on `date`."""
    # Defaults are None so a model that leaves an argument out gets a readable error, not a TypeError.
    if unexpected:
        raise ToolArgumentError(
            f"unknown argument(s) {', '.join(sorted(unexpected))}; pass only date, time and duration_min"
        )
    missing = [name for name, value in (("date", date), ("time", time), ("duration_min", duration_min)) if value is None]
    if missing:
        raise ToolArgumentError(f"missing argument(s) {', '.join(missing)}; pass date, time and duration_min")
    if not is_date(date):
        raise ToolArgumentError(f"date {shown(date)} is not a real date as YYYY-MM-DD; pass e.g. \"2026-03-02\"")
    start_min = minutes_of(time)
    if start_min is None:
        raise ToolArgumentError(f"time {shown(time)} is not HH:MM on a 24-hour clock; pass e.g. \"09:00\" or \"14:30\"")
    if not isinstance(duration_min, int) or isinstance(duration_min, bool) or duration_min < 1:
        raise ToolArgumentError(
            f"duration_min {shown(duration_min)} is not a whole number of minutes ≥ 1; pass an integer such as 60"
        )
    return {
        "rooms": [
            {
                "id": room.id,
                "capacity": room.capacity,
                "equipment": list(room.equipment),
                "accessible": room.accessible,
                "distance_m": room.distance_m,
                "bookings": [[b.date, b.start, b.duration_min] for b in room.bookings],
                "free": is_free_at(room, date, start_min, duration_min),
            }
            for room in world.rooms
        ]
    }
