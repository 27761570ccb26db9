"""Each phrasebook family recognises its phrasings and stays quiet on the bare task sentence."""

from __future__ import annotations

import pytest

from evals.sim.phrasebook import DATA_FILE, FAMILIES, Phrasebook, default_phrasebook

BARE_TASKS = [
    "Find a room on 2026-03-02 at 10:30 for 45 minutes, 6 attendees. Needs: projector, whiteboard. Accessible required: True",
    "Find a room on 2026-03-05 at 9:00 for 30 minutes, 2 attendees. Needs: none. Accessible required: False",
    "Find a room on 2026-04-11 at 16:15 for 120 minutes, 14 attendees. Needs: video conferencing, display. Accessible required: True",
]

PHRASINGS = {
    "availability": [
        "The room must be free for the whole slot.",
        "Pick a room that is not already booked.",
        "There must be no overlapping booking.",
        "It should be available for the entire meeting.",
        "Only consider rooms that are free.",
        "Check the availability first.",
    ],
    "capacity": [
        "Require capacity >= attendees.",
        "capacity at least the number of attendees",
        "The room needs enough seats for everyone.",
        "It has to fit all attendees.",
        "Capacity must be no less than the number of participants.",
        "Make sure it is large enough for the whole group.",
    ],
    "equipment": [
        "The room has every needed item.",
        "It must provide all required equipment.",
        "The room must include all the needs.",
        "Needs ⊆ equipment.",
        "with all of the requested features",
    ],
    "accessibility": [
        "Accessible when required.",
        "The room must be accessible if accessibility is requested.",
        "Choose a wheelchair accessible room.",
        "Respect the accessibility requirement.",
        "It must be wheelchair-accessible whenever needed.",
    ],
    "tiebreak_slack": [
        "Prefer the smallest capacity surplus.",
        "Pick the room with the fewest spare seats.",
        "Minimize capacity - attendees.",
        "Minimise (capacity - attendees).",
        "Go for the tightest fit.",
    ],
    "tiebreak_extra_equipment": [
        "Prefer the fewest extra equipment items.",
        "Choose the room with the least unneeded equipment.",
        "Minimise the number of unnecessary items.",
    ],
    "tiebreak_distance": [
        "Prefer the nearest room.",
        "Take the closest one.",
        "Shortest distance wins.",
        "Minimize distance_m.",
    ],
    "tiebreak_bookings": [
        "Prefer the room with the fewest bookings that day.",
        "Choose the least booked room.",
        "Pick the one with the fewest booked blocks.",
        "Minimise the number of reservations.",
    ],
    "single_tool_call": [
        "Call the tool only once.",
        "Do not repeat the tool call.",
        "Make exactly one tool call.",
        "Don't call the tool again.",
        "Use a single function call.",
    ],
    "answer_format": [
        "Reply with only the room id.",
        "Answer with just the room ID.",
        "final_choice: <room id>",
        "Respond only with the identifier.",
        "Return only the room name.",
    ],
    "no_room_answer": [
        'If nothing fits, answer "No Room".',
        "If no room fits, say No Room.",
        "Reply No Room if none qualifies.",
        "Respond with 'No Room' when no candidate remains.",
    ],
}


@pytest.fixture(scope="module")
def book() -> Phrasebook:
    return default_phrasebook()


def test_every_family_is_covered_here(book):
    assert set(PHRASINGS) == set(FAMILIES) == set(book.families)


@pytest.mark.parametrize("family", FAMILIES)
def test_family_matches_its_phrasings(book, family):
    for phrase in PHRASINGS[family]:
        assert book.asks(family, phrase), f"{family} should match {phrase!r}"
        assert book.asks(family, phrase.upper()), "matching is case-insensitive"


@pytest.mark.parametrize("family", FAMILIES)
def test_family_is_silent_on_the_bare_task(book, family):
    for task in BARE_TASKS:
        assert not book.asks(family, task)
        assert book.first_position(family, task) is None


def test_families_do_not_bleed_into_each_other(book):
    assert not book.asks("tiebreak_distance", "Go for the tightest fit, the closest fit to the headcount.")
    assert not book.asks("answer_format", "Return only rooms that are free.")
    assert not book.asks("no_room_answer", "If there is no room with enough seats, pick the biggest.")


def test_first_position_is_the_earliest_match(book):
    text = "First the nearest room; later on, the closest one again."
    assert book.first_position("tiebreak_distance", text) == text.index("nearest")
    assert book.first_position("capacity", text) is None


def test_unknown_family_is_a_clear_error(book):
    with pytest.raises(KeyError, match="unknown phrasebook family"):
        book.asks("vibes", "anything")


def test_data_file_documents_every_family():
    lines = DATA_FILE.read_text(encoding="utf-8").splitlines()
    for family in FAMILIES:
        header = lines.index(f"[{family}]")
        assert lines[header - 1].startswith(f"# {family}:"), f"[{family}] needs a comment line just above it"


def test_a_broken_phrasebook_is_rejected(tmp_path):
    bad = tmp_path / "book.toml"
    bad.write_text("[availability]\nphrasings = ['(unclosed']\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing phrasebook families"):
        Phrasebook.from_toml(bad)
    full = "\n".join(f"[{f}]\nphrasings = ['x{f}']" for f in FAMILIES) + "\n[capacity_bad]\nphrasings = ['(']\n"
    bad.write_text(full, encoding="utf-8")
    with pytest.raises(ValueError, match="bad regex"):
        Phrasebook.from_toml(bad)
