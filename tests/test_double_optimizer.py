"""A double reads the optimizer's critic and editor calls back into fields, from the templates the optimizer sends."""

from __future__ import annotations

import pytest

from replaygate.core.prompt import load_prompt
from replaygate.double import ModelRequest, new_prompt, optimizer_ask
from replaygate.double.request import parse_request
from replaygate.optimize.settings import PACKAGED

VALUES = {"prompt": "Triage {ticket}.", "traces": "### t1 (score 0.00)\n- called lookup_order 0 times",
          "max_issues": "3", "critique": "1. Call lookup_order first.", "lessons": "Rules: call lookup_order.",
          "other": "Triage {ticket}. Call lookup_order first.", "differences": "1. Call lookup_order first.",
          "placeholders": "{ticket}", "max_chars": "2000"}


def sent(template: str) -> ModelRequest:
    """The request the optimizer sends for a packaged template, as the double receives it."""
    messages = load_prompt(PACKAGED / template).render(VALUES)
    return parse_request("chat", {"model": "m", "messages": messages, "temperature": 0.7, "seed": 1})


@pytest.mark.parametrize("template, kind, fields", [
    ("critique.md", "critique", {"traces": VALUES["traces"]}),
    ("edit.md", "edit", {"critique": VALUES["critique"]}),
    ("reflect.md", "reflect", {"traces": VALUES["traces"], "critique": VALUES["lessons"]}),
    ("crossover.md", "crossover", {"other": VALUES["other"]}),
])
def test_every_optimizer_call_is_read_back_into_its_kind_and_fields(template, kind, fields):
    ask = optimizer_ask(sent(template))
    assert ask is not None and ask.kind == kind and ask.prompt == VALUES["prompt"]
    for name, value in fields.items():
        assert getattr(ask, name).startswith(value) or value in getattr(ask, name)
    if kind != "critique":
        assert ask.placeholders == ("{ticket}",) and ask.max_chars == 2000


def test_an_agent_turn_is_no_optimizer_call():
    turn = parse_request("chat", {"model": "m", "messages": [{"role": "user", "content": "Triage order 9012."}],
                                  "tools": [{"type": "function", "function": {"name": "lookup_order"}}]})
    assert optimizer_ask(turn) is None


def test_an_edited_prompt_is_answered_in_the_block_the_optimizer_reads():
    from replaygate.optimize.apo import edited_prompt

    assert edited_prompt(new_prompt("  Triage {ticket}.\nCall lookup_order first.  ")) == \
        "Triage {ticket}.\nCall lookup_order first."


def test_the_docs_example_of_a_double_answering_the_optimizer_runs():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs/optimization.md").read_text(encoding="utf-8")
    block = re.search(r"## A double that answers the optimizer.*?```python\n(.*?)```", text, re.S)[1]
    namespace = {"agent_turn": lambda request: "an agent's answer"}
    exec(compile(block, "docs/optimization.md", "exec"), namespace)
    stand_in = namespace["stand_in"]
    assert "lookup_order" in stand_in(sent("critique.md"))
    edited = stand_in(sent("edit.md"))
    assert edited.startswith("<prompt>\nTriage {ticket}.") and edited.endswith("before you answer.\n</prompt>")
    turn = parse_request("chat", {"model": "m", "messages": [{"role": "user", "content": "hi"}],
                                  "tools": [{"type": "function", "function": {"name": "lookup_order"}}]})
    assert stand_in(turn) == "an agent's answer"
