"""Reading an optimizer's request text: the `<prompt>` block and the section under a heading."""

from __future__ import annotations

import re

from .conversation import Conversation

PROMPT_BLOCK = re.compile(r"<prompt>\n?(.*?)\n?</prompt>", re.DOTALL)


def asks_about_prompt(convo: Conversation, heading: re.Pattern[str]) -> bool:
    """A plain request (no tools) holding a `<prompt>` block and the given heading."""
    text = convo.instructions
    return not convo.offered_tools and bool(PROMPT_BLOCK.search(text)) and bool(heading.search(text))


def prompt_in(text: str) -> str:
    block = PROMPT_BLOCK.search(text)
    return block.group(1) if block else ""


def section(text: str, heading: re.Pattern[str], next_heading: re.Pattern[str]) -> tuple[str, str]:
    """The text under `heading` up to `next_heading`, and everything from there on; ("", "") without it."""
    found = heading.search(text)
    if not found:
        return "", ""
    rest = text[found.end() :]
    after = next_heading.search(rest)
    return (rest[: after.start()], rest[after.start() :]) if after else (rest, "")
