"""What `pytest --optimize --llm=sim` asks a suite's double, read back into fields, and the shape of its answer.

Under `--llm=sim` the optimizer's critic and editor calls go to the suite's own double, as plain chat requests
(no tools) rendered from the packaged templates in `replaygate/optimize/prompts/`. `optimizer_ask(request)` tells
them from agent turns and reads them; `new_prompt(text)` wraps an editor's answer the way the optimizer reads it.

    def stand_in(request):
        ask = optimizer_ask(request)
        if ask is None:
            return my_agent_turn(request)
        if ask.kind == "critique":
            return "1. The prompt never asks for lookup_order. Recommended instruction: call lookup_order first."
        return new_prompt(ask.prompt + "\\nCall lookup_order first.")
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from replaygate.double.request import ModelRequest

_BLOCK = re.compile(r"<prompt>\n?(.*?)\n?</prompt>", re.DOTALL)
_PLACEHOLDERS = re.compile(r"Keep every placeholder exactly as written: (.*?)\. Do not add")


@dataclass(frozen=True)
class OptimizerAsk:
    """One optimizer call. `kind`: critique (the critic reads traces), edit (apply a critique), reflect (rewrite from
    traces and the graders' lessons) or crossover (merge in what a second prompt states)."""

    kind: str
    prompt: str  # the prompt under review, or to rewrite
    traces: str = ""  # critique and reflect: the failing traces, as the optimizer rendered them
    critique: str = ""  # edit: the critic's answer; reflect: the lessons; crossover: the instructions to merge in
    other: str = ""  # crossover: the second prompt
    placeholders: tuple[str, ...] = ()  # what an edited prompt must keep, e.g. ("{ticket}",)
    max_chars: int | None = None


def _section(text: str, heading: str) -> str:
    """The text under `## heading`, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(heading)}\s*\n(.*?)(?=^## |\Z)", text, re.DOTALL | re.MULTILINE)
    return match.group(1).strip() if match else ""


def optimizer_ask(request: ModelRequest) -> OptimizerAsk | None:
    """The optimizer call `request` makes, or None when it is no optimizer call (an agent turn, say)."""
    if request.tools or not request.messages:
        return None
    text = request.messages[-1].get("content")
    if not isinstance(text, str):
        return None
    blocks = _BLOCK.findall(text)
    if not blocks:
        return None
    placeholders = _PLACEHOLDERS.search(text)
    limit = re.search(r"Stay under (\d+) characters", text)
    common = dict(
        placeholders=tuple(p.strip() for p in placeholders.group(1).split(",")) if placeholders else (),
        max_chars=int(limit.group(1)) if limit else None,
    )
    if "## Prompt under review" in text:
        return OptimizerAsk("critique", blocks[0], traces=_section(text, "Traces"), **common)
    if "## Second prompt" in text and len(blocks) > 1:
        return OptimizerAsk("crossover", blocks[0], other=blocks[1], critique=_section(text, "Critique"), **common)
    if "## Failure traces" in text:
        return OptimizerAsk("reflect", blocks[0], traces=_section(text, "Failure traces"),
                            critique=_section(text, "Critique"), **common)
    if "## Critique" in text:
        return OptimizerAsk("edit", blocks[0], critique=_section(text, "Critique"), **common)
    return None


def new_prompt(text: str) -> str:
    """An editor's answer: the complete new prompt between <prompt> and </prompt> (anything else is refused)."""
    return f"<prompt>\n{text.strip()}\n</prompt>"
