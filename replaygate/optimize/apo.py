"""APO: textual gradients and beam search (ProTeGi, as in Agent Lightning's APO).

Each round, every prompt in the beam is critiqued on its failing train tasks, an
editor writes `branch_factor` children from each critique, the children race on
validation minibatches (successive halving), and the best `beam_width` prompts
on the full validation split form the next beam.
"""

from __future__ import annotations

import re
from typing import Sequence

from replaygate.core.prompt import PromptTemplate
from replaygate.optimize.candidate import Candidate
from replaygate.optimize.optimizer_llm import OptimizerRequest
from replaygate.optimize.search import Retry, Search
from replaygate.optimize.settings import ApoSettings
from replaygate.optimize.critic_traces import render_traces

_PROMPT_BLOCK = re.compile(r"<prompt>\s*\n?(.*?)\n?\s*</prompt>", re.DOTALL | re.IGNORECASE)


def edited_prompt(answer: str) -> str:
    """The editor's new prompt: its `<prompt>` block, or "" when it wrote none (a refusal, a question, a comment),
    which `Search.admit` rejects and asks again about; such text is never a prompt to evaluate."""
    match = _PROMPT_BLOCK.search(answer)
    return match.group(1) if match else ""


class APO:
    name = "apo"

    def __init__(self, knobs: ApoSettings, critique: PromptTemplate, edit: PromptTemplate):
        self.knobs, self.critique, self.edit = knobs, critique, edit
        self.max_rounds = knobs.beam_rounds
        self.beam: list[Candidate] = []

    def start(self, search: Search) -> None:
        self.beam = [search.incumbent]
        search.validate(self.beam)

    def leaders(self) -> Sequence[Candidate]:
        return self.beam

    def step(self, search: Search, round: int) -> None:
        knobs = self.knobs
        if search.calls_left() < 2:
            return  # optimize.max_calls: no critique and edit left to make
        critiqued: list[tuple[Candidate, str]] = []
        parents = []
        requests = []
        for parent in self.beam:
            failures = search.failures(parent, knobs.gradient_batch_size, "gradient", round)
            if not failures:
                continue  # nothing on this minibatch to learn from
            traces = render_traces([(o.task_id, o.metric(search.metric), o.trace) for o in failures])
            values = {"prompt": parent.text, "traces": traces, "max_issues": str(search.settings.max_issues)}
            parents.append(parent)
            requests.append(OptimizerRequest(self.critique, values, seed=search.settings.seed * 1000 + round))
        # optimize.max_calls: each critique needs its edits too, so critique only as many parents as can be edited.
        affordable = search.calls_left() // (1 + knobs.branch_factor) or min(1, search.calls_left() // 2)
        parents, requests = parents[:affordable], requests[:affordable]
        for parent, text in zip(parents, search.llm.complete_many(requests)):
            if text and text.strip():
                critiqued.append((parent, text))
        placeholders = ", ".join("{" + name + "}" for name in search.required)
        edits = []
        owners = []
        for parent, critique in critiqued:
            for branch in range(knobs.branch_factor):
                values = {
                    "prompt": parent.text,
                    "critique": critique,
                    "placeholders": placeholders,
                    "max_chars": str(search.settings.max_chars),
                }
                seed = search.settings.seed * 1000 + round * 100 + branch + 17 * len(edits)
                edits.append(OptimizerRequest(self.edit, values, seed=seed))
                owners.append(parent)
        proposals, retries = [], []
        edits, owners = edits[: search.calls_left()], owners[: search.calls_left()]
        for parent, request, text in zip(owners, edits, search.llm.complete_many(edits)):
            if text:
                proposals.append(Candidate(edited_prompt(text), parent.version, "apo edit", round))
                retries.append(Retry(request, "critique", edited_prompt))
        children = search.admit(proposals, retries)
        if not children:
            return
        survivors = search.race(children, knobs.val_batch_size, knobs.beam_width, round)
        pool = list({c.version: c for c in [*self.beam, *survivors]}.values())
        ranked = sorted(pool, key=lambda c: (-search.val_mean(c), len(c.text), c.version))
        # Twins (the same score on every validation task) share a beam slot: critiquing both would spend
        # optimizer calls on one behaviour twice. The shorter twin stays.
        vectors = dict(zip((c.version for c in pool), search.scores(pool, search.splits["validation"])))
        self.beam = []
        for candidate in ranked:
            if len(self.beam) < knobs.beam_width and all(vectors[candidate.version] != vectors[b.version] for b in self.beam):
                self.beam.append(candidate)
        for candidate in survivors:
            search.note(candidate, status="in the beam" if candidate in self.beam else "dropped from the beam")
