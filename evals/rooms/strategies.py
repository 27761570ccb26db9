"""Hypothesis strategies for offices and room tasks that hit the house rules' edge cases.

`scenarios(category)` builds a whole office around a request (for oracle laws);
`edge_tasks(world, category)` draws tasks against a given office, such as the committed one;
`offices(tie)` draws an office-sized world for the optimizer benchmark (evals/rooms/offices.py).
A task's tags come from `categories`, which asks the oracle, never from the strategy that built it.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Callable, Sequence

from hypothesis import strategies as st

from replaygate import Task
from evals.rooms.oracle import LEVELS, choose, deciding_level, feasible_rooms, is_free_at, rank_key, violations
from evals.rooms.request import RoomRequest
from evals.rooms.world import NO_ROOM, Booking, Room, World

__all__ = [
    "CATEGORIES", "LONG_MIN", "CategoryUnreachable", "Scenario", "categories", "task_input", "task_id", "task_for",
    "bookings", "schedules", "free_bookings", "rooms", "worlds", "requests", "scenarios",
    "reachable_categories", "edge_requests", "edge_tasks",
    "TIE_STYLES", "office_dates", "workday", "offices",
]

# Every edge category a generated task can be tagged with, in tag order.
CATEGORIES = (
    "no_feasible", "only_one", "tie_slack", "tie_extra_equipment", "tie_distance", "tie_bookings", "tie_id",
    "capacity_equal", "booking_ends_at_start", "booking_starts_at_end", "overlap_one_minute",
    "accessibility_only", "empty_needs", "needs_unavailable", "long_duration", "empty_date",
)
LONG_MIN = 240  # a meeting this long counts as long_duration when it spans a whole booking

ITEMS = ("projector", "whiteboard", "tv", "videoconf", "confphone", "ledwall")
# Never given to a generated room, so asking for one leaves nothing feasible.
MISSING_ITEMS = ("piano", "hologram", "espresso")
# String order and numeric order disagree ("R-10" < "R-9"), which a full tie must respect.
ROOM_IDS = ("R-1", "R-2", "R-9", "R-10", "R-11", "R-100", "B", "a", "Z-1", "r-3")
DATES = ("2026-03-02", "2026-03-03", "2026-03-04")
DISTANCES = (5, 10, 20, 40, 80)
LENGTHS = (15, 30, 45, 60, 90, 120)
_LENGTH = st.sampled_from(LENGTHS)
_COUNT = st.integers(0, 3)


class CategoryUnreachable(ValueError):
    """The given office cannot produce a task of this category (no bookings, no twin rooms, ...)."""


# --- tags --------------------------------------------------------------------------------------


def categories(world: World, req: RoomRequest) -> tuple[str, ...]:
    """The edge categories `req` hits in `world`, recomputed from the oracle and the office's facts."""
    level = deciding_level(world, req)
    winner = choose(world, req)
    feasible = feasible_rooms(world, req)
    start, end = req.start_min, req.start_min + req.duration_min
    today = [(room, b) for room in world.rooms for b in room.bookings_on(req.date)]
    found = {{"none_feasible": "no_feasible", "only_one": "only_one"}.get(level, f"tie_{level}")}
    if winner != NO_ROOM and world.room(winner).capacity == req.attendees:
        found.add("capacity_equal")
    if any(b.end_min == start for room, b in today if room in feasible):
        found.add("booking_ends_at_start")
    if any(b.start_min == end for room, b in today if room in feasible):
        found.add("booking_starts_at_end")
    if any(violations(room, req) == ("availability",) and _shared_minutes(room, req) == 1 for room in world.rooms):
        found.add("overlap_one_minute")
    # Requiring step-free access changes the answer: without it another room (an inaccessible one) would win.
    if req.accessible_required and choose(world, replace(req, accessible_required=False)) != winner:
        found.add("accessibility_only")
    if not req.needs:
        found.add("empty_needs")
    if not any(set(req.needs) <= set(room.equipment) for room in world.rooms):
        found.add("needs_unavailable")
    if req.duration_min >= LONG_MIN and any(start <= b.start_min and b.end_min <= end for _, b in today):
        found.add("long_duration")
    if req.date not in world.dates:
        found.add("empty_date")
    return tuple(c for c in CATEGORIES if c in found)


def _shared_minutes(room: Room, req: RoomRequest) -> int:
    """Minutes of the meeting that the room's bookings that day cover (counted, not via the oracle)."""
    start, end = req.start_min, req.start_min + req.duration_min
    return sum(max(0, min(b.end_min, end) - max(b.start_min, start)) for b in room.bookings_on(req.date))


def task_input(req: RoomRequest) -> dict[str, Any]:
    """The `task_input` object of the suite's task format."""
    return {
        "date": req.date, "time": req.time, "duration_min": req.duration_min, "attendees": req.attendees,
        "needs": list(req.needs), "accessible_required": req.accessible_required,
    }


def task_id(data: dict[str, Any]) -> str:
    """`gen-` and 12 hex digits of the sha256 of the canonical JSON input: equal inputs, equal ids."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "gen-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def task_for(world: World, req: RoomRequest) -> Task:
    """A suite task for `req`: the oracle's answer in `world` as expected, its categories as tags."""
    data = task_input(req)
    return Task(id=task_id(data), input=data, expected=choose(world, req), tags=categories(world, req))


# --- building blocks ---------------------------------------------------------------------------


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(low: int, high: int) -> st.SearchStrategy[int]:
    """A minute of the day in [low, high]: usually on the quarter hour, where bookings meet, sometimes any."""
    quarters = st.integers(-(-low // 15), high // 15).map(lambda q: q * 15)
    return st.one_of(quarters, st.integers(low, high))


def _lengths(high: int) -> st.SearchStrategy[int]:
    """A duration in [1, high], preferring round lengths and the exact limit (a meeting that just fits)."""
    round_ones = [n for n in LENGTHS if n <= high]
    return st.one_of(st.sampled_from(round_ones + [high]), st.integers(1, high))


@st.composite
def bookings(draw, dates: Sequence[str] = DATES) -> Booking:
    """One booking on one of `dates`; put several in a room with `schedules`, which keeps them apart."""
    return Booking(draw(st.sampled_from(dates)), _hhmm(draw(_minutes(0, 1439))), draw(_LENGTH))


@st.composite
def _day(draw, date: str, lo: int, hi: int, count: int | None = None) -> tuple[Booking, ...]:
    """Bookings on `date` that leave [lo, hi) untouched and never overlap each other; `count` fixes how many."""
    points = [p for p in range(0, 1440, 15) if p < lo or p >= hi]
    count = min(draw(_COUNT) if count is None else count, len(points))
    if not count:
        return ()
    # Indices rather than sampled_from(points): Hypothesis caches integer strategies, not ones over fresh lists.
    picked = draw(st.lists(st.integers(0, len(points) - 1), min_size=count, max_size=count, unique=True))
    starts = sorted(points[i] for i in picked)
    day = []
    for index, start in enumerate(starts):
        limit = starts[index + 1] if index + 1 < len(starts) else None
        if start < lo:
            limit = lo if limit is None else min(limit, lo)
        length = draw(_LENGTH)
        day.append(Booking(date, _hhmm(start), length if limit is None else min(length, limit - start)))
    return tuple(day)


@st.composite
def schedules(draw, dates: Sequence[str] = DATES, keep_free: tuple[str, int, int] | None = None) -> tuple[Booking, ...]:
    """One room's bookings over `dates`, never overlapping; `keep_free=(date, start, end)` leaves that slot open."""
    found: list[Booking] = []
    for date in dates:
        lo, hi = (keep_free[1], keep_free[2]) if keep_free and keep_free[0] == date else (1440, 1440)
        found += draw(_day(date, lo, hi))
    return tuple(found)


def free_bookings(room: Room, date: str) -> st.SearchStrategy[Booking]:
    """A booking on `date` that fits between the room's existing bookings, so the room stays valid."""
    taken = sorted((b.start_min, b.end_min) for b in room.bookings_on(date))
    gaps, at = [], 0
    for start, end in taken:
        if start > at:
            gaps.append((at, start))
        at = max(at, end)
    if at <= 1439:
        gaps.append((at, None))  # the last booking may run past midnight, like any other

    @st.composite
    def inside(draw) -> Booking:
        lo, hi = draw(st.sampled_from(gaps))
        start = draw(st.integers(lo, (hi if hi is not None else 1440) - 1))
        return Booking(date, _hhmm(start), draw(_lengths(hi - start if hi is not None else 180)))

    return inside()


@st.composite
def rooms(draw, room_id: str, dates: Sequence[str] = DATES) -> Room:
    """Any room; narrow ranges on purpose, so offices have ties at every level."""
    return Room(
        id=room_id,
        capacity=draw(st.integers(1, 8)),
        equipment=tuple(draw(st.lists(st.sampled_from(ITEMS), max_size=3, unique=True))),
        accessible=draw(st.booleans()),
        distance_m=draw(st.sampled_from(DISTANCES)),
        bookings=draw(schedules(dates)),
    )


@st.composite
def worlds(draw, dates: Sequence[str] = DATES, max_rooms: int = 7) -> World:
    """Any valid office: unique ids, bookings that never overlap within a room."""
    ids = draw(st.lists(st.sampled_from(ROOM_IDS), min_size=1, max_size=max_rooms, unique=True))
    return World(tuple(draw(rooms(rid, dates)) for rid in ids))


@st.composite
def requests(draw, dates: Sequence[str] = DATES, items: Sequence[str] = ITEMS, max_attendees: int = 8) -> RoomRequest:
    """Any valid request on one of `dates`."""
    return RoomRequest(
        date=draw(st.sampled_from(dates)),
        time=_hhmm(draw(_minutes(0, 1439))),
        duration_min=draw(_lengths(600)),
        attendees=draw(st.integers(1, max_attendees)),
        needs=tuple(draw(st.lists(st.sampled_from(items), max_size=2, unique=True))) if items else (),
        accessible_required=draw(st.booleans()),
    )


# --- whole offices built around a request, one category at a time ---------------------------------


@dataclass(frozen=True)
class Scenario:
    """A generated office and a task in it."""

    world: World
    task: Task

    @property
    def request(self) -> RoomRequest:
        return RoomRequest.from_task(self.task)


@st.composite
def _scenario_request(draw, category: str) -> RoomRequest:
    # Outside long_duration the meeting sits between 01:00 and 23:50, so bookings fit on both sides of it.
    long = category == "long_duration"
    start = draw(_minutes(0, 1439) if long else _minutes(60, 1190))
    if category == "empty_needs":
        needs: tuple[str, ...] = ()
    elif category == "needs_unavailable":
        needs = tuple(draw(st.lists(st.sampled_from(ITEMS), max_size=1))) + (draw(st.sampled_from(MISSING_ITEMS)),)
    else:
        needs = tuple(draw(st.lists(st.sampled_from(ITEMS), max_size=2, unique=True)))
    return RoomRequest(
        date=draw(st.sampled_from(DATES)),
        time=_hhmm(start),
        duration_min=draw(st.integers(LONG_MIN, 720) if long else _lengths(240)),
        attendees=draw(st.integers(1, 6)),
        needs=needs,
        accessible_required=True if category == "accessibility_only" else draw(st.booleans()),
    )


@st.composite
def _fitting(draw, req: RoomRequest, room_id: str, *, slack: int | None = None, above: int = -1, extras: int | None = None,
             distance: int | None = None, today: int | None = None, accessible: bool | None = None,
             special: Booking | None = None) -> Room:
    """A room meeting every constraint of `req` (unless `special` or `accessible` says otherwise).

    The keyword arguments pin its rank_key (`above`: more spare seats than that); `special` is one
    more booking on the request's date.
    """
    start, end = req.start_min, req.start_min + req.duration_min
    spare = [item for item in ITEMS if item not in req.needs]
    count = draw(st.integers(0, 2)) if extras is None else extras
    extra_items = draw(st.lists(st.sampled_from(spare), min_size=count, max_size=count, unique=True))
    lo, hi = (min(start, special.start_min), max(end, special.end_min)) if special else (start, end)
    day = draw(_day(req.date, lo, hi, today)) + ((special,) if special else ())
    others = draw(schedules([d for d in DATES if d != req.date]))
    return Room(
        id=room_id,
        capacity=req.attendees + (draw(st.integers(above + 1, above + 3)) if slack is None else slack),
        equipment=tuple(req.needs) + tuple(extra_items),
        accessible=(True if req.accessible_required else draw(st.booleans())) if accessible is None else accessible,
        distance_m=draw(st.sampled_from(DISTANCES)) if distance is None else distance,
        bookings=day + others,
    )


@st.composite
def _blocked(draw, req: RoomRequest, room_id: str) -> Room:
    """A room breaking at least one hard constraint of `req`, chosen among those it can break."""
    possible = ["availability"]
    possible += ["capacity"] * (req.attendees > 1) + ["equipment"] * bool(req.needs)
    possible += ["accessibility"] * req.accessible_required
    broken = draw(st.sets(st.sampled_from(possible), min_size=1))
    start, end = req.start_min, req.start_min + req.duration_min
    day: tuple[Booking, ...] = ()
    if "availability" in broken:
        at = draw(st.integers(max(0, start - 90), min(end - 1, 1439)))
        length = draw(st.integers(max(1, start - at + 1), max(1, start - at + 1) + 120))
        hit = Booking(req.date, _hhmm(at), length)
        day = draw(_day(req.date, min(at, start), max(hit.end_min, end))) + (hit,)
    else:
        day = draw(_day(req.date, start, end))
    needs = list(req.needs)
    if "equipment" in broken:
        kept = draw(st.lists(st.sampled_from(needs), max_size=len(needs) - 1, unique=True))
        needs = kept + draw(st.lists(st.sampled_from([i for i in ITEMS if i not in needs]), max_size=2, unique=True))
    else:
        needs += draw(st.lists(st.sampled_from([i for i in ITEMS if i not in needs]), max_size=2, unique=True))
    return Room(
        id=room_id,
        capacity=draw(st.integers(1, req.attendees - 1) if "capacity" in broken else st.integers(req.attendees, req.attendees + 4)),
        equipment=tuple(item for item in needs if item in ITEMS),
        accessible=False if "accessibility" in broken else draw(st.booleans()) or req.accessible_required,
        distance_m=draw(st.sampled_from(DISTANCES)),
        bookings=day + draw(schedules([d for d in DATES if d != req.date])),
    )


def _others(req: RoomRequest, above: int = -1) -> st.SearchStrategy[list[Callable[[str], st.SearchStrategy[Room]]]]:
    """Up to four more rooms, each blocked, or fitting with more than `above` spare seats (so it ranks lower)."""
    kinds = st.sampled_from([lambda rid: _blocked(req, rid), lambda rid: _fitting(req, rid, above=above)])
    return st.lists(kinds, max_size=4)


@st.composite
def _tie(draw, req: RoomRequest, level: str) -> list[Callable[[str], st.SearchStrategy[Room]]]:
    """A winner and a runner-up equal on every rank_key level before `level` and apart on it."""
    slack, extras, distance, today = (draw(st.integers(0, 2)), draw(st.integers(0, 2)),
                                      draw(st.sampled_from(DISTANCES[:-1])), draw(st.integers(0, 2)))
    runner = {"slack": slack, "extras": extras, "distance": distance, "today": today}
    if level == "slack":
        runner = {"slack": slack + draw(st.integers(1, 2))}
    elif level == "extra_equipment":
        runner["extras"] = draw(st.integers(extras + 1, 3))
    elif level == "distance":
        runner["distance"] = draw(st.sampled_from([d for d in DISTANCES if d > distance]))
    elif level == "bookings":
        runner["today"] = draw(st.integers(today + 1, 3))
    winner = lambda rid: _fitting(req, rid, slack=slack, extras=extras, distance=distance, today=today)
    runner_up = lambda rid: _fitting(req, rid, **runner)
    return [winner, runner_up] + draw(_others(req, above=runner["slack"]))


@st.composite
def _edge_booking(draw, req: RoomRequest, category: str) -> Booking:
    """The one booking that puts a room on the edge the category names."""
    start, end = req.start_min, req.start_min + req.duration_min
    if category == "booking_ends_at_start":
        length = draw(_lengths(min(start, 240)))
        return Booking(req.date, _hhmm(start - length), length)
    if category == "booking_starts_at_end":
        return Booking(req.date, _hhmm(end), draw(_lengths(240)))
    if category == "overlap_one_minute":
        if draw(st.booleans()):  # ends one minute into the meeting
            length = draw(_lengths(min(start + 1, 240)))
            return Booking(req.date, _hhmm(start + 1 - length), length)
        return Booking(req.date, _hhmm(end - 1), draw(_lengths(240)))  # starts in its last minute
    # long_duration: a whole booking inside the meeting
    at = draw(st.integers(start, min(end - 1, 1439)))
    return Booking(req.date, _hhmm(at), draw(_lengths(end - at)))


@st.composite
def scenarios(draw, category: str | None = None) -> Scenario:
    """An office built around a request so that the request hits `category` (any category when None)."""
    if category is None:
        category = draw(st.sampled_from(CATEGORIES))
    elif category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; use one of {', '.join(CATEGORIES)}")
    req = draw(_scenario_request(category))
    # Rooms are built against what the office can offer; a missing item is added back below.
    offer = replace(req, needs=tuple(n for n in req.needs if n in ITEMS))
    if category == "no_feasible":
        plan = [lambda rid: _blocked(offer, rid)] * draw(st.integers(1, 5))
    elif category == "only_one":
        plan = [lambda rid: _fitting(offer, rid)] + [lambda rid: _blocked(offer, rid)] * draw(st.integers(0, 4))
    elif category.startswith("tie_"):
        plan = draw(_tie(offer, category[len("tie_"):]))
    elif category == "capacity_equal":
        plan = [lambda rid: _fitting(offer, rid, slack=0)] + draw(_others(offer))
    elif category == "accessibility_only":
        # The best room but for its stairs; every other fitting room has spare seats.
        plan = [lambda rid: _fitting(offer, rid, slack=0, accessible=False)] + draw(_others(offer, above=0))
    elif category in ("booking_ends_at_start", "booking_starts_at_end", "overlap_one_minute", "long_duration"):
        edge = draw(_edge_booking(offer, category))
        plan = [lambda rid: _fitting(offer, rid, special=edge, today=0)] + draw(_others(offer))
    else:  # empty_needs, needs_unavailable, empty_date: the request itself is the edge
        plan = [lambda rid: _fitting(offer, rid)] + draw(_others(offer))
    ids = draw(st.lists(st.sampled_from(ROOM_IDS), min_size=len(plan), max_size=len(plan), unique=True))
    if category == "tie_id":
        ids[:2] = sorted(ids[:2])  # everything else is equal, so the winner must have the smaller id
    built = [draw(make(rid)) for make, rid in zip(plan, ids)]
    if category == "empty_date":
        built = [replace(room, bookings=tuple(b for b in room.bookings if b.date != req.date)) for room in built]
    world = World(tuple(draw(st.permutations(built))))
    return Scenario(world, task_for(world, req))


# --- tasks against a given office ----------------------------------------------------------------

_STARTS = tuple(range(7 * 60, 20 * 60, 15))
_SPANS = (15, 30, 45, 60, 90, 120, 180, 240)
# Meeting starts that depend on the drawn length: it ends as the booking starts, or one minute into it.
_ENDS_AT_BOOKING, _LAST_MINUTE_IN_BOOKING = -1, -2
_RANKED = ("no_feasible", "only_one", "tie_slack", "tie_extra_equipment", "tie_distance", "tie_bookings", "tie_id",
           "capacity_equal", "accessibility_only")


Options = dict[str, list[tuple[bool, tuple[str, ...], int, int]]]


class _Office:
    """What a given office offers, worked out once: dates, items, needs to try, bookings and their neighbours."""

    def __init__(self, world: World):
        self.world = world
        booked = world.dates
        if booked:
            first, last = (datetime.date.fromisoformat(d) for d in (booked[0], booked[-1]))
            day = datetime.timedelta(days=1)
            candidates = [d.isoformat() for d in (last + day, first - day, last + 7 * day)] + ["2028-02-29"]
        else:
            candidates = list(DATES) + ["2028-02-29"]
        self.empty_dates = tuple(d for d in dict.fromkeys(candidates) if d not in booked)
        self.dates = booked + self.empty_dates
        kits = [set(room.equipment) for room in world.rooms]
        self.items = tuple(sorted(set().union(*kits)))
        pairs = [(a, b) for i, a in enumerate(self.items) for b in self.items[i + 1:]]
        self.needs = [()] + [(i,) for i in self.items] + [p for p in pairs if any(set(p) <= kit for kit in kits)]
        self.missing = [(m,) for m in MISSING_ITEMS if m not in self.items]
        self.missing += [p for p in pairs if not any(set(p) <= kit for kit in kits)]
        self.max_capacity = max(room.capacity for room in world.rooms)
        self.anchors = []  # (room, booking, end of the room's booking before it, start of the one after it)
        for room in world.rooms:
            for b in room.bookings:
                day_of = room.bookings_on(b.date)
                prev_end = max((o.end_min for o in day_of if o.end_min <= b.start_min and o is not b), default=0)
                next_start = min((o.start_min for o in day_of if o.start_min >= b.end_min and o is not b), default=None)
                self.anchors.append((room, b, prev_end, next_start))
        # Dates vary fastest, so a search from any slot soon reaches a date with no bookings.
        self.slots = [(date, start, span) for start in _STARTS for span in _SPANS for date in self.dates]
        self._options: dict[tuple[str, tuple[int, ...]], Options] = {}

    def booking_edges(self, category: str) -> list[tuple[Room, Booking, int, int]]:
        """(room, booking, meeting start, longest meeting that keeps the room otherwise free) for a booking edge.

        The start is a marker when it follows from the meeting's length, drawn later.
        """
        edges = []
        for room, b, prev_end, next_start in self.anchors:
            room_after = 240 if next_start is None else next_start - b.end_min
            if category == "booking_ends_at_start" and b.end_min <= 1439 and room_after >= 1:
                edges.append((room, b, b.end_min, room_after))
            elif category == "booking_starts_at_end" and b.start_min > prev_end:
                edges.append((room, b, _ENDS_AT_BOOKING, b.start_min - prev_end))
            elif category == "overlap_one_minute":
                if b.end_min - 1 <= 1439:  # starts in the booking's last minute
                    edges.append((room, b, b.end_min - 1, room_after + 1))
                edges.append((room, b, _LAST_MINUTE_IN_BOOKING, b.start_min + 1 - prev_end))
        return edges

    def slot_options(self, date: str, start: int, span: int) -> Options:
        """For one slot, every (accessible, needs, fewest, most attendees) that makes each ranked category happen."""
        free = tuple(i for i, room in enumerate(self.world.rooms) if is_free_at(room, date, start, span))
        if (date, free) not in self._options:  # many slots leave the same rooms free
            self._options[date, free] = self._ranked_options(date, [self.world.rooms[i] for i in free])
        return self._options[date, free]

    def _ranked_options(self, date: str, free: list[Room]) -> Options:
        # Sorting fitting rooms by rank_key does not depend on the head count, so a head count between
        # two capacities picks the winner and the runner-up, and their keys name the deciding level.
        options: Options = {c: [] for c in _RANKED}
        for accessible in (False, True):
            pool = [room for room in free if room.accessible or not accessible]
            for needs in self.needs:
                probe = RoomRequest(date, "00:00", 1, 1, needs, accessible)  # rank_key ignores time and length
                fitting = sorted((r for r in pool if set(needs) <= set(r.equipment)), key=lambda r: rank_key(r, probe))
                top = max((r.capacity for r in fitting), default=0)
                options["no_feasible"].append((accessible, needs, top + 1, top + 5))
                for index, room in enumerate(fitting):
                    below = fitting[index - 1].capacity if index else 0
                    if below == room.capacity:
                        continue  # only the first room of a capacity can win
                    if index + 1 == len(fitting):
                        level = "only_one"
                    else:
                        pairs = zip(LEVELS, rank_key(room, probe), rank_key(fitting[index + 1], probe))
                        level = "tie_" + next(name for name, a, b in pairs if a != b)
                    options[level].append((accessible, needs, below + 1, room.capacity))
                    options["capacity_equal"].append((accessible, needs, room.capacity, room.capacity))
                    if not room.accessible and not accessible:
                        options["accessibility_only"].append((True, needs, below + 1, room.capacity))
        return options


@lru_cache(maxsize=64)
def _office(world: World) -> _Office:
    return _Office(world)


@st.composite
def _ranked_request(draw, office: _Office, category: str) -> RoomRequest:
    slots, dates = office.slots, office.dates
    # Drawn field by field, so each is spread evenly; the search below then starts from that slot.
    at = (draw(st.sampled_from(range(len(_STARTS)))), draw(st.sampled_from(range(len(_SPANS)))),
          draw(st.sampled_from(range(len(dates)))))
    first = (at[0] * len(_SPANS) + at[1]) * len(dates) + at[2]
    # A bounded search from the drawn slot, not a filter: the first slot that offers the category is used.
    for step in range(len(slots)):
        date, start, span = slots[(first + step) % len(slots)]
        options = office.slot_options(date, start, span)[category]
        if options:
            break
    else:
        raise CategoryUnreachable(f"{category}: no slot of this office offers it")
    accessible, needs, fewest, most = draw(st.sampled_from(options))
    return RoomRequest(date, _hhmm(start), span, draw(st.integers(fewest, most)), needs, accessible)


@st.composite
def _around_booking(draw, office: _Office, category: str) -> RoomRequest:
    """Pick a booking and put the meeting on its edge; the room itself fits in every other way."""
    room, b, start, longest = draw(st.sampled_from(office.booking_edges(category)))
    length = draw(_lengths(longest))
    if start == _ENDS_AT_BOOKING:
        start = b.start_min - length
    elif start == _LAST_MINUTE_IN_BOOKING:
        start = b.start_min + 1 - length
    return RoomRequest(
        date=b.date,
        time=_hhmm(start),
        duration_min=length,
        attendees=draw(st.integers(1, room.capacity)),
        needs=tuple(draw(st.lists(st.sampled_from(room.equipment), max_size=2, unique=True))) if room.equipment else (),
        accessible_required=room.accessible and draw(st.booleans()),
    )


@st.composite
def _free_request(draw, office: _Office, category: str) -> RoomRequest:
    """A request whose own fields make the edge: long, on an empty date, with no needs or impossible ones."""
    dates = office.empty_dates if category == "empty_date" else office.dates
    if category == "long_duration":
        _, b, _, _ = draw(st.sampled_from(office.anchors))
        length = draw(st.integers(max(LONG_MIN, b.duration_min), max(LONG_MIN, b.duration_min) + 360))
        start = draw(st.integers(max(0, b.end_min - length), min(b.start_min, 1439)))
        date, time = b.date, _hhmm(start)
    else:
        date, time, length = draw(st.sampled_from(dates)), _hhmm(draw(_minutes(0, 1439))), draw(_lengths(240))
    if category == "empty_needs":
        needs: tuple[str, ...] = ()
    elif category == "needs_unavailable":
        needs = draw(st.sampled_from(office.missing))
    else:
        needs = tuple(draw(st.lists(st.sampled_from(office.items), max_size=2, unique=True))) if office.items else ()
    return RoomRequest(
        date=date,
        time=time,
        duration_min=length,
        attendees=draw(st.integers(1, office.max_capacity + 2)),
        needs=needs,
        accessible_required=draw(st.booleans()),
    )


@lru_cache(maxsize=64)
def reachable_categories(world: World) -> tuple[str, ...]:
    """The categories `edge_tasks` can draw in this office, found by construction rather than sampling."""
    office = _office(world)
    found = set()
    for slot in office.slots:
        found |= {c for c, options in office.slot_options(*slot).items() if options}
        if found >= set(_RANKED):
            break
    found |= {c for c in ("booking_ends_at_start", "booking_starts_at_end", "overlap_one_minute") if office.booking_edges(c)}
    found |= {"empty_needs"} | ({"long_duration"} if office.anchors else set())
    found |= ({"empty_date"} if office.empty_dates else set()) | ({"needs_unavailable"} if office.missing else set())
    return tuple(c for c in CATEGORIES if c in found)


def edge_requests(world: World, category: str) -> st.SearchStrategy[RoomRequest]:
    """Requests that hit `category` in `world`, built directly (a booking's end as the start time, ...)."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; use one of {', '.join(CATEGORIES)}")
    if category not in reachable_categories(world):
        raise CategoryUnreachable(f"{category}: this office cannot produce it; see reachable_categories")
    office = _office(world)
    if category in _RANKED:
        return _ranked_request(office, category)
    if category in ("booking_ends_at_start", "booking_starts_at_end", "overlap_one_minute"):
        return _around_booking(office, category)
    return _free_request(office, category)


def edge_tasks(world: World, category: str | None = None) -> st.SearchStrategy[Task]:
    """Suite tasks against `world` hitting `category`, or any category the office can produce when None."""
    if category is None:
        return st.sampled_from(reachable_categories(world)).flatmap(lambda c: edge_tasks(world, c))
    return edge_requests(world, category).map(lambda req: task_for(world, req))


# --- whole offices for benchmarks: office-sized, their own dates, one tie structure each -----------

# What usually separates twin rooms (same capacity and kit) in an office: the level of the house
# rules, or step-free access (a feasibility rule), that decides between them.
TIE_STYLES = ("distance", "extra_equipment", "bookings", "id", "accessibility", "slack")
OFFICE_CAPACITIES = (2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 20, 24, 30)
# "M-2-9" sorts after "M-2-10" as a string, so id ties in the second scheme go against numeric order.
ID_SCHEMES = ("{prefix}-{floor}{number:02d}", "{prefix}-{floor}-{number}")
ID_PREFIXES = ("R", "M", "C", "K", "Q")
_WORKDAY_STARTS = tuple(range(7 * 60, 19 * 60, 15))
_WORKDAY_LENGTHS = (15, 30, 45, 60, 90, 120, 180)
_FIRST_MONDAY = datetime.date(2026, 1, 5)


@st.composite
def office_dates(draw) -> tuple[str, ...]:
    """Two to four consecutive working days somewhere in 2026-2027 (the committed office uses 2026-03-02..04)."""
    first = _FIRST_MONDAY + datetime.timedelta(weeks=draw(st.integers(0, 100)), days=draw(st.integers(0, 2)))
    return tuple((first + datetime.timedelta(days=n)).isoformat() for n in range(draw(st.integers(2, 4))))


@st.composite
def workday(draw, date: str, count: int) -> tuple[Booking, ...]:
    """`count` bookings on `date` between 07:00 and 21:00, never overlapping; now and then off the quarter hour."""
    if not count:
        return ()
    picked = draw(st.lists(st.integers(0, len(_WORKDAY_STARTS) - 1), min_size=count, max_size=count, unique=True))
    starts = sorted(_WORKDAY_STARTS[i] + draw(st.sampled_from((0, 0, 0, 5))) for i in picked)
    day = []
    for index, start in enumerate(starts):
        room_left = starts[index + 1] - start if index + 1 < len(starts) else 21 * 60 - start
        day.append(Booking(date, _hhmm(start), min(draw(st.sampled_from(_WORKDAY_LENGTHS)), room_left)))
    return tuple(day)


@st.composite
def _office_schedule(draw, dates: Sequence[str], counts: Sequence[int] | None = None) -> tuple[Booking, ...]:
    """A room's bookings over `dates`: `counts` per date when given (twins booked as often), else 0-4 each."""
    found: list[Booking] = []
    for index, date in enumerate(dates):
        found += draw(workday(date, draw(st.integers(0, 4)) if counts is None else counts[index]))
    return tuple(found)


@st.composite
def _twin(draw, base: Room, room_id: str, style: str, dates: Sequence[str], distances: Sequence[int]) -> Room:
    """A room like `base` that differs only where `style` says, so the two tie until that level."""
    counts = [len(base.bookings_on(d)) for d in dates]
    twin = replace(base, id=room_id, bookings=draw(_office_schedule(dates, counts)))
    if style == "distance":
        return replace(twin, distance_m=draw(st.sampled_from([d for d in distances if d != base.distance_m])))
    if style == "extra_equipment":
        spare = [item for item in ITEMS if item not in base.equipment]
        return replace(twin, equipment=base.equipment + (draw(st.sampled_from(spare)),)) if spare else twin
    if style == "bookings":
        return replace(twin, bookings=draw(_office_schedule(dates)))
    if style == "accessibility":
        return replace(twin, accessible=not base.accessible)
    if style == "slack":
        return replace(twin, capacity=base.capacity + draw(st.integers(1, 2)))
    return twin  # "id": everything equal, booked as often on every date


@st.composite
def offices(draw, tie: str | None = None) -> World:
    """An office the size of the committed one (8-20 rooms) on its own dates, built from families of twin rooms.

    `tie` (one of TIE_STYLES; drawn when None) is what separates the twins of every family.
    """
    style = draw(st.sampled_from(TIE_STYLES)) if tie is None else tie
    if style not in TIE_STYLES:
        raise ValueError(f"unknown tie style {style!r}; use one of {', '.join(TIE_STYLES)}")
    dates = draw(office_dates())
    scheme, prefix = draw(st.sampled_from(ID_SCHEMES)), draw(st.sampled_from(ID_PREFIXES))
    # A few distances shared across the office, so rooms of different families can tie on distance too.
    distances = sorted(draw(st.lists(st.integers(3, 150), min_size=3, max_size=6, unique=True)))
    capacities = sorted(draw(st.lists(st.sampled_from(OFFICE_CAPACITIES), min_size=5, max_size=8)))
    built: list[Room] = []
    for floor, capacity in enumerate(capacities, start=1):
        family = draw(st.integers(1, 3))
        numbers = sorted(draw(st.lists(st.integers(1, 30), min_size=family, max_size=family, unique=True)))
        ids = [scheme.format(prefix=prefix, floor=floor, number=n) for n in numbers]
        base = Room(
            id=ids[0],
            capacity=capacity,
            equipment=tuple(draw(st.lists(st.sampled_from(ITEMS), max_size=4, unique=True))),
            accessible=draw(st.booleans()),
            distance_m=draw(st.sampled_from(distances)),
            bookings=draw(_office_schedule(dates)),
        )
        built.append(base)
        built += [draw(_twin(base, room_id, style, dates, distances)) for room_id in ids[1:]]
    return World(tuple(built))
