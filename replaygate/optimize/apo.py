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
        if search.calls_left() < 2:
            return  # optimize.max_calls: no critique and edit left to make
        critiqued = self._critiques(search, round)
        proposals, retries = self._edits(search, round, critiqued)
        children = search.admit(proposals, retries)
        if not children:
            return
        survivors = search.race(children, self.knobs.val_batch_size, self.knobs.beam_width, round)
        self.beam = self._next_beam(search, survivors)
        for candidate in survivors:
            search.note(candidate, status="in the beam" if candidate in self.beam else "dropped from the beam")

    def _critiques(self, search: Search, round: int) -> list[tuple[Candidate, str]]:
        """The critic's reading of each beam prompt's failing train tasks, for as many prompts as can then be edited."""
        parents = []
        requests = []
        for parent in self.beam:
            failures = search.failures(parent, self.knobs.gradient_batch_size, "gradient", round)
            if not failures:
                continue  # nothing on this minibatch to learn from
            traces = render_traces([(o.task_id, o.metric(search.metric), o.trace) for o in failures])
            values = {"prompt": parent.text, "traces": traces, "max_issues": str(search.settings.max_issues)}
            parents.append(parent)
            requests.append(OptimizerRequest(self.critique, values, seed=search.settings.seed * 1000 + round))
        # optimize.max_calls: each critique needs its edits too, so critique only as many parents as can be edited.
        affordable = search.calls_left() // (1 + self.knobs.branch_factor) or min(1, search.calls_left() // 2)
        parents, requests = parents[:affordable], requests[:affordable]
        return [(parent, text) for parent, text in zip(parents, search.llm.complete_many(requests))
                if text and text.strip()]

    def _edits(self, search: Search, round: int,
               critiqued: Sequence[tuple[Candidate, str]]) -> tuple[list[Candidate], list[Retry]]:
        """`branch_factor` edits of each critiqued prompt, and how to ask again when lint rejects one."""
        placeholders = ", ".join("{" + name + "}" for name in search.required)
        edits = []
        owners = []
        for parent, critique in critiqued:
            for branch in range(self.knobs.branch_factor):
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
        return proposals, retries

    def _next_beam(self, search: Search, survivors: Sequence[Candidate]) -> list[Candidate]:
        """The best `beam_width` of the beam and the race's survivors on validation, one of each set of twins."""
        pool = list({c.version: c for c in [*self.beam, *survivors]}.values())
        ranked = sorted(pool, key=lambda c: (-search.val_mean(c), len(c.text), c.version))
        # Twins (the same score on every validation task) share a beam slot: critiquing both would spend
        # optimizer calls on one behaviour twice. The shorter twin stays.
        vectors = dict(zip((c.version for c in pool), search.scores(pool, search.splits["validation"])))
        beam: list[Candidate] = []
        for candidate in ranked:
            if len(beam) < self.knobs.beam_width and all(vectors[candidate.version] != vectors[b.version] for b in beam):
                beam.append(candidate)
        return beam
