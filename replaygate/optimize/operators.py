"""Heuristic mutation operators: pure functions of (prompt text, mined material, rng) that cost no LLM call.

Each returns the new text, or None when it does not apply (nothing new to add, nothing to
remove, or the result would break the length cap). Placeholders are never dropped,
duplicated or invented: only sentences without braces are moved or removed, and added
text has its braces escaped.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from replaygate.core.prompt import SECTION, placeholder_spans
from replaygate.core.task import Task
from replaygate.optimize.lint import heading_title
from replaygate.optimize.rollout_outcome import Outcome

_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=\S)")
_LIST_MARK = re.compile(r"^(?:[-*•]|\d+[.)])\s+")
EMPHASIS_LEAD = "IMPORTANT: "
EMPHASIS_TAIL = " Never skip this rule."
EXAMPLE_LEAD = "Example: "


@dataclass(frozen=True)
class Lesson:
    """An instruction graders say the prompt lacked, and on how many train tasks they said it."""

    text: str
    tasks: int


@dataclass(frozen=True)
class Example:
    """A worked train task: its input and the right answer, nothing else (rules belong to the prompt's own text)."""

    task_id: str
    request: str
    answer: str

    def render(self) -> str:
        return f"{EXAMPLE_LEAD}{self.request} -> the right answer is {self.answer}."


# --- mined material ----------------------------------------------------------------


def mine_lessons(failures: Sequence[Outcome]) -> list[Lesson]:
    """Graders' hints on failing train outcomes, most widespread first; recurring reasons when no grader hints."""
    counts: dict[str, int] = {}
    for outcome in failures:
        for hint in dict.fromkeys(h.strip() for h in outcome.hints.values() if h.strip()):
            counts[hint] = counts.get(hint, 0) + 1
    if not counts:
        # No hints: a reason that recurs on several tasks and names no particular room or number.
        for outcome in failures:
            for value, reason in outcome.graders.values():
                if value < 1.0 and reason.strip() and not any(ch.isdigit() for ch in reason):
                    rule = f"Avoid this failure: {reason.strip().rstrip('.')}."
                    counts[rule] = counts.get(rule, 0) + 1
        counts = {text: n for text, n in counts.items() if n >= 2}
    order = list(counts)
    return [Lesson(text, counts[text]) for text in sorted(order, key=lambda t: (-counts[t], order.index(t)))]


def train_examples(failures: Sequence[Outcome], train: Mapping[str, Task]) -> list[Example]:
    """Examples from failing outcomes of tasks in `train` only: a task outside it is never shown to the prompt."""
    examples = []
    for outcome in failures:
        task = train.get(outcome.task_id)
        if task is None or any(e.task_id == task.id for e in examples):
            continue
        request = "; ".join(f"{name} {_plain(value)}" for name, value in task.input.items())
        answer = task.expected if isinstance(task.expected, str) else json.dumps(task.expected, sort_keys=True)
        examples.append(Example(task.id, request, answer))
    return examples


def _plain(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) if value else "none"
    return str(value)


# --- text structure ------------------------------------------------------------------


def literal(text: str) -> str:
    """`text` with every `{name}` escaped as `{{name}}`, so added text can never be a placeholder."""
    out, last = [], 0
    for start, end, name in placeholder_spans(text):
        out += [text[last:start], "{{" + name + "}}"]
        last = end
    out.append(text[last:])
    return "".join(out)


def placeholders(text: str) -> list[str]:
    """Placeholder names in order of occurrence, repeats included."""
    return [name for _, _, name in placeholder_spans(text)]


def _is_header(line: str) -> bool:
    # Section markers and headings ("Rules:") are structure: never moved, stressed or dropped.
    return bool(SECTION.fullmatch(line.strip())) or heading_title(line) is not None


def _sentences(line: str) -> list[str]:
    return [part for part in _SENTENCE_BREAK.split(line.strip()) if part]


def _movable(sentence: str) -> bool:
    # Any brace may belong to a placeholder or a literal; such sentences stay where they are.
    return "{" not in sentence and "}" not in sentence


class _Body:
    """A prompt as lines of sentences; only changed lines are re-joined, the rest keep their bytes."""

    def __init__(self, text: str):
        self.lines = text.split("\n")
        self.split: dict[int, list[str]] = {}
        for index, line in enumerate(self.lines):
            if line.strip() and not _is_header(line):
                self.split[index] = _sentences(line)
        self.changed: set[int] = set()

    def units(self) -> list[tuple[int, int]]:
        """(line, sentence) positions of sentences that may be moved, edited or removed."""
        return [(i, j) for i, parts in self.split.items() for j, s in enumerate(parts) if _movable(s)]

    def get(self, unit: tuple[int, int]) -> str:
        return self.split[unit[0]][unit[1]]

    def set(self, unit: tuple[int, int], sentence: str | None) -> None:
        """Replace a sentence; None removes it (an emptied line goes too)."""
        self.split[unit[0]][unit[1]] = sentence  # type: ignore[call-overload]
        self.changed.add(unit[0])

    def text(self) -> str:
        out = []
        for index, line in enumerate(self.lines):
            if index not in self.changed:
                out.append(line)
                continue
            kept = [s for s in self.split[index] if s is not None]
            if kept:
                indent = line[: len(line) - len(line.lstrip())]
                out.append(indent + " ".join(kept))
        return "\n".join(out)


def instructions(text: str) -> list[str]:
    """The prompt's sentences that hold no placeholder, in order: what operators move, stress or drop."""
    body = _Body(text)
    return [body.get(unit) for unit in body.units()]


def missing_instructions(donor: str, text: str) -> list[str]:
    """Instructions of `donor` that `text` does not state (whitespace and case aside)."""
    stated = [_LIST_MARK.sub("", s) for s in instructions(donor)]
    # A heading such as "Rules:" is structure, not an instruction.
    return [s for s in dict.fromkeys(stated) if s and not s.endswith(":") and not _mentions(text, s)]


def _fits(text: str, max_chars: int) -> str | None:
    return text if len(text.strip()) + 1 <= max_chars else None


def _append_lines(text: str, lines: Sequence[str]) -> str:
    return text.rstrip("\n") + "\n" + "\n".join(lines) + "\n"


def _mentions(text: str, sentence: str) -> bool:
    return " ".join(sentence.split()).casefold() in " ".join(text.split()).casefold()


# --- the operators -------------------------------------------------------------------


def add_constraint(text: str, lessons: Sequence[Lesson], rng: random.Random, max_chars: int,
                   most: int = 3) -> str | None:
    """Add one to `most` rules graders asked for that the prompt does not state yet, widespread ones likelier."""
    fresh = [lesson for lesson in lessons if not _mentions(text, lesson.text)]
    if not fresh:
        return None
    count = rng.randint(1, min(most, len(fresh)))
    pool, chosen = list(fresh), []
    for _ in range(count):
        pick = rng.choices(range(len(pool)), weights=[lesson.tasks for lesson in pool])[0]
        chosen.append(pool.pop(pick))
    # The list's own order (most widespread first) is the order the rules are stated in.
    chosen.sort(key=fresh.index)
    while chosen:
        candidate = _fits(_append_lines(text, [literal(lesson.text) for lesson in chosen]), max_chars)
        if candidate is not None:
            return candidate
        chosen.pop()
    return None


def add_example(text: str, examples: Sequence[Example], rng: random.Random, max_chars: int) -> str | None:
    """Append one worked example; the caller hands over train examples only (see train_examples)."""
    fresh = [e for e in examples if not _mentions(text, e.render())]
    if not fresh:
        return None
    return _fits(_append_lines(text, [literal(rng.choice(fresh).render())]), max_chars)


def add_emphasis(text: str, rng: random.Random, max_chars: int) -> str | None:
    """Stress one instruction that is not stressed yet."""
    body = _Body(text)
    plain = [u for u in body.units() if EMPHASIS_LEAD not in body.get(u) and EMPHASIS_TAIL.strip() not in body.get(u)]
    if not plain:
        return None
    unit = rng.choice(plain)
    sentence = body.get(unit)
    style = rng.randrange(2)
    body.set(unit, EMPHASIS_LEAD + sentence if style == 0 else sentence + EMPHASIS_TAIL)
    return _fits(body.text(), max_chars)


def reorder_instructions(text: str, rng: random.Random) -> str | None:
    """Move one instruction to where another stood: the agent may weigh earlier rules first."""
    body = _Body(text)
    units = body.units()
    if len(units) < 2:
        return None
    first, second = rng.sample(units, 2)
    a, b = body.get(first), body.get(second)
    if a == b:
        return None
    body.set(first, b)
    body.set(second, a)
    new = body.text()
    return new if new != text else None


def simplify(text: str, rng: random.Random) -> str | None:
    """Shorter, never longer: drop repeated sentences, stress markers, or one instruction."""
    body = _Body(text)
    units = body.units()
    seen: set[str] = set()
    repeats = []
    for unit in units:
        key = " ".join(body.get(unit).split()).casefold()
        if key in seen:
            repeats.append(unit)
        seen.add(key)
    stressed = [u for u in units if EMPHASIS_LEAD in body.get(u) or body.get(u).endswith(EMPHASIS_TAIL)]
    moves = []
    if repeats:
        moves.append("repeats")
    if stressed:
        moves.append("stress")
    if len(units) >= 2:
        moves.append("drop")
    if not moves:
        return None
    move = rng.choice(moves)
    if move == "repeats":
        for unit in repeats:
            body.set(unit, None)
    elif move == "stress":
        unit = rng.choice(stressed)
        sentence = body.get(unit).replace(EMPHASIS_LEAD, "")
        body.set(unit, sentence[: -len(EMPHASIS_TAIL)] if sentence.endswith(EMPHASIS_TAIL) else sentence)
    else:
        body.set(rng.choice(units), None)
    new = body.text()
    return new if len(new) < len(text) else None


# The operators the search can draw, by name, with what each needs from the parent's failures.
Material = tuple[Sequence[Lesson], Sequence[Example]]
HeuristicOperator = Callable[[str, Material, random.Random, int], "str | None"]

HEURISTIC: dict[str, HeuristicOperator] = {
    "add_constraint": lambda text, material, rng, cap: add_constraint(text, material[0], rng, cap),
    "add_example": lambda text, material, rng, cap: add_example(text, material[1], rng, cap),
    "add_emphasis": lambda text, material, rng, cap: add_emphasis(text, rng, cap),
    "reorder_instructions": lambda text, material, rng, cap: reorder_instructions(text, rng),
    "simplify": lambda text, material, rng, cap: simplify(text, rng),
}
