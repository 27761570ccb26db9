"""Evolution along GEPA's lines: a per-task Pareto frontier, reflective mutation with minibatch acceptance, merges.

Each generation breeds `children` children. A mutation takes a frontier member (odds by
the validation tasks it is best on), runs it on the next train minibatch, and rewrites it
from what that minibatch shows (a reflective LLM rewrite, or a heuristic operator a
Thompson-sampling bandit draws). The child must beat its parent on that same minibatch
before it costs a full validation. A merge combines two frontier members that win on
different validation tasks; it must match the better of them where they differ. Every
validated candidate stays in the pool; the frontier is recomputed over the pool.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from replaygate.core.config import EvalConfig
from replaygate.core.prompt import PromptTemplate, load_prompt
from replaygate.core.task import Task
from replaygate.optimize.apo import edited_prompt
from replaygate.optimize.bandit import OperatorBandit
from replaygate.optimize.budget import BudgetExhausted
from replaygate.optimize.candidate import Candidate
from replaygate.optimize.lint import normalized
from replaygate.optimize.operators import HEURISTIC, Example, Lesson, mine_lessons, train_examples
from replaygate.optimize.optimizer_llm import OptimizerRequest
from replaygate.optimize.rollout_outcome import Outcome
from replaygate.optimize.rewrite import (
    CROSSOVER_FIELDS, REFLECT_FIELDS, critique_request, crossover_request, reflect_request,
)
from replaygate.optimize.search import Retry, Search
from replaygate.optimize.selection import fitness, merge_pair, pareto_front, pick_parent, task_wins
from replaygate.optimize.settings import EvoSettings, OptimizeSettings

LLM_OPERATORS = ("reflect", "crossover")
# The request value each LLM operator's editor reads as its critique: lint feedback on a retry goes there.
CRITIQUE_FIELDS = {"reflect": "lessons", "crossover": "differences"}
FEEDBACK_OPERATORS = ("add_constraint", "reflect")
FEEDBACK_PRIOR = (2.0, 1.0)
ORIGIN = "evo "  # a child's origin is "evo <operator>"
MERGE = "crossover"  # the merge operator keeps its old name in settings and reports
# Failing train tasks a reflection should see: one is an anecdote, a few a pattern. Four, not three: with three
# the critic on gen-2 seed 4 never saw an availability failure; five cost committed seed 3 its minibatch budget
# (3 worlds x 5 seeds, 300 rollouts).
FAILURES_WANTED = 4


@dataclass(frozen=True)
class Material:
    """What a parent's failing train outcomes on one minibatch teach; the only source operators learn from."""

    failures: Sequence[Outcome]
    lessons: Sequence[Lesson]
    examples: Sequence[Example]


@dataclass
class Proposal:
    """A child on its way: its parent(s), the operator, and the tasks it must do well on before a full validation."""

    child: Candidate
    op: str
    parents: tuple[Candidate, ...]
    batch: Sequence[Task]
    retry: Retry | None = None


class Evolution:
    name = "evo"

    def __init__(self, knobs: EvoSettings, config: EvalConfig, root: Path, settings: OptimizeSettings):
        self.knobs, self.max_chars = knobs, settings.max_chars
        self.max_rounds = knobs.generations
        names = [op for op in knobs.operators if knobs.llm_operators or op not in LLM_OPERATORS]
        if not names:
            raise ValueError("optimize.evo.operators leaves no operator once llm_operators is false")
        self.templates: dict[str, PromptTemplate] = {}
        for op, path, fields in (("reflect", knobs.reflect_prompt, REFLECT_FIELDS),
                                 ("crossover", knobs.crossover_prompt, CROSSOVER_FIELDS)):
            if op in names:
                template = load_prompt(config.resolve(root, path), f"the optimize.evo.{op}_prompt setting")
                template.check(fields)
                self.templates[op] = template
        self.critique: PromptTemplate | None = None
        if "reflect" in names and knobs.critic:
            self.critique = load_prompt(config.resolve(root, settings.critique_prompt),
                                        "the optimize.critique_prompt setting")
            self.critique.check(("prompt", "traces", "max_issues"))
        self.mutations = [op for op in names if op != MERGE]
        self.merging = MERGE in names
        # Operators that act on grader feedback start optimistic: early generations try them first.
        self.bandit = OperatorBandit(names, {name: FEEDBACK_PRIOR for name in names if name in FEEDBACK_OPERATORS})
        self.pool: list[Candidate] = []  # every fully validated candidate
        self.front: list[str] = []
        self.known: dict[str, Candidate] = {}
        self.merged: set[tuple[str, str]] = set()
        self.merge_due = False  # GEPA tries a merge after a mutation that found something new
        self.train_order: list[Task] = []
        self.cursor = 0
        self.generations: list[dict[str, Any]] = []
        self.reference_chars = 0
        self.search: Search | None = None

    # --- the Strategy protocol ---------------------------------------------------------

    def start(self, search: Search) -> None:
        self.search = search
        self.pool = [search.incumbent]
        self.known[search.incumbent.version] = search.incumbent
        self.reference_chars = len(search.incumbent.text)
        search.validate(self.pool)
        self.front = [search.incumbent.version]

    def leaders(self) -> Sequence[Candidate]:
        return [self.known[v] for v in self.front] or self.pool[:1]

    @property
    def population(self) -> list[Candidate]:
        return self.leaders()  # type: ignore[return-value]

    def step(self, search: Search, round: int) -> None:
        record: dict[str, Any] = {"generation": round, "parents": [], "proposed": 0, "admitted": 0,
                                  "screened_in": 0, "validated": 0, "improved": 0,
                                  "rollouts": {"mining": 0, "screening": 0, "validation": 0}}
        self.generations.append(record)
        record["front"] = list(self.front)
        # One child at a time, as GEPA does: each parent is drawn from the frontier as the last child left it.
        for slot in range(self.knobs.children):
            scores = self._per_task(search, self.pool)
            wins = task_wins({v: scores[v] for v in self.front})
            try:
                proposals = self._breed(search, round, slot, scores, wins, record)
                record["proposed"] += len(proposals)
                self._screen_and_validate(search, proposals, record)
            finally:
                # Also when the budget ran out mid-generation: what was validated still counts.
                self._select(search)

    # --- breeding ------------------------------------------------------------------------

    def _next_batch(self, search: Search) -> list[Task]:
        """The next train minibatch, epoch by epoch through a seeded shuffle (GEPA's sampler): every task gets its turn."""
        train = search.splits["train"]
        size = min(self.knobs.minibatch, len(train))
        if not train:
            return []
        if self.cursor + size > len(self.train_order):
            epoch = len(self.train_order) // max(1, len(train))
            order = list(train)
            search.rng("evo-train", epoch).shuffle(order)
            self.train_order = self.train_order[self.cursor:] + order
            self.cursor = 0
        batch = self.train_order[self.cursor:self.cursor + size]
        self.cursor += size
        return batch

    def _breed(self, search: Search, round: int, slot: int, scores: Mapping[str, Mapping[str, float]],
               wins: Mapping[str, int], record: dict[str, Any]) -> list[Proposal]:
        """A merge once the last child improved and two frontier members win different tasks, else a mutation."""
        proposals: list[Proposal] = []
        requests: list[tuple[OptimizerRequest, Proposal]] = []
        if self.merging and self.merge_due and len(self.merged) < self.knobs.merges and search.calls_left() > 0:
            merge = self._merge(search, round, slot, scores)
            self.merge_due = False
            if merge is not None:
                requests.append(merge)
        if not requests:
            mutation = self._mutation(search, round, slot, wins, record)
            if mutation is not None:
                request, proposal = mutation
                if request is None:
                    proposals.append(proposal)
                else:
                    requests.append((request, proposal))
        return proposals + self._rewritten(search, round, requests)

    def _mutation(self, search: Search, round: int, slot: int, wins: Mapping[str, int],
                  record: dict[str, Any]) -> tuple[OptimizerRequest | None, Proposal] | None:
        """A frontier member's mutation by the operators the bandit draws, until one applies: a heuristic child
        (no request), or a reflection's request with the proposal its answer completes; None when nothing applies."""
        calls = search.calls_left()
        if calls <= 0 and not any(op in HEURISTIC for op in self.mutations):
            return None  # optimize.max_calls: nothing left that could breed
        rng = search.rng("evo", round, slot)
        parent = self.known[pick_parent(self.front, wins, rng)]
        record["parents"].append(parent.version)
        with self._spending(search, record, "mining"):
            batch, material = self._material(search, parent)
        if not material.failures:
            return None  # a perfect parent on two minibatches: nothing to reflect on
        left = list(self.mutations)
        seed = search.settings.seed * 1000 + round * 100 + slot
        if calls <= 0:
            left = [op for op in left if op not in LLM_OPERATORS]
        while left:
            op = self.bandit.choose(rng, left)
            left.remove(op)
            if op in HEURISTIC:
                text = HEURISTIC[op](parent.text, (material.lessons, material.examples), rng, self.max_chars)
                if text is not None and normalized(text) != normalized(parent.text):
                    return None, Proposal(Candidate(text, parent.version, ORIGIN + op, round), op, (parent,), batch)
            elif op == "reflect":
                reading = self._reading(search, parent, material, seed) if calls >= 2 else ""
                request = reflect_request(self.templates[op], parent.text, material.failures, material.lessons,
                                          search.metric, search.required, self.max_chars, seed, reading)
                if request is not None:
                    return request, Proposal(Candidate(""), op, (parent,), batch)
        return None

    def _rewritten(self, search: Search, round: int,
                   requests: Sequence[tuple[OptimizerRequest, Proposal]]) -> list[Proposal]:
        """The LLM operators' proposals, each with the editor's prompt as its child; an empty answer is a rejection."""
        proposals = []
        requests = requests[: search.calls_left()]  # optimize.max_calls
        answers = search.llm.complete_many([request for request, _ in requests])
        for (request, proposal), answer in zip(requests, answers):
            self.bandit.records[proposal.op].optimizer_calls += 1
            if answer and answer.strip():
                parent = proposal.parents[0]
                proposal.child = Candidate(edited_prompt(answer), parent.version, ORIGIN + proposal.op, round)
                proposal.retry = Retry(request, CRITIQUE_FIELDS[proposal.op], edited_prompt)
                proposals.append(proposal)
            else:
                self.bandit.record(proposal.op, "rejected")
        return proposals

    def _reading(self, search: Search, parent: Candidate, material: Material, seed: int) -> str:
        """The critic's reading of the failures (the first half of a reflection, one optimizer call); "" without one."""
        if self.critique is None:
            return ""
        request = critique_request(self.critique, parent.text, material.failures, search.metric,
                                   search.settings.max_issues, seed)
        if request is None:
            return ""
        (answer,) = search.llm.complete_many([request])
        self.bandit.records["reflect"].optimizer_calls += 1
        return answer or ""

    def _material(self, search: Search, parent: Candidate) -> tuple[list[Task], Material]:
        """The parent on train minibatches until it fails a few (at most three draws), what those failures teach,
        and the tasks its child must beat it on: the failures and as many it passed (regressions show there)."""
        drawn: list[Task] = []
        failures: list[Outcome] = []
        for _ in range(3):
            batch = self._next_batch(search)
            outcomes = search.outcomes(parent, batch)
            drawn += batch
            failures += search.showable([o for task in batch for o in outcomes[task.id] if o.metric(search.metric) < 1.0])
            if len({o.task_id for o in failures}) >= FAILURES_WANTED:
                break
        failing = {o.task_id for o in failures}
        passing = [t for t in drawn if t.id not in failing]
        kept = search.rng("evo-accept", parent.version, len(self.train_order), self.cursor).sample(
            passing, min(len(passing), max(len(failing), 1)))
        accept = [t for t in drawn if t.id in failing or t in kept]
        train = {task.id: task for task in search.splits["train"]}
        # Only these failures' lessons, most widespread first: the rules this parent still lacks, in the order
        # its failures rank them (a pooled list would re-rank rules the parent already states).
        return accept, Material(failures, mine_lessons(failures), train_examples(failures, train))

    def _merge(self, search: Search, round: int, slot: int,
               scores: Mapping[str, Mapping[str, float]]) -> tuple[OptimizerRequest, Proposal] | None:
        """Two frontier members that win different validation tasks, not merged before, as a crossover request."""
        order = sorted(self.front, key=lambda v: (-self._fitness(search, self.known[v]), len(self.known[v].text), v))
        pair = merge_pair({v: scores[v] for v in self.front}, order, self.merged)
        if pair is None:
            return None
        self.merged.add(pair)
        base, other = self.known[pair[0]], self.known[pair[1]]
        seed = search.settings.seed * 1000 + round * 100 + slot + 50
        request = crossover_request(self.templates[MERGE], base.text, other.text, search.required, self.max_chars, seed)
        if request is None:
            return None
        # Where the two differ: the merge must do as well there as the better of them.
        tasks = [t for t in search.splits["validation"] if scores[base.version][t.id] != scores[other.version][t.id]]
        return request, Proposal(Candidate(""), MERGE, (base, other), tasks)

    # --- acceptance, validation, selection ----------------------------------------------------

    def _screen_and_validate(self, search: Search, proposals: Sequence[Proposal], record: dict[str, Any]) -> None:
        """Lint, minibatch acceptance, then a full validation of each child that passed; stops at the budget."""
        for proposal in proposals:
            op = proposal.op
            calls = search.budget.optimizer_calls
            admitted = search.admit([proposal.child], [proposal.retry])
            self.bandit.records[op].optimizer_calls += search.budget.optimizer_calls - calls  # a lint retry
            if not admitted:
                self.bandit.record(op, "rejected")
                continue
            (child,) = admitted
            record["admitted"] += 1
            self.known[child.version] = child
            try:
                with self._spending(search, record, "screening"):
                    ok = self._accepts(search, child, proposal)
                if not ok:
                    self.bandit.record(op, "screened_out")
                    continue
                record["screened_in"] += 1
                tasks = search.splits["validation"]
                if search.evaluator.cost([(child, tasks)]) > search.budget.remaining:
                    search.note(child, status="not validated: budget spent")
                    raise BudgetExhausted("no rollouts left to validate a child that passed its minibatch")
                with self._spending(search, record, "validation"):
                    search.validate([child])
            except BudgetExhausted:
                if search.log[child.version].status == "proposed":
                    search.note(child, status="not screened: budget spent")
                raise
            self.pool.append(child)
            improved = search.val_mean(child) > max(search.val_mean(p) for p in proposal.parents) + 1e-9
            self.merge_due = self.merge_due or (improved and op != MERGE)
            self.bandit.record(op, "improved" if improved else "validated")
            record["validated"] += 1
            record["improved"] += improved

    def _accepts(self, search: Search, child: Candidate, proposal: Proposal) -> bool:
        """A mutation must beat its parent on the parent's minibatch (GEPA); a merge must match the better parent."""
        batch = list(proposal.batch)
        if not batch:
            return True
        found = search.scores([*proposal.parents, child], batch)
        sums = [sum(s.values()) for s in found]
        mine, theirs = sums[-1], sums[:-1]
        search.note(child, minibatch_mean=mine / len(batch), minibatch_n=len(batch))
        ok = mine > theirs[0] + 1e-9 if len(theirs) == 1 else mine >= max(theirs) - 1e-9
        if not ok:
            where = "train minibatch" if len(theirs) == 1 else "validation tasks where its parents differ"
            search.note(child, status=f"not above its {'parent' if len(theirs) == 1 else 'parents'} on the {where} "
                                      f"({len(batch)} tasks)")
        return ok

    @contextmanager
    def _spending(self, search: Search, record: dict[str, Any], kind: str) -> Iterator[None]:
        """Count the rollouts a block pays for under `kind` in the generation's record."""
        before = search.budget.used
        try:
            yield
        finally:
            record["rollouts"][kind] += search.budget.used - before

    def _per_task(self, search: Search, candidates: Sequence[Candidate]) -> dict[str, dict[str, float]]:
        """Per-task validation scores of fully validated candidates: cache hits, no new rollouts."""
        found = search.scores(candidates, search.splits["validation"])
        return {c.version: scores for c, scores in zip(candidates, found)}

    def _fitness(self, search: Search, candidate: Candidate) -> float:
        return fitness(search.val_mean(candidate), len(candidate.text), self.reference_chars, self.knobs.length_penalty)

    def _select(self, search: Search) -> None:
        """The frontier over the whole pool: a candidate survives while it is best on some validation task."""
        scores = self._per_task(search, self.pool)
        chars = {c.version: len(c.text) for c in self.pool}
        self.front = pareto_front(scores, chars)
        for candidate in self.pool:
            if candidate.version == search.incumbent.version:
                continue
            better = search.val_mean(candidate) > search.val_mean(self.known[candidate.parent]) + 1e-9
            where = "on the Pareto front" if candidate.version in self.front else "off the Pareto front"
            search.note(candidate, status=("improved on its parent; " if better else "") + where)
        if self.generations:
            self.generations[-1]["population"] = list(self.front)
            self.generations[-1]["best_val"] = round(max(search.val_mean(c) for c in self.pool), 4)

    # --- what the run reports -----------------------------------------------------------------

    def extra(self) -> dict[str, Any]:
        """Strategy data for the document: operator statistics, generations and lineage."""
        return {
            "operators": self.bandit.to_json(),
            "generations": self.generations,
            "population": list(self.front),
            "pool": [c.version for c in self.pool],
            "lineage": {v: {"parent": c.parent, "operator": c.origin.removeprefix(ORIGIN), "round": c.round}
                        for v, c in self.known.items()},
        }

    def artifacts(self, document: Mapping[str, Any]) -> dict[str, str]:
        """Files under reports/optimization/: the best prompt, every variant with lineage, and a summary."""
        texts = self.search.texts if self.search is not None else {}
        variants = [
            {**entry, "operator": entry["origin"].removeprefix(ORIGIN), "text": texts[entry["version"]].text}
            for entry in document["candidates"] if entry["version"] in texts
        ]
        summary = {
            key: document.get(key)
            for key in ("suite", "strategy", "prompt_path", "backend", "simulator", "agent_model", "optimizer_model",
                        "seed", "metric", "accepted", "stopped", "budget", "trajectory")
        }
        summary.update({
            "settings": document["settings"]["evo"],
            "incumbent": {k: document["incumbent"][k] for k in ("version", "splits")},
            "best": {k: document["best"][k] for k in ("version", "splits")},
            "gate": document.get("gate"),
            "operators": self.bandit.to_json(),
            "generations": self.generations,
        })
        dump = lambda data: json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"  # noqa: E731
        return {"evo-best.md": document["best"]["text"], "evo-variants.json": dump(variants),
                "evo-summary.json": dump(summary)}
