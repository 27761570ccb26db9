"""The critic role (offline simulator, not a real model): reads an agent prompt and its failing
traces and names what the prompt leaves open, citing task ids; it sees only what the traces show."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .completion import completion
from .conversation import Conversation
from .draw import choose, draw
from .facts import Facts, extract_facts
from .listing import ListingError, Room, parse_listing
from .phrasebook import HARD_CONSTRAINTS, TIEBREAKS, Phrasebook, default_phrasebook
from .preference import Comparison, infer_order, merge_orders, stated_order
from .sections import asks_about_prompt, prompt_in, section
from .traces import Trace, parse_traces

NO_ROOM = "No Room"
DEFAULT_MAX_ISSUES = 4
# The order problems are listed in when they hurt the same number of tasks: what breaks an
# answer outright first, then what makes it unreadable, then taste.
FAMILY_ORDER = HARD_CONSTRAINTS + ("no_room_answer", "answer_format", "single_tool_call", "tiebreaks")

_TRACES_HEADING = re.compile(r"^#{1,4}\s*Traces\b", re.MULTILINE)
_NEXT_HEADING = re.compile(r"^#{1,2}\s+\S", re.MULTILINE)
_MAX_ISSUES = re.compile(r"\bat\s+most\s+(\d{1,2})\s+(?:problems|issues|items)\b", re.IGNORECASE)
_CHOSE_EXPECTED = re.compile(r"\bchose\s+(.+?),\s+expected\s+(.+?)\s*$", re.MULTILINE)
_CHOSE = re.compile(r"^chose\s+(\S+(?:\s+Room)?)\s*$", re.MULTILINE)
_VIOLATES = re.compile(r"^(\S+)\s+violates\s+(.+?)\s*$", re.MULTILINE)
_SAYS_NONE = re.compile(
    r"\bno\s+(?:suitable\s+|matching\s+|available\s+|free\s+)?rooms?\b|\bnone\s+of\s+the\s+rooms\b"
    r"|\b(?:couldn[’']?t|could\s+not|can[’']?t|cannot|unable\s+to)\s+find\b",
    re.IGNORECASE,
)

_INTROS = (
    "Critique of the prompt, based on the traces:",
    "What the traces show the prompt leaves open:",
    "Problems found in the traces, most damaging first:",
)
_NOTHING = (
    "The traces show no failure the prompt leaves open; no change is needed.",
    "Every trace ended well, so the traces give no reason to change the prompt.",
)
_TIE_TITLE = "the expected rooms reveal a preference among rooms that fit which the prompt does not state"


@dataclass
class Issue:
    """One problem: the family whose instruction would fix it, the tasks showing it, and how."""

    family: str
    tasks: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    instruction: str = ""

    def add(self, task: str, detail: str) -> None:
        if task not in self.tasks:
            self.tasks.append(task)
            self.details.append(f"{task}: {detail}")


def is_critique_request(convo: Conversation) -> bool:
    """A plain request holding a `<prompt>` block and a `## Traces` heading."""
    return asks_about_prompt(convo, _TRACES_HEADING)


def _listing(trace: Trace) -> list[Room] | None:
    for call in reversed(trace.calls):
        try:
            return parse_listing(call.result)
        except ListingError:
            continue
    return None


def _violations(room: Room, facts: Facts) -> list[str]:
    broken = {
        "availability": not room.is_free(facts),
        "capacity": facts.attendees is not None and room.capacity < facts.attendees,
        "equipment": any(need not in room.equipment for need in facts.needs),
        "accessibility": facts.accessible_required is True and not room.accessible,
    }
    return [rule for rule in HARD_CONSTRAINTS if broken[rule]]


def _mentioned(text: str, rooms: list[Room] | None) -> list[str]:
    if rooms is None:
        return list(dict.fromkeys(re.findall(r"\b[A-Z]+-?\d+(?:\.\d+)?\b", text)))
    found = [(m.start(), r.id) for r in rooms if (m := re.search(rf"(?<![\w-]){re.escape(r.id)}(?![\w-])", text))]
    return [rid for _, rid in sorted(found)]


def _constraint_detail(rule: str, room: Room, facts: Facts) -> str:
    if rule == "availability":
        held = [f"{at} for {length:g} min" for day, at, length in room.bookings if day == facts.date]
        when = f" (held {', '.join(held)})" if held else ""
        return f"chose {room.id}, booked at {facts.time} on {facts.date}{when}"
    if rule == "capacity":
        return f"chose {room.id}, {room.capacity:g} seats for {facts.attendees} attendees"
    if rule == "equipment":
        missing = [need for need in facts.needs if need not in room.equipment]
        return f"chose {room.id}, which lacks {', '.join(missing)}"
    return f"chose {room.id}, which is not wheelchair-friendly, though the request required it"


def _metrics(room: Room, facts: Facts) -> dict[str, float]:
    return {
        "tiebreak_slack": room.capacity - (facts.attendees or 0),
        "tiebreak_extra_equipment": room.extra_equipment(facts.needs),
        "tiebreak_distance": room.distance_m,
        "tiebreak_bookings": room.bookings_on(facts.date),
    }


def _count(number: float, noun: str) -> str:
    return f"{number:g} {noun}{'' if number == 1 else 's'}"


def _profile(room: Room, facts: Facts) -> str:
    m = _metrics(room, facts)
    return (
        f"{room.id} ({_count(m['tiebreak_slack'], 'spare seat')}, {_count(m['tiebreak_extra_equipment'], 'unrequested item')}, "
        f"{m['tiebreak_distance']:g} m away, {_count(m['tiebreak_bookings'], 'booking')} that day)"
    )


@dataclass
class Reading:
    """Everything the critic draws from the traces, before deciding what to report."""

    issues: dict[str, Issue] = field(default_factory=dict)
    comparisons: list[Comparison] = field(default_factory=list)
    profiles: dict[str, str] = field(default_factory=dict)

    def issue(self, family: str) -> Issue:
        return self.issues.setdefault(family, Issue(family))


def _read_trace(trace: Trace, reading: Reading) -> None:
    facts = extract_facts(trace.request)
    rooms = _listing(trace)
    by_id = {room.id: room for room in rooms or []}
    reasons = trace.reasons()
    pair = _CHOSE_EXPECTED.search(reasons)
    passed = _CHOSE.search(reasons)
    chosen = pair.group(1).strip() if pair else passed.group(1).strip() if passed else None
    expected = pair.group(2).strip() if pair else chosen
    mentioned = _mentioned(trace.answer, rooms)

    keys = [(c.name, c.arguments) for c in trace.calls]
    if trace.error_kind == "turn_limit" or len(keys) != len(set(keys)):
        repeats = max(keys.count(k) for k in keys) if keys else 0
        ending = ", never answering before the turn limit" if trace.error_kind == "turn_limit" else ""
        reading.issue("single_tool_call").add(trace.task, f"made the same lookup {repeats} times{ending}")

    if chosen is None and trace.answer and trace.error_kind != "turn_limit":
        if _SAYS_NONE.search(trace.answer) and len(mentioned) <= 1:
            reading.issue("no_room_answer").add(trace.task, "said in prose that nothing fits, which the graders could not read as a choice")
        elif len(mentioned) > 1:
            reading.issue("answer_format").add(trace.task, f"the answer named {' and '.join(mentioned[:3])}, so no single choice could be read")
        else:
            reading.issue("answer_format").add(trace.task, "the answer named no room id the graders could read")
    if chosen is None or chosen.casefold() == NO_ROOM.casefold():
        return

    room = by_id.get(chosen)
    broken = _violations(room, facts) if room is not None else []
    said = next((m.group(2) for m in _VIOLATES.finditer(reasons) if m.group(1) == chosen), "")
    # Grader lines corroborate, and stand in when the listing was cut or unreadable.
    broken += [rule for rule in HARD_CONSTRAINTS if rule in said and rule not in broken]
    for rule in HARD_CONSTRAINTS:
        if rule in broken:
            detail = _constraint_detail(rule, room, facts) if room is not None else f"chose {chosen}; graders: {chosen} violates {rule}"
            reading.issue(rule).add(trace.task, detail)

    nothing_fits = expected is not None and expected.casefold() == NO_ROOM.casefold()
    if rooms and facts.attendees is not None and facts.date and facts.time:
        nothing_fits = nothing_fits or not any(not _violations(r, facts) for r in rooms)
    if nothing_fits:
        reading.issue("no_room_answer").add(trace.task, f"named {chosen} although no room meets every rule")
        return

    other = by_id.get(expected or "")
    if broken or room is None or other is None or other.id == room.id or _violations(other, facts):
        return
    mine, theirs = _metrics(room, facts), _metrics(other, facts)
    better = frozenset(f for f in TIEBREAKS if theirs[f] < mine[f])
    worse = frozenset(f for f in TIEBREAKS if theirs[f] > mine[f])
    reading.comparisons.append(Comparison(trace.task, better, worse))
    reading.profiles[trace.task] = f"expected {_profile(other, facts)} over chosen {_profile(room, facts)}"


_SHORT = {
    "tiebreak_slack": "seat surplus",
    "tiebreak_extra_equipment": "unrequested equipment",
    "tiebreak_distance": "distance",
    "tiebreak_bookings": "bookings that day",
}


def _tiebreak_issue(reading: Reading, prompt: str, book: Phrasebook, seed: Any) -> Issue | None:
    stated = stated_order(prompt, book)
    steps = infer_order(reading.comparisons, TIEBREAKS, stated)
    if not any(step.tasks for step in steps):
        return None
    chain = [step.family for step in steps]
    order = merge_orders(stated, chain)
    if all(f in stated for f in chain) and order == stated:
        return None  # the prompt already states these preferences in an order the traces agree with
    issue = Issue("tiebreaks")
    for step in steps:
        for task in step.tasks:
            issue.add(task, reading.profiles[task])
    claims = []
    for step in steps:
        for loser in step.overrides:
            # Claim "A before B" only where A alone favoured the expected room and B went against it.
            shown = [c.task for c in reading.comparisons if c.better == {step.family} and loser in c.worse]
            if shown and (step.family, loser) not in claims:
                claims.append((step.family, loser))
                issue.notes.append(
                    f"In {', '.join(shown[:3])} the expected room won on {_SHORT[step.family]} while losing on "
                    f"{_SHORT[loser]}, so {_SHORT[step.family]} comes before {_SHORT[loser]}."
                )
    unordered = [(a, b) for a, b in zip(chain, chain[1:]) if (a, b) not in claims]
    if unordered:
        pairs = "; ".join(f"{_SHORT[a]} vs {_SHORT[b]}" for a, b in unordered)
        issue.notes.append(f"The traces do not show which comes first for: {pairs}.")
    fragments = [choose(book.wording(f).preference, seed, "critic-preference", f) for f in order]
    issue.instruction = "Among rooms that pass every rule, prefer " + ", then ".join(fragments) + "."
    return issue


def max_issues(text: str) -> int:
    """The issue limit the request states ("at most N problems"), else DEFAULT_MAX_ISSUES."""
    # The last statement wins: the ask comes after the traces, which may quote anything.
    found = _MAX_ISSUES.findall(text)
    return max(1, int(found[-1])) if found else DEFAULT_MAX_ISSUES


def critique(prompt: str, traces: str, limit: int, seed: Any, book: Phrasebook | None = None) -> tuple[str, list[Issue]]:
    """The critique text for `prompt` given rendered `traces`, and the issues it lists."""
    book = book or default_phrasebook()
    reading = Reading()
    for trace in parse_traces(traces):
        _read_trace(trace, reading)
    issues = [issue for family, issue in reading.issues.items() if not book.asks(family, prompt)]
    for issue in issues:
        issue.instruction = choose(book.wording(issue.family).instructions, seed, "critic-instruction", issue.family)
    tie = _tiebreak_issue(reading, prompt, book, seed)
    if tie is not None:
        issues.append(tie)
    # Most tasks first; among equals the seed may swap neighbours, as a model's ordering wavers.
    issues.sort(key=lambda i: (-len(i.tasks), FAMILY_ORDER.index(i.family) + draw(seed, "critic-order", i.family) * 1.5))
    issues = issues[:limit]
    if not issues:
        return choose(_NOTHING, seed, "critic-nothing"), []
    lines = [choose(_INTROS, seed, "critic-intro"), ""]
    for number, issue in enumerate(issues, 1):
        title = _TIE_TITLE if issue.family == "tiebreaks" else book.wording(issue.family).problem
        count = len(issue.tasks)
        lines.append(f"{number}. {title[0].upper()}{title[1:]} ({count} task{'s' if count != 1 else ''}: {', '.join(issue.tasks)}).")
        lines.append("   Evidence: " + "; ".join(issue.details) + ".")
        lines += [f"   {note}" for note in issue.notes]
        lines.append(f"   Recommended instruction: {issue.instruction}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n", issues


def act(request: dict[str, Any], convo: Conversation) -> dict[str, Any]:
    """The critic's reply: a numbered critique in plain text."""
    text = convo.instructions
    traces, _ = section(text, _TRACES_HEADING, _NEXT_HEADING)
    body, _ = critique(prompt_in(text), traces, max_issues(text), convo.seed)
    return completion(request, body)
