"""The editor role (offline simulator, not a real model): rewrites a prompt to follow a critique,
adding the instructions the critique recommends; now and then it edits sloppily, as LLM editors do."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .completion import completion
from .conversation import Conversation
from .draw import choose, draw, short_hash
from .phrasebook import FAMILIES, HARD_CONSTRAINTS, TIEBREAKS, Phrasebook, default_phrasebook
from .preference import merge_orders, stated_order
from .sections import asks_about_prompt, prompt_in, section

# How often an edit is sloppy: it invents a placeholder, renames one, or bloats the prompt
# (real editors do all three; see Agent Lightning PR #473). The optimizer's linter should catch it.
SLOPPY_EDIT_ODDS = 0.15
SLOPPY_KINDS = ("invent_placeholder", "rename_placeholder", "bloat")
# How often the editor takes up only the critique's first items instead of all of them.
PARTIAL_EDIT_ODDS = 0.3
PARTIAL_ITEMS = 2
# The names a sloppy editor reaches for: made-up inputs, and "clearer" names for real ones.
INVENTED_PLACEHOLDERS = ("location", "floor", "organizer")
RENAMED_PLACEHOLDERS = {
    "needs": "equipment",
    "attendees": "headcount",
    "date": "day",
    "time": "start_time",
    "duration_min": "duration",
    "accessible_required": "accessibility",
}
# Where the added rules go in the rewritten prompt: after the original text or before it.
LAYOUTS = ("rules_after", "rules_before", "prose_after")
TIE_LEAD = "Among rooms that pass every rule, prefer "
# Rules read best in this order: hard limits, the tie-break, then how to answer.
RULE_ORDER = HARD_CONSTRAINTS + ("tiebreaks", "no_room_answer", "single_tool_call", "answer_format")

_CRITIQUE_HEADING = re.compile(r"^#{1,4}\s*Critique\s*$", re.MULTILINE | re.IGNORECASE)
_NEXT_HEADING = re.compile(r"^#{1,4}\s+\S", re.MULTILINE)
_ITEM_START = re.compile(r"^\s*(?:\d+[.)]|[-*•]|#{3,4})\s+", re.MULTILINE)
_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")
_MAX_CHARS = re.compile(r"\b(?:under|below|at\s+most|within|no\s+more\s+than)\s+(\d{2,6})\s+characters\b", re.IGNORECASE)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
# What an optimizer adds to the critique when it rejected the editor's last answer (a lint message).
_REJECTED = re.compile(r"^[^\n]*\bprevious version of the prompt was rejected\b:?\s*(?P<why>.*)",
                       re.IGNORECASE | re.DOTALL | re.MULTILINE)
_HEADING_LINE = re.compile(r"^\s*Rules:\s*$", re.MULTILINE)


@dataclass(frozen=True)
class EditRequest:
    """What an edit request gives: the prompt, the critique, placeholders to keep, a length limit."""

    prompt: str
    critique: str
    placeholders: tuple[str, ...]
    max_chars: int | None
    feedback: str = ""  # why the last answer was rejected, when the request says so


def is_edit_request(convo: Conversation) -> bool:
    """A plain request holding a `<prompt>` block and a `## Critique` heading."""
    return asks_about_prompt(convo, _CRITIQUE_HEADING)


def read_edit_request(text: str) -> EditRequest:
    """Pull the prompt, critique, placeholder list and character limit out of the request text."""
    prompt = prompt_in(text)
    critique, rules = section(text, _CRITIQUE_HEADING, _NEXT_HEADING)
    listed = [m.group(1) for line in rules.splitlines() if "placeholder" in line.lower() for m in _PLACEHOLDER.finditer(line)]
    placeholders = listed or [m.group(1) for m in _PLACEHOLDER.finditer(prompt)]
    limit = _MAX_CHARS.search(rules)
    # Feedback is about the last answer, not the prompt: it asks for no new rule, only for care.
    rejected = _REJECTED.search(critique)
    feedback = " ".join(rejected.group("why").split()) if rejected else ""
    critique = critique[: rejected.start()] if rejected else critique
    return EditRequest(prompt, critique.strip(), tuple(dict.fromkeys(placeholders)),
                       int(limit.group(1)) if limit else None, feedback)


def recommended(critique: str, book: Phrasebook) -> list[list[str]]:
    """Families the critique asks for, grouped by item in the critique's order (most important first)."""
    starts = [m.start() for m in _ITEM_START.finditer(critique)] or [0]
    chunks = [critique[a:b] for a, b in zip(starts, starts[1:] + [len(critique)])]
    if starts[0] > 0:
        chunks.insert(0, critique[: starts[0]])
    groups = []
    for chunk in chunks:
        found = [f for f in FAMILIES if book.asks(f, chunk)]
        if found:
            groups.append(sorted(found, key=lambda f: book.first_position(f, chunk) or 0))
    return groups


def _drop_tie_sentences(prompt: str, book: Phrasebook) -> tuple[str, int | None]:
    """The prompt without sentences that only state tie-breaks, and where the first one stood."""
    out, where, last = [], None, 0
    for match in _SENTENCE.finditer(prompt):
        sentence = match.group(0)
        families = [f for f in FAMILIES if book.asks(f, sentence)]
        if families and all(f in TIEBREAKS for f in families) and not _PLACEHOLDER.search(sentence):
            # The first keeps its leading space for the new sentence; later ones go with theirs.
            start = match.start() + (len(sentence) - len(sentence.lstrip()) if where is None else 0)
            out.append(prompt[last:start])
            where = where if where is not None else sum(len(part) for part in out)
            last = match.end()
    out.append(prompt[last:])
    return "".join(out), where


def _rules(request: EditRequest, seed: Any, book: Phrasebook, shortest: bool) -> tuple[dict[str, str], list[str]]:
    """New rule sentences by family, and the order of tie-breaks the new prompt should state."""
    groups = recommended(request.critique, book)
    if draw(seed, "editor-scope") < PARTIAL_EDIT_ODDS:
        groups = groups[:PARTIAL_ITEMS]
    wanted = [f for group in groups for f in group]
    rules: dict[str, str] = {}
    for family in RULE_ORDER:
        if family in wanted and not book.asks(family, request.prompt):
            options = book.wording(family).instructions
            rules[family] = min(options, key=len) if shortest else choose(options, seed, "editor-wording", family)
    stated = stated_order(request.prompt, book)
    critique_order = [f for f in stated_order(request.critique, book) if f in wanted]
    order = merge_orders(stated, critique_order)
    if order != stated:
        fragments = [
            min(book.wording(f).preference, key=len) if shortest else choose(book.wording(f).preference, seed, "editor-preference", f)
            for f in order
        ]
        rules["tiebreaks"] = TIE_LEAD + ", then ".join(fragments) + "."
    ordered = {family: rules[family] for family in RULE_ORDER if family in rules}
    return ordered, order


def _assemble(prompt: str, rules: list[str], layout: str, tie_at: int | None, tie_rule: str | None) -> str:
    if tie_rule is not None and tie_at is not None:
        # The tie-break sentence goes back where the prompt stated its tie-breaks.
        prompt = prompt[:tie_at] + tie_rule + (" " if prompt[tie_at:tie_at + 1] not in ("", "\n") else "") + prompt[tie_at:]
        rules = [rule for rule in rules if rule != tie_rule]
    body = prompt.strip("\n")
    if not rules:
        return body
    if layout == "rules_before":
        return "You choose meeting rooms. " + " ".join(rules) + "\n\n" + body
    if layout == "prose_after":
        return body + "\n\n" + " ".join(rules)
    return body + "\n\nRules:\n" + "\n".join(f"- {rule}" for rule in rules)


def _sloppy(text: str, request: EditRequest, seed: Any) -> str:
    kind = choose(SLOPPY_KINDS, seed, "editor-sloppy-kind")
    present = [p for p in request.placeholders if "{" + p + "}" in text]
    if kind == "rename_placeholder" and present:
        old = next((p for p in present if p in RENAMED_PLACEHOLDERS), present[0])
        new = RENAMED_PLACEHOLDERS.get(old, old + "_value")
        return text.replace("{" + old + "}", "{" + new + "}")
    if kind == "bloat":
        padding = (
            "\n\nBefore answering, think carefully about every requirement. Read the whole room list, "
            "consider each room in turn, weigh its strengths and weaknesses, and make sure your choice is "
            "sensible, well-justified and helpful to the person who asked."
        )
        target = max(3 * len(text), (request.max_chars or 0) + 400)
        while len(text) < target:
            text += padding
        return text
    invented = next((n for n in INVENTED_PLACEHOLDERS if n not in request.placeholders), "location")
    return text + f"\nThe meeting is held near {{{invented}}}."


def _keyed(request: EditRequest, seed: Any) -> list[Any]:
    # Keyed by the request too, so one seed does not make every edit of a run alike.
    return [seed, short_hash(request.prompt + "\n" + request.critique)]


def is_sloppy(request: EditRequest, seed: Any) -> bool:
    """Whether this request and seed get a sloppy edit (odds SLOPPY_EDIT_ODDS)."""
    return draw(_keyed(request, seed), "editor-sloppy") < SLOPPY_EDIT_ODDS


def edit(request: EditRequest, seed: Any, book: Phrasebook | None = None) -> str:
    """The new prompt text for `request` (without the <prompt> tags)."""
    book = book or default_phrasebook()
    # Told why its last answer was rejected, it does the same edit with care: no slip this time.
    sloppy = is_sloppy(request, seed) and not request.feedback
    seed = _keyed(request, seed)
    layout = choose(LAYOUTS, seed, "editor-layout")
    if "heading" in request.feedback.lower() and layout == "rules_after" and _HEADING_LINE.search(request.prompt):
        layout = "prose_after"  # the prompt has its rules heading already: a second one was the complaint
    text = request.prompt
    for shortest in (False, True):
        rules, _ = _rules(request, seed, book, shortest)
        sentences = list(rules.values())
        # Over the limit: drop the least important additions first, the original text never.
        while True:
            tie_rule = rules.get("tiebreaks")
            if tie_rule in sentences:
                base, tie_at = _drop_tie_sentences(request.prompt, book)
            else:
                base, tie_at, tie_rule = request.prompt, None, None
            text = _assemble(base, sentences, layout, tie_at, tie_rule)
            if request.max_chars is None or len(text) <= request.max_chars or not sentences:
                break
            sentences = sentences[:-1]
        if request.max_chars is None or len(text) <= request.max_chars:
            break
    if sloppy:
        text = _sloppy(text, request, seed)
    return text


def act(request: dict[str, Any], convo: Conversation) -> dict[str, Any]:
    """The editor's reply: the whole new prompt between <prompt> and </prompt>."""
    new = edit(read_edit_request(convo.instructions), convo.seed)
    return completion(request, f"<prompt>\n{new}\n</prompt>")
