"""Evolution: a population of prompts, bred by mutation operators a bandit chooses, selected GEPA-style.

Each generation picks parents from the Pareto front of per-task validation scores, draws
an operator per child by Thompson sampling, lints the children (search.admit), rejects
those below their parent on a small minibatch, runs the best few on the full validation
split, and keeps the fittest (a length penalty curbs bloat) plus the front.
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
from replaygate.optimize.outcome import Outcome
from replaygate.optimize.rewrite import CROSSOVER_FIELDS, REFLECT_FIELDS, crossover_request, reflect_request
from replaygate.optimize.search import Retry, Search, mean
from replaygate.optimize.selection import fitness, pareto_front, pick_parent, survivors, task_wins
from replaygate.optimize.settings import EvoSettings, OptimizeSettings

LLM_OPERATORS = ("reflect", "crossover")
# The request value each LLM operator's editor reads as its critique: lint feedback on a retry goes there.
CRITIQUE_FIELDS = {"reflect": "lessons", "crossover": "differences"}
FEEDBACK_OPERATORS = ("add_constraint", "reflect")
FEEDBACK_PRIOR = (2.0, 1.0)
ORIGIN = "evo "  # a child's origin is "evo <operator>"


@dataclass(frozen=True)
class Material:
    """What a parent's failing train outcomes teach; the only source operators learn from."""

    failures: Sequence[Outcome]
    lessons: Sequence[Lesson]
    examples: Sequence[Example]


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
        # Operators that act on grader feedback start optimistic: early generations try them first.
        self.bandit = OperatorBandit(names, {name: FEEDBACK_PRIOR for name in names if name in FEEDBACK_OPERATORS})
        self.population: list[Candidate] = []
        self.known: dict[str, Candidate] = {}
        self.materials: dict[str, Material] = {}  # each parent is mined once; its lessons join the pool
        self.lesson_pool: dict[str, int] = {}  # every lesson mined this run (train only), by failing tasks
        self.generations: list[dict[str, Any]] = []
        self.reference_chars = 0
        self.search: Search | None = None

    # --- the Strategy protocol ---------------------------------------------------------

    def start(self, search: Search) -> None:
        self.search = search
        self.population = [search.incumbent]
        self.known[search.incumbent.version] = search.incumbent
        self.reference_chars = len(search.incumbent.text)
        search.validate(self.population)

    def leaders(self) -> Sequence[Candidate]:
        return self.population

    def step(self, search: Search, round: int) -> None:
        record: dict[str, Any] = {"generation": round, "parents": [], "proposed": 0, "admitted": 0,
                                  "screened_in": 0, "validated": 0, "improved": 0,
                                  "rollouts": {"mining": 0, "screening": 0, "validation": 0}}
        self.generations.append(record)
        scores = self._per_task(search, self.population)
        chars = {c.version: len(c.text) for c in self.population}
        front = pareto_front(scores, chars)
        wins = task_wins(scores)
        record["front"] = list(front)
        bred, requests = self._breed(search, round, front, wins, record)
        proposals: list[tuple[Candidate, str, Retry | None]] = [(child, op, None) for child, op in bred]
        answers = search.llm.complete_many([request for request, _, _ in requests])
        for (request, parent, op), answer in zip(requests, answers):
            self.bandit.records[op].optimizer_calls += 1
            if answer and answer.strip():
                retry = Retry(request, CRITIQUE_FIELDS[op], edited_prompt)
                proposals.append((Candidate(edited_prompt(answer), parent.version, ORIGIN + op, round), op, retry))
            else:
                self.bandit.record(op, "rejected")
        record["proposed"] = len(proposals)
        validated: list[Candidate] = []
        try:
            self._screen_and_validate(search, round, proposals, record, validated)
        finally:
            # Also when the budget ran out mid-generation: what was validated still joins.
            self._select(search, validated)

    # --- breeding ------------------------------------------------------------------------

    def _breed(self, search: Search, round: int, front: Sequence[str], wins: Mapping[str, int],
               record: dict[str, Any]) -> tuple[list[tuple[Candidate, str]], list[tuple[OptimizerRequest, Candidate, str]]]:
        """Heuristic children now, LLM children as requests sent together afterwards."""
        proposals: list[tuple[Candidate, str]] = []
        requests: list[tuple[OptimizerRequest, Candidate, str]] = []
        for slot in range(self.knobs.children):
            rng = search.rng("evo", round, slot)
            parent = self.known[pick_parent(front, wins, rng)]
            record["parents"].append(parent.version)
            left = list(self.bandit.records)
            while left:
                op = self.bandit.choose(rng, left)
                left.remove(op)
                if op in ("add_constraint", "add_example", "reflect") and parent.version not in self.materials:
                    with self._spending(search, record, "mining"):
                        self.materials[parent.version] = self._material(search, parent)
                material = self._with_pool(self.materials.get(parent.version, Material((), (), ())))
                seed = search.settings.seed * 1000 + round * 100 + slot
                if op in HEURISTIC:
                    text = HEURISTIC[op](parent.text, (material.lessons, material.examples), rng, self.max_chars)
                    if text is not None and normalized(text) != normalized(parent.text):
                        proposals.append((Candidate(text, parent.version, ORIGIN + op, round), op))
                        break
                elif op == "reflect":
                    request = reflect_request(self.templates[op], parent.text, material.failures, material.lessons,
                                              search.metric, search.required, self.max_chars, seed)
                    if request is not None:
                        requests.append((request, parent, op))
                        break
                elif op == "crossover":
                    mates = [v for v in front if v != parent.version] or [
                        c.version for c in self.population if c.version != parent.version]
                    if mates:
                        mate = self.known[rng.choice(sorted(mates))]
                        request = crossover_request(self.templates[op], parent.text, mate.text, search.required,
                                                    self.max_chars, seed)
                        if request is not None:
                            requests.append((request, parent, op))
                            break
        return proposals, requests

    def _material(self, search: Search, parent: Candidate) -> Material:
        """Mine the parent's failing train outcomes; only train tasks can ever become examples."""
        # One chunk: a nearly perfect parent costs no more to mine than a poor one; the pool fills the gaps.
        failures = search.failures(parent, self.knobs.minibatch, "evo", chunks=1)
        train = {task.id: task for task in search.splits["train"]}
        own = mine_lessons(failures)
        for lesson in own:
            self.lesson_pool[lesson.text] = self.lesson_pool.get(lesson.text, 0) + lesson.tasks
        return Material(failures, own, train_examples(failures, train))

    def _with_pool(self, material: Material) -> Material:
        """The parent's own lessons first; what other prompts' failures taught follows, at no new rollout."""
        mine = {lesson.text: lesson.tasks for lesson in material.lessons}
        ranked = sorted(self.lesson_pool, key=lambda text: (-mine.get(text, 0), -self.lesson_pool[text]))
        lessons = [Lesson(text, mine.get(text, 0) + self.lesson_pool[text]) for text in ranked]
        return Material(material.failures, lessons, material.examples)

    # --- cheap rejection, validation, selection ----------------------------------------------

    def _screen_and_validate(self, search: Search, round: int,
                             proposals: Sequence[tuple[Candidate, str, Retry | None]],
                             record: dict[str, Any], validated: list[Candidate]) -> None:
        """Cheap rejection, then full validation of the best few; `validated` fills as children are validated."""
        passed: list[tuple[Candidate, str, float]] = []
        for proposal, op, retry in proposals:
            calls = search.budget.optimizer_calls
            admitted = search.admit([proposal], [retry])
            self.bandit.records[op].optimizer_calls += search.budget.optimizer_calls - calls  # a lint retry
            if not admitted:
                self.bandit.record(op, "rejected")
                continue
            (child,) = admitted
            record["admitted"] += 1
            self.known[child.version] = child
            parent = self.known[child.parent]
            batch = self._screening_batch(search, parent, child, round)
            try:
                with self._spending(search, record, "screening"):
                    ok = search.beats_parent(child, parent, self.knobs.minibatch, round, batch)
            except BudgetExhausted:
                search.note(child, status="not screened: budget spent")
                raise
            if not ok:
                self.bandit.record(op, "screened_out")
                continue
            before, after = search.scores([parent, child], batch)  # both just evaluated: cache hits
            gain = mean(list(after.values())) - mean(list(before.values()))
            passed.append((child, op, gain))
        # Strict gains first, then the shorter child: only `promote` children earn a full validation run.
        passed.sort(key=lambda item: (-item[2], len(item[0].text), item[0].version))
        record["screened_in"] = len(passed)
        # A mere tie earns validation only by being shorter: a same-length tie is rarely worth 3x its screening.
        worth = [item for item in passed if item[2] > 1e-9 or len(item[0].text) < len(self.known[item[0].parent].text)]
        promoted = worth[: self.knobs.promote]
        for child, op, gain in passed:
            if (child, op, gain) in promoted:
                continue
            why = "among the promoted" if gain > 1e-9 else "a gain, or a shorter tie"
            search.note(child, status=f"matched its parent on the minibatch; not {why}")
            self.bandit.record(op, "screened_out")
        with self._spending(search, record, "validation"):
            validated += self._validate_affordable(search, [child for child, _, _ in promoted])
        for child, op, _ in promoted:
            if child not in validated:
                self.bandit.record(op, "screened_out")
                continue
            improved = search.val_mean(child) > search.val_mean(self.known[child.parent]) + 1e-9
            self.bandit.record(op, "improved" if improved else "validated")
            record["validated"] += 1
            record["improved"] += improved
        if len(validated) < len(promoted):
            raise BudgetExhausted("no rollouts left to validate every promoted child")

    def _screening_batch(self, search: Search, parent: Candidate, child: Candidate, round: int) -> list[Task]:
        """Mostly validation tasks the parent gets wrong (where a gain can show), some it gets right (regressions)."""
        tasks = search.splits["validation"]
        (scores,) = search.scores([parent], tasks)  # the parent is fully validated: cache hits
        rng = search.rng("evo-screen", round, child.version)
        wrong = [t for t in tasks if scores[t.id] < 1.0]
        right = [t for t in tasks if scores[t.id] >= 1.0]
        size = min(self.knobs.minibatch, len(tasks))
        take = min(len(wrong), max(1, (2 * size + 2) // 3))
        picked = rng.sample(wrong, take)
        picked += rng.sample(right, min(len(right), size - take))
        if len(picked) < size:
            picked += rng.sample([t for t in wrong if t not in picked], size - len(picked))
        chosen = {t.id for t in picked}
        return [t for t in tasks if t.id in chosen]

    def _validate_affordable(self, search: Search, children: Sequence[Candidate]) -> list[Candidate]:
        """Validate the longest prefix of `children` the budget covers, together."""
        tasks = search.splits["validation"]
        fits: list[Candidate] = []
        for child in children:
            if search.evaluator.cost([(c, tasks) for c in [*fits, child]]) > search.budget.remaining:
                search.note(child, status="not validated: budget spent")
                break
            fits.append(child)
        if fits:
            search.validate(fits)
        return fits

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

    def _select(self, search: Search, validated: Sequence[Candidate]) -> None:
        pool = {c.version: c for c in [*self.population, *validated]}
        scores = self._per_task(search, list(pool.values()))
        chars = {v: len(c.text) for v, c in pool.items()}
        ranked = sorted(pool, key=lambda v: (-self._fitness(search, pool[v]), chars[v], v))
        front = pareto_front(scores, chars)
        keep = survivors(ranked, front, self.knobs.population, self.knobs.elitism)
        self.population = [pool[v] for v in keep]
        for version, candidate in pool.items():
            if candidate.version == search.incumbent.version:
                continue
            where = "in the population" if version in keep else "dropped from the population"
            better = search.val_mean(candidate) > search.val_mean(self.known[candidate.parent]) + 1e-9
            search.note(candidate, status=("improved on its parent; " if better else "") + where
                        + ("; on the Pareto front" if version in front else ""))
        if self.generations:
            self.generations[-1]["population"] = keep
            self.generations[-1]["best_val"] = round(max(search.val_mean(c) for c in self.population), 4)

    # --- what the run reports -----------------------------------------------------------------

    def extra(self) -> dict[str, Any]:
        """Strategy data for the document: operator statistics, generations and lineage."""
        return {
            "operators": self.bandit.to_json(),
            "generations": self.generations,
            "population": [c.version for c in self.population],
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
