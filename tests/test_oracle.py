"""The room oracle: worked examples for every house rule and tie-break, then its laws over generated offices."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from evals.rooms.oracle import (
    CONSTRAINTS,
    LEVELS,
    NO_ROOM,
    choose,
    deciding_level,
    feasible_rooms,
    is_free,
    overlaps,
    rank_key,
    violations,
)
from evals.rooms.request import RoomRequest
from evals.rooms.strategies import DATES, free_bookings, scenarios
from evals.rooms.world import Booking, Room, World

DAY = "2026-03-02"
NEXT_DAY = "2026-03-03"


def room(rid="R-1", capacity=4, equipment=(), accessible=True, distance_m=10, bookings=()):
    return Room(rid, capacity, tuple(equipment), accessible, distance_m, tuple(Booking(*b) for b in bookings))


def ask(time="10:00", duration=60, attendees=4, needs=(), accessible=False, date=DAY):
    return RoomRequest(date, time, duration, attendees, tuple(needs), accessible)


# --- availability ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "booking, expected_free",
    [
        ((DAY, "09:00", 60), True),  # ends exactly when the meeting starts
        ((DAY, "11:00", 30), True),  # starts exactly when the meeting ends
        ((DAY, "09:00", 61), False),  # one minute into the meeting
        ((DAY, "10:59", 5), False),  # last minute of the meeting
        ((DAY, "10:15", 15), False),  # inside the meeting
        ((DAY, "08:00", 240), False),  # swallows the meeting
        ((NEXT_DAY, "10:00", 60), True),  # same time, other date
    ],
)
def test_availability_uses_half_open_intervals_on_the_same_date(booking, expected_free):
    assert is_free(room(bookings=[booking]), ask("10:00", 60)) is expected_free


def test_meeting_past_midnight_is_not_wrapped_onto_the_next_date():
    late = ask("23:30", 60)
    assert is_free(room(bookings=[(NEXT_DAY, "00:00", 60)]), late)
    assert not is_free(room(bookings=[(DAY, "23:45", 10)]), late)


def test_booking_past_midnight_does_not_block_the_next_morning():
    assert is_free(room(bookings=[(DAY, "23:00", 180)]), ask("00:30", 30, date=NEXT_DAY))


@st.composite
def booking_and_meeting(draw):
    """Minutes (booking start, booking length, meeting start, meeting length), often touching or one minute apart."""
    m_start, m_len, b_len = draw(st.integers(0, 1439)), draw(st.integers(1, 300)), draw(st.integers(1, 300))
    # Where the booking sits relative to the meeting; random placement alone would rarely hit an edge.
    b_start = draw(st.sampled_from([
        m_start - b_len,  # ends exactly at the start
        m_start + m_len,  # starts exactly at the end
        m_start - b_len + 1,  # its last minute is the meeting's first
        m_start + m_len - 1,  # its first minute is the meeting's last
        draw(st.integers(0, 1439)),
    ]))
    assume(0 <= b_start <= 1439)
    return b_start, b_len, m_start, m_len


@settings(max_examples=300, deadline=None)
@example((0, 1, 1, 1))
@example((0, 2, 1, 1))
@example((5, 5, 0, 5))
@example((5, 5, 0, 6))
@example((100, 30, 90, 20))
@example((1430, 60, 1439, 1))
@given(booking_and_meeting())
def test_overlaps_agrees_with_counting_shared_minutes(case):
    b_start, b_len, m_start, m_len = case
    booking = Booking(DAY, f"{b_start // 60:02d}:{b_start % 60:02d}", b_len)
    shared = set(range(b_start, b_start + b_len)) & set(range(m_start, m_start + m_len))
    assert overlaps(booking, DAY, m_start, m_len) is bool(shared)
    assert overlaps(booking, NEXT_DAY, m_start, m_len) is False


# --- the other hard constraints ---------------------------------------------------------------


def test_capacity_equal_to_attendees_is_enough_and_one_short_is_not():
    assert violations(room(capacity=6), ask(attendees=6)) == ()
    assert violations(room(capacity=5), ask(attendees=6)) == ("capacity",)


def test_every_needed_item_must_be_present_and_extras_are_fine():
    kit = room(equipment=["projector", "whiteboard", "tv"])
    assert violations(kit, ask(needs=["projector", "whiteboard"])) == ()
    assert violations(kit, ask(needs=["projector", "videoconf"])) == ("equipment",)
    assert violations(kit, ask(needs=[])) == ()


def test_accessibility_matters_only_when_required():
    stairs_only = room(accessible=False)
    assert violations(stairs_only, ask(accessible=False)) == ()
    assert violations(stairs_only, ask(accessible=True)) == ("accessibility",)


def test_violations_lists_every_broken_constraint_in_fixed_order():
    bad = room(capacity=2, equipment=["tv"], accessible=False, bookings=[(DAY, "10:30", 30)])
    assert violations(bad, ask(attendees=3, needs=["projector"], accessible=True)) == CONSTRAINTS


# --- choosing and tie-breaks ----------------------------------------------------------------


def test_no_feasible_room_means_no_room():
    world = World((room("A", capacity=2), room("B", accessible=False)))
    req = ask(attendees=3, accessible=True)
    assert choose(world, req) == NO_ROOM
    assert deciding_level(world, req) == "none_feasible"


def test_single_feasible_room_wins_whatever_its_rank():
    world = World((room("A", capacity=30, equipment=["projector", "tv"], distance_m=120), room("B", equipment=["tv"])))
    req = ask(attendees=4, needs=["projector"])
    assert choose(world, req) == "A"
    assert deciding_level(world, req) == "only_one"


def test_slack_beats_everything_after_it():
    tight = room("TIGHT", capacity=4, equipment=["projector", "tv", "ledwall"], distance_m=100,
                 bookings=[(DAY, "08:00", 30), (DAY, "12:00", 30)])
    roomy = room("ROOMY", capacity=5, distance_m=1)
    world = World((roomy, tight))
    assert choose(world, ask(attendees=4)) == "TIGHT"
    assert deciding_level(world, ask(attendees=4)) == "slack"


def test_fewer_unneeded_items_wins_on_equal_slack():
    plain = room("PLAIN", equipment=["projector"], distance_m=90, bookings=[(DAY, "08:00", 30)])
    loaded = room("LOADED", equipment=["projector", "tv", "confphone"], distance_m=5)
    world = World((loaded, plain))
    req = ask(needs=["projector"])
    assert choose(world, req) == "PLAIN"
    assert deciding_level(world, req) == "extra_equipment"


def test_needed_items_do_not_count_as_extra():
    assert rank_key(room(equipment=["projector", "tv"]), ask(needs=["projector"]))[1] == 1
    assert rank_key(room(equipment=["projector", "tv"]), ask(needs=["projector", "tv"]))[1] == 0


def test_nearer_room_wins_on_equal_slack_and_equipment():
    world = World((room("FAR", distance_m=40), room("NEAR", distance_m=39, bookings=[(DAY, "08:00", 30)])))
    assert choose(world, ask()) == "NEAR"
    assert deciding_level(world, ask()) == "distance"


def test_fewer_bookings_that_day_wins_then_other_days_do_not_count():
    busy = room("A", bookings=[(DAY, "08:00", 30), (DAY, "15:00", 30)])
    quiet = room("B", bookings=[(DAY, "08:00", 30), (NEXT_DAY, "08:00", 30), (NEXT_DAY, "09:00", 30)])
    world = World((busy, quiet))
    assert choose(world, ask()) == "B"
    assert deciding_level(world, ask()) == "bookings"


def test_full_tie_goes_to_the_smallest_id_in_string_order_whatever_the_file_order():
    # "R-10" < "R-9" as strings: the rule is plain string order, not numeric order.
    twins = [room("R-9"), room("R-10")]
    for rooms in (twins, twins[::-1]):
        assert choose(World(tuple(rooms)), ask()) == "R-10"
        assert deciding_level(World(tuple(rooms)), ask()) == "id"


def test_deciding_level_compares_winner_with_runner_up_only():
    # C loses on slack, but A and B are only separated by distance.
    world = World((room("A", distance_m=5), room("B", distance_m=6), room("C", capacity=8)))
    assert choose(world, ask()) == "A"
    assert deciding_level(world, ask()) == "distance"


def test_infeasible_rooms_never_win_even_when_they_rank_better():
    world = World((room("BEST", bookings=[(DAY, "10:30", 15)]), room("OK", capacity=10)))
    assert choose(world, ask()) == "OK"
    assert [r.id for r in feasible_rooms(world, ask())] == ["OK"]


# --- laws over generated offices --------------------------------------------------------------
# Offices come from evals.rooms.strategies.scenarios, built around a request so that every edge
# category turns up. Building an office costs far more than judging it, so each test states
# several laws (each law once) about one drawn office.

OTHER_DATES = ("2026-04-01", "2026-04-02")
LAWS = settings(max_examples=100, deadline=None)


def with_room(world: World, index: int, new: Room) -> World:
    return World(world.rooms[:index] + (new,) + world.rooms[index + 1 :])


@LAWS
@given(scenarios())
def test_the_answer_is_feasible_no_room_means_nothing_fits_and_the_runner_up_takes_over(scenario):
    world, req = scenario.world, scenario.request
    choice = choose(world, req)
    feasible = [r for r in world.rooms if violations(r, req) == ()]
    assert (choice == NO_ROOM) == (not feasible), "No Room must mean exactly: no feasible room"
    level = deciding_level(world, req)
    assert level == {0: "none_feasible", 1: "only_one"}.get(len(feasible), level)
    if not feasible:
        return
    assert violations(world.room(choice), req) == (), "the chosen room must be feasible"
    assert len(feasible) == 1 or level in LEVELS
    # Taking the winner away hands the win to the next room by rank_key.
    rest = World(tuple(r for r in world.rooms if r.id != choice))
    others = [r for r in feasible if r.id != choice]
    runner_up = min(others, key=lambda r: rank_key(r, req)).id if others else NO_ROOM
    assert choose(rest, req) == runner_up, "without the winner, the next best by rank_key must win"


@LAWS
@given(scenarios(), st.data())
def test_changes_that_do_not_touch_the_rules_never_change_the_answer(scenario, data):
    world, req = scenario.world, scenario.request
    choice = choose(world, req)

    shuffled = data.draw(st.permutations(world.rooms), label="room order")
    assert choose(World(tuple(shuffled)), req) == choice, "room order in the file changed the answer"

    index = data.draw(st.integers(0, len(world.rooms) - 1), label="room given a booking on another date")
    target = world.rooms[index]
    date = data.draw(st.sampled_from([d for d in DATES + OTHER_DATES if d != req.date]), label="other date")
    extra = data.draw(free_bookings(target, date), label="booking")
    booked = with_room(world, index, replace(target, bookings=target.bookings + (extra,)))
    assert choose(booked, req) == choice, "a booking on another date changed the answer"

    losers = [i for i, r in enumerate(world.rooms) if r.id != choice]
    if not losers:
        return
    index = data.draw(st.sampled_from(losers), label="losing room given a booking that day")
    loser = world.rooms[index]
    extra = data.draw(free_bookings(loser, req.date), label="booking that day")
    busier = with_room(world, index, replace(loser, bookings=loser.bookings + (extra,)))
    assert choose(busier, req) == choice, "a booking in a room that did not win changed the answer"

    index = data.draw(st.sampled_from(losers), label="losing room moved")
    loser = world.rooms[index]
    farther = with_room(world, index, replace(loser, distance_m=loser.distance_m + data.draw(st.integers(1, 500))))
    assert choose(farther, req) == choice, "moving a losing room farther away changed the answer"
