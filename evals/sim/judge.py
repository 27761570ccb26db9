"""The judge role (offline simulator, not a real model): strict exact-choice grading
in Agent Lightning's judge message format, read the way a careful grader would."""

from __future__ import annotations

import json
import re
from typing import Any

from .completion import completion
from .conversation import Conversation, schema_properties

NO_ROOM = "No Room"
REASON_LIMIT = 100

_SECTIONS = re.compile(r"task\s+output\s*:\s*(.*?)\s*task\s+expected\s+answer\s*:\s*(.*)\s*\Z", re.IGNORECASE | re.DOTALL)
_FINAL_CHOICE_LINE = re.compile(r"^[\s*_>`#-]*final_choice[\s*_`]*:[\s*_`]*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_CHOICE_KEYS = ("final_choice", "choice", "room_id", "room")
_WRAPPING = " \t\r\n\"'`*_.,;:!“”‘’()[]"
_NO_ROOM_WORDS = re.compile(
    r"\bno\s+(?:suitable\s+|matching\s+|available\s+|free\s+)?rooms?\b"
    r"|\bnone\s+(?:of\s+the\s+rooms\s+)?(?:is\s+|are\s+)?(?:available|suitable|fits?|qualif(?:y|ies))\b"
    r"|\bnone\s+of\s+the\s+rooms\b"
    r"|\b(?:couldn'?t|could\s+not|can'?t|cannot|unable\s+to)\s+find\s+(?:a\s+|any\s+)?(?:suitable\s+|matching\s+|free\s+)?rooms?\b",
    re.IGNORECASE,
)
# With no expected id to copy a shape from, an id is any token mixing letters and digits.
_GENERIC_ID = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z0-9.-]*[A-Za-z])(?=[A-Za-z0-9.-]*\d)[A-Za-z0-9]+(?:[-.][A-Za-z0-9]+)*(?![A-Za-z0-9]|[-.][A-Za-z0-9])")
_SENTENCE_START = re.compile(r"(?:\A|[.!?]\s+|\n\s*)\Z")


def is_no_room(value: str) -> bool:
    return " ".join(value.split()).lower() == NO_ROOM.lower()


def _strip(value: str) -> str:
    return value.strip(_WRAPPING)


def parse_judge_input(text: str) -> tuple[str, str] | None:
    """(agent output, expected choice) from the judge's user message, or None if absent."""
    match = _SECTIONS.search(text)
    if not match:
        return None
    expected = match.group(2).strip()
    prefixed = _FINAL_CHOICE_LINE.search(expected)
    expected = _strip(prefixed.group(1) if prefixed else expected.splitlines()[0] if expected else "")
    return match.group(1), expected


def shape_of(expected: str) -> re.Pattern[str]:
    """A regex for tokens shaped like `expected`: letter runs, digit runs, other chars literal."""
    parts = []
    for run in re.finditer(r"(?P<letters>[A-Za-z]+)|(?P<digits>[0-9]+)|.", expected, re.DOTALL):
        if run.group("letters"):
            # A digit-free id ("Atlas") would make every word look like a room, so
            # keep its capitalisation pattern; ids with digits use any letters.
            if _wordlike(expected):
                parts.append("".join("[A-Z]+" if c.isupper() else "[a-z]+" for c in _case_runs(run.group(0))))
            else:
                parts.append("[A-Za-z]+")
        elif run.group("digits"):
            parts.append("[0-9]+")
        else:
            parts.append(re.escape(run.group(0)))
    body = "".join(parts) or re.escape(expected)
    return re.compile(rf"(?<![A-Za-z0-9])(?:{body})(?![A-Za-z0-9]|[-.][A-Za-z0-9])")


def _wordlike(expected: str) -> bool:
    return not any(c.isdigit() for c in expected)


def _case_runs(word: str) -> list[str]:
    return [m.group(0)[0] for m in re.finditer(r"[A-Z]+|[a-z]+", word)]


def _from_json(output: str) -> str | None:
    for candidate in [output.strip()] + re.findall(r"\{[^{}]*\}", output):
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            lowered = {str(k).lower(): v for k, v in data.items()}
            for key in _CHOICE_KEYS:
                if isinstance(lowered.get(key), str):
                    return _strip(lowered[key])
    return None


def _id_tokens(output: str, expected: str) -> list[str]:
    if is_no_room(expected):
        return [m.group(0) for m in _GENERIC_ID.finditer(output)]
    tokens = []
    for m in shape_of(expected).finditer(output):
        # Capitalised words opening a sentence ("After", "It") are not room names.
        if _wordlike(expected) and m.group(0) != expected and _SENTENCE_START.search(output[: m.start()]):
            continue
        tokens.append(m.group(0))
    return tokens


def read_choice(output: str, expected: str) -> tuple[str | None, str]:
    """The choice a careful grader reads in `output`, and how: (choice or None, note)."""
    from_json = _from_json(output)
    if from_json is not None:
        return (NO_ROOM if is_no_room(from_json) else from_json), "json"
    line = _FINAL_CHOICE_LINE.search(output)
    if line:
        value = _strip(line.group(1))
        return (NO_ROOM if is_no_room(value) else value), "final_choice line"
    whole = _strip(output)
    if whole and (len(whole.split()) == 1 or is_no_room(whole)):
        return (NO_ROOM if is_no_room(whole) else whole), "single token"
    distinct = list(dict.fromkeys(_id_tokens(output, expected)))
    if not distinct and not is_no_room(expected):
        # Nothing shaped like the expected id: name whatever id-like token was chosen instead.
        distinct = list(dict.fromkeys(m.group(0) for m in _GENERIC_ID.finditer(output)))
    if len(distinct) == 1:
        return distinct[0], "free text"
    if len(distinct) > 1:
        return None, "ambiguous: names " + ", ".join(distinct)
    if _NO_ROOM_WORDS.search(output):
        return NO_ROOM, "free text"
    return None, "no room named"


def _fit(reason: str) -> str:
    return reason if len(reason) <= REASON_LIMIT else reason[: REASON_LIMIT - 3] + "..."


def grade(output: str, expected: str) -> tuple[float, str]:
    """(1.0 or 0.0, reason of at most 100 characters) for one agent answer."""
    expected = NO_ROOM if is_no_room(expected) else expected.strip()
    if not output or not output.strip():
        return 0.0, _fit(f"empty output, expected {expected}")
    choice, how = read_choice(output, expected)
    if choice is None:
        return 0.0, _fit(f"{how}; expected {expected}")
    if choice == expected:
        return 1.0, _fit(f"chose {choice}, matches expected")
    return 0.0, _fit(f"chose {choice}, expected {expected}")


def is_judge_request(convo: Conversation) -> bool:
    """A json_schema response format with `score` and `reason` and no tools offered."""
    properties = schema_properties(convo.response_format)
    return not convo.offered_tools and properties is not None and "score" in properties and "reason" in properties


def act(request: dict[str, Any], convo: Conversation) -> dict[str, Any]:
    """The judge's reply: JSON {"score", "reason"}."""
    sections = parse_judge_input(convo.instructions)
    if sections is None:
        score, reason = 0.0, "no 'Task output:' and 'Task expected answer:' sections to grade"
    else:
        score, reason = grade(*sections)
    return completion(request, json.dumps({"score": score, "reason": reason}))
