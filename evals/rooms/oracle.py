"""The house rules for picking a meeting room: which rooms are feasible and which one wins.

Times are minutes since midnight of one date. A meeting occupies [start, start + duration);
when that runs past 24:00 it is NOT wrapped onto the next date: it is checked only against
bookings on its own date (bookings likewise never spill into the next date).
"""

from __future__ import annotations

from evals.rooms.request import RoomRequest
from evals.rooms.world import NO_ROOM, Booking, Room, World

__all__ = [
    "NO_ROOM", "CONSTRAINTS", "LEVELS", "overlaps", "is_free_at", "is_free", "violations", "is_feasible",
    "feasible_rooms", "rank_key", "ranked", "choose", "deciding_level",
]
CONSTRAINTS = ("availability", "capacity", "equipment", "accessibility")
# Tie-break levels in rank_key order; "id" is the last resort once everything else is equal.
LEVELS = ("slack", "extra_equipment", "distance", "bookings", "id")


def overlaps(booking: Booking, date: str, start_min: int, duration_min: int) -> bool:
    """True when the booking shares at least one minute with [start, start + duration) on `date`."""
    if booking.date != date:
        return False
    # Half-open intervals: a booking ending at 10:00 leaves a 10:00 meeting free.
    return booking.start_min < start_min + duration_min and start_min < booking.end_min


def is_free_at(room: Room, date: str, start_min: int, duration_min: int) -> bool:
    """True when no booking of the room overlaps the slot."""
    return not any(overlaps(b, date, start_min, duration_min) for b in room.bookings)


def is_free(room: Room, req: RoomRequest) -> bool:
    return is_free_at(room, req.date, req.start_min, req.duration_min)


def violations(room: Room, req: RoomRequest) -> tuple[str, ...]:
    """The hard constraints (names from CONSTRAINTS, in that order) this room breaks for the request."""
    broken = {
        "availability": not is_free(room, req),
        "capacity": room.capacity < req.attendees,
        "equipment": not set(req.needs) <= set(room.equipment),
        "accessibility": req.accessible_required and not room.accessible,
    }
    return tuple(name for name in CONSTRAINTS if broken[name])


def is_feasible(room: Room, req: RoomRequest) -> bool:
    return not violations(room, req)


def feasible_rooms(world: World, req: RoomRequest) -> tuple[Room, ...]:
    """Feasible rooms in file order."""
    return tuple(r for r in world.rooms if is_feasible(r, req))


def rank_key(room: Room, req: RoomRequest) -> tuple[int, int, int, int, str]:
    """Smaller is better: spare seats, unneeded equipment, distance, bookings that day, then id.

    The id is compared as a plain string, so a full tie goes to the id that sorts first
    ("R-10" before "R-9"); the result never depends on the order of rooms in the file.
    """
    return (
        room.capacity - req.attendees,
        len(set(room.equipment) - set(req.needs)),
        room.distance_m,
        len(room.bookings_on(req.date)),
        room.id,
    )


def ranked(world: World, req: RoomRequest) -> tuple[Room, ...]:
    """Feasible rooms, best first."""
    return tuple(sorted(feasible_rooms(world, req), key=lambda r: rank_key(r, req)))


def choose(world: World, req: RoomRequest) -> str:
    """The id of the best feasible room, or NO_ROOM when none is feasible."""
    best = ranked(world, req)
    return best[0].id if best else NO_ROOM


def deciding_level(world: World, req: RoomRequest) -> str:
    """Which rule separated the winner from the runner-up: "none_feasible", "only_one" or a LEVELS name."""
    best = ranked(world, req)
    if not best:
        return "none_feasible"
    if len(best) == 1:
        return "only_one"
    winner, runner_up = rank_key(best[0], req), rank_key(best[1], req)
    # Room ids are unique, so the keys always differ at some level.
    return next(level for level, a, b in zip(LEVELS, winner, runner_up) if a != b)
