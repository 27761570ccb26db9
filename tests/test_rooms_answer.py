"""Reading the room agent's final answer into a choice."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evals.rooms.answer import parse_choice

IDS = ("R-101", "R-102", "R-204", "R-1010", "Board-A")


@pytest.mark.parametrize(
    "text, choice, how",
    [
        # structured: JSON objects, anywhere in the text
        ('{"choice": "R-101"}', "R-101", "json field 'choice'"),
        ('{"room": "r-204", "reason": "fits"}', "R-204", "json field 'room'"),
        ('{"room_id": "R-102"}', "R-102", "json field 'room_id'"),
        ('{"final_choice": "No Room"}', "No Room", "json field 'final_choice'"),
        ('{"choice": "no room"}', "No Room", "json field 'choice'"),
        ('{"choice": null, "reason": "all busy"}', "No Room", "json field 'choice' is null, read as No Room"),
        ('Here you go:\n```json\n{"choice": "R-204", "reason": "R-101 is busy"}\n```', "R-204", "json field 'choice'"),
        ('{"answer": {"room": "R-102"}}', "R-102", "json field 'room'"),
        ('{"choice": "R-101", "final_choice": "R-102"}', "R-102", "json field 'final_choice'"),
        ('{"choice": "R-999"}', "R-999", "json field 'choice' names an unknown room"),
        ('{"choice": ""}', None, "json field 'choice' is empty"),
        ('{"choice": ["R-101"]}', None, "json field 'choice' is not a single value"),
        ('{"choice": "R-101 or R-204"}', None, "ambiguous: json field 'choice' mentions R-101, R-204"),
        # structured: Agent Lightning's final_choice line; the last one counts
        ("final_choice: R-204\nreason: R-101 is too small", "R-204", "final_choice line"),
        ("Thinking about R-101 and R-102...\nfinal_choice: `R-102`.", "R-102", "final_choice line"),
        ("**final_choice:** **R-101**", "R-101", "final_choice line"),
        ("Final choice: no room", "No Room", "final_choice line"),
        ("final_choice: R-101\nfinal_choice: R-204", "R-204", "final_choice line"),
        ("final_choice: R-999", "R-999", "final_choice line names an unknown room"),
        ("final_choice: R-204 (nearest free room)", "R-204", "final_choice line mentions R-204"),
        ("final_choice:", None, "final_choice line is empty"),
        # the whole answer is the id or No Room
        ("R-101", "R-101", "whole answer is a room id"),
        ("  r-101.  ", "R-101", "whole answer is a room id"),
        ('"R-204"', "R-204", "whole answer is a room id"),
        ("**R-204**", "R-204", "whole answer is a room id"),
        ("`board-a`", "Board-A", "whole answer is a room id"),
        ("No Room", "No Room", "whole answer is No Room"),
        ("NO ROOM.", "No Room", "whole answer is No Room"),
        # free text
        ("I'd recommend R-204. It fits the request.", "R-204", "text mentions only R-204"),
        ("Book R-1010 for this one.", "R-1010", "text mentions only R-1010"),  # R-101 is not a whole token here
        ("R-101-B is nice", None, "no known room id in the answer"),
        ("Try X-R-101 instead", None, "no known room id in the answer"),
        ("R-204 looks best; R-101 would also work.", None, "ambiguous: mentions R-204, R-101"),
        ("R-101, or maybe r-101 again", "R-101", "text mentions only R-101"),
        ("Unfortunately no room matches all the requirements.", "No Room", "text says there is no room"),
        ("I couldn't find a suitable room for that slot.", "No Room", "text says there is no room"),
        ("Sorry, none of the rooms are available with everything you asked for.", "No Room",
         "text says there is no room"),
        ("Nothing is free: none available.", "No Room", "text says there is no room"),
        ("There is no suitable room.", "No Room", "text says there is no room"),
        ("R-101 is booked, so there is no room.", None, "ambiguous: mentions R-101 and says there is no room"),
        ("Let me check the calendar first.", None, "no known room id in the answer"),
        ("I'd book R-999.", None, "no known room id in the answer"),
        # nothing to read
        ("", None, "no answer"),
        ("   \n\t", None, "no answer"),
        (None, None, "no answer"),
    ],
)
def test_parse_choice_table(text, choice, how):
    assert parse_choice(text, IDS) == (choice, how)


def test_room_ids_may_be_any_iterable():
    assert parse_choice("R-102", iter(IDS)) == ("R-102", "whole answer is a room id")


def test_ids_that_share_a_prefix_are_told_apart():
    assert parse_choice("take R-10 please", ("R-1", "R-10", "R-100")) == ("R-10", "text mentions only R-10")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_never_raises_on_arbitrary_text(text):
    choice, how = parse_choice(text, IDS)
    assert choice is None or isinstance(choice, str)
    assert isinstance(how, str) and how


_FRAGMENTS = st.sampled_from(
    ["{", "}", '"choice"', ":", "null", "[", "]", "final_choice:", "R-101", "r-204", "No Room", "\n", "**", "`", "'", ",",
     '"', "none available", "\\", "{{{{", "1e999999", "R-"]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_FRAGMENTS, st.text(max_size=5)), max_size=30).map("".join))
def test_never_raises_on_answer_shaped_junk(text):
    choice, how = parse_choice(text, IDS)
    assert choice is None or isinstance(choice, str)
    assert how
