"""The agent role (offline simulator, not a real model): a fallible room selector that applies
only the rules its prompt states reliably; every chance choice comes from `draw(seed, ...)`."""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from .completion import completion, tool_call
from .conversation import Conversation, schema_properties
from .draw import choose, draw
from .facts import Facts, extract_facts
from .listing import ListingError, Room, parse_listing
from .phrasebook import HARD_CONSTRAINTS, TIEBREAKS, Phrasebook, default_phrasebook

NO_ROOM = "No Room"

# How often an unprompted model still applies a rule whose fact it can see in the prompt.
IMPLICIT_RULE_ODDS = {"availability": 0.75, "capacity": 0.8, "equipment": 0.7, "accessibility": 0.65}
# How often it looks the rooms up a second time when not told to call the tool once.
REPEAT_CALL_ODDS = 0.25
# How often, finding no room that fits and not told what to say, it admits it instead of guessing.
ADMIT_NO_ROOM_ODDS = 0.5
# Its unprompted taste among equally good rooms: cumulative odds of each habit.
NATURAL_PREFERENCES = (("nearest", 0.4), ("biggest", 0.7), ("first_listed", 1.0))

CHOICE_KEYS = ("choice", "room", "room_id", "final_choice")
_FINAL_CHOICE = re.compile(r"final_choice\s*:", re.IGNORECASE)

_PICK_TEMPLATES = (
    "I'd recommend {x}. It fits the request.",
    "After checking availability, the room to book is {x}.",
    "Based on the room list, {x} is a good choice for this meeting.",
)
# Naming a runner-up leaves the answer open to two readings, as rambling answers do.
_PAIR_TEMPLATES = (
    "{x} looks like the best option; {y} would also work.",
    "I'd go with {x}, although {y} is a reasonable alternative.",
)
_NO_ROOM_TEMPLATES = (
    "Unfortunately no room matches all the requirements.",
    "I couldn't find a suitable room for that slot.",
    "Sorry, none of the rooms are available with everything you asked for.",
)
_APOLOGY = "Sorry, I couldn't get a usable room list from the lookup, so I can't recommend a room."


def _tool_name(offered: tuple[str, ...]) -> str:
    # A model picks the tool whose name fits the job; otherwise the first one offered.
    return next((name for name in offered if "room" in name.lower()), offered[0])


def _passes(rule: str, room: Room, facts: Facts) -> bool:
    if rule == "availability":
        return room.is_free(facts)
    if rule == "capacity":
        return facts.attendees is None or room.capacity >= facts.attendees
    if rule == "equipment":
        return all(need in room.equipment for need in facts.needs)
    if rule == "accessibility":
        return room.accessible or facts.accessible_required is not True
    raise ValueError(f"unknown rule {rule!r}")


def _fact_visible(rule: str, facts: Facts, rooms: list[Room]) -> bool:
    if rule == "availability":
        return any(room.free is not None or room.bookings for room in rooms)
    if rule == "capacity":
        return facts.attendees is not None
    if rule == "equipment":
        return bool(facts.needs)
    return facts.accessible_required is True


def applied_rules(text: str, facts: Facts, rooms: list[Room], seed: Any, book: Phrasebook) -> list[str]:
    """Hard constraints this request gets: every asked rule, plus unasked ones by chance."""
    rules = []
    for rule in HARD_CONSTRAINTS:
        if book.asks(rule, text):
            rules.append(rule)
        elif _fact_visible(rule, facts, rooms) and draw(seed, "implicit-rule", rule, facts.key()) < IMPLICIT_RULE_ODDS[rule]:
            rules.append(rule)
    return rules


def _tiebreak_metric(family: str, facts: Facts) -> Callable[[Room], float]:
    if family == "tiebreak_slack":
        return lambda room: room.capacity - (facts.attendees or 0)
    if family == "tiebreak_extra_equipment":
        return lambda room: room.extra_equipment(facts.needs)
    if family == "tiebreak_distance":
        return lambda room: room.distance_m
    return lambda room: room.bookings_on(facts.date)


def natural_preference(seed: Any, facts: Facts) -> str:
    """The habit this request falls back on when the prompt leaves a tie open."""
    roll = draw(seed, "natural-preference", facts.key())
    return next(name for name, upto in NATURAL_PREFERENCES if roll < upto)


def rank(candidates: list[Room], text: str, facts: Facts, seed: Any, book: Phrasebook) -> list[Room]:
    """Order candidates by the prompt's tie-breaks in prompt order, then habit, then listing order."""
    mentioned = [(pos, fam) for fam in TIEBREAKS if (pos := book.first_position(fam, text)) is not None]
    metrics = [_tiebreak_metric(fam, facts) for _, fam in sorted(mentioned)]
    habit = natural_preference(seed, facts)

    def key(room: Room) -> tuple[float, ...]:
        parts = [metric(room) for metric in metrics]
        if habit == "nearest":
            parts.append(room.distance_m)
        elif habit == "biggest":
            parts += [-room.capacity, -len(room.equipment)]
        parts.append(room.position)
        return tuple(parts)

    return sorted(candidates, key=key)


def _reason(answer: str, rules: list[str], facts: Facts) -> str:
    if answer == NO_ROOM:
        return "no room meets every requirement"
    said = {
        "availability": "free for the slot",
        "capacity": f"seats {facts.attendees}",
        "equipment": "has " + " and ".join(facts.needs) if facts.needs else "",
        "accessibility": "accessible" if facts.accessible_required else "",
    }
    parts = [said[rule] for rule in rules if said[rule]]
    return (", ".join(parts) or "looked like a good fit")[:100]


def _schema_default(spec: Any) -> Any:
    spec = spec if isinstance(spec, dict) else {}
    if spec.get("enum"):
        return spec["enum"][0]
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    return {"string": "", "number": 0.0, "integer": 0, "boolean": False, "array": [], "object": {}}.get(kind)


def _fill_schema(response_format: dict[str, Any], answer: str, reason: str) -> dict[str, Any]:
    properties = schema_properties(response_format)
    if properties is None:
        return {"choice": answer, "reason": reason}
    out = {}
    for name, spec in properties.items():
        if name.lower() in CHOICE_KEYS:
            out[name] = answer
        elif name.lower() == "reason":
            out[name] = reason
        else:
            out[name] = _schema_default(spec)
    if not any(name.lower() in CHOICE_KEYS for name in properties):
        # No obvious slot for the answer: a model puts it in the first text field.
        first_text = next((n for n, s in properties.items() if isinstance(s, dict) and s.get("type") == "string"), None)
        if first_text is not None:
            out[first_text] = answer
    return out


def _render(answer: str, runner_up: str | None, reason: str, convo: Conversation, facts: Facts, book: Phrasebook) -> str:
    text, seed = convo.instructions, convo.seed
    response_format = convo.response_format or {}
    if response_format.get("type") == "json_schema":
        return json.dumps(_fill_schema(response_format, answer, reason))
    if response_format.get("type") == "json_object":
        return json.dumps({"choice": answer, "reason": reason})
    if book.asks("answer_format", text):
        if _FINAL_CHOICE.search(text):
            return f"final_choice: {answer}\nreason: {reason}"
        return answer
    if answer == NO_ROOM:
        if book.asks("no_room_answer", text):
            return NO_ROOM
        return choose(_NO_ROOM_TEMPLATES, seed, "no-room-template", facts.key())
    templates = _PICK_TEMPLATES + (_PAIR_TEMPLATES if runner_up else ())
    return choose(templates, seed, "answer-template", facts.key()).format(x=answer, y=runner_up)


def _apology(convo: Conversation) -> str:
    response_format = convo.response_format or {}
    if response_format.get("type") == "json_schema":
        return json.dumps(_fill_schema(response_format, "", _APOLOGY))
    return _APOLOGY


def act(request: dict[str, Any], convo: Conversation, book: Phrasebook | None = None) -> dict[str, Any]:
    """The next assistant turn for a room-selection conversation that offers tools."""
    book = book or default_phrasebook()
    text, seed = convo.instructions, convo.seed
    facts = extract_facts(text)
    if not convo.tool_results:
        args = json.dumps(facts.tool_arguments(), separators=(",", ":"))
        return completion(request, None, [tool_call(request, _tool_name(convo.offered_tools), args)])

    if (
        len(convo.tool_calls) == 1
        and not book.asks("single_tool_call", text)
        and draw(seed, "repeat-call", facts.key()) < REPEAT_CALL_ODDS
    ):
        previous = convo.tool_calls[0]
        name = previous.name if previous.name in convo.offered_tools else _tool_name(convo.offered_tools)
        return completion(request, None, [tool_call(request, name, previous.arguments)])

    try:
        rooms = parse_listing(convo.tool_results[-1])
    except ListingError:
        return completion(request, _apology(convo))

    rules = applied_rules(text, facts, rooms, seed, book)
    candidates = rank([r for r in rooms if all(_passes(rule, r, facts) for rule in rules)], text, facts, seed, book)
    runner_up = None
    if candidates:
        answer = candidates[0].id
        runner_up = candidates[1].id if len(candidates) > 1 else None
        reason = _reason(answer, rules, facts)
    elif not rooms or book.asks("no_room_answer", text) or draw(seed, "admit-no-room", facts.key()) < ADMIT_NO_ROOM_ODDS:
        answer, reason = NO_ROOM, _reason(NO_ROOM, rules, facts)
    else:
        # A weak model forcing an answer: the first free room, else simply the first one.
        forced = next((r for r in rooms if r.is_free(facts)), rooms[0])
        answer, reason = forced.id, "closest thing to a match"
    return completion(request, _render(answer, runner_up, reason, convo, facts, book))
