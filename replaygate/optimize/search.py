"""The shared optimization core: splits, cached evaluation, budget, racing, early stopping and the gate.

A Strategy (APO, evolutionary) decides only how candidates are proposed and which
survive a round; everything that spends rollouts or writes files lives here.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Protocol, Sequence

from replaygate.core.task import Task
from replaygate.optimize.budget import Budget, BudgetExhausted
from replaygate.optimize.candidate import Candidate
from replaygate.optimize.evaluator import CandidateEvaluator
from replaygate.optimize.writeback import GateDecision, held_out_leaks, holdout_too_small, write_back_decision
from replaygate.optimize.lint import lint_candidate, normalized
from replaygate.optimize.optimizer_llm import OptimizerLLM, OptimizerRequest
from replaygate.optimize.rollout_outcome import Outcome
from replaygate.optimize.selection import confident_pick, lower_bound
from replaygate.optimize.settings import OptimizeSettings
from replaygate.optimize.split import assign_splits
from replaygate.optimize.critic_traces import without_results

Progress = Callable[[str], None]
# Appended to what an editor reads as its critique when lint rejected its first answer.
FEEDBACK = ("Your previous version of the prompt was rejected: {problem}. "
            "Write the complete prompt again without this problem.")

# An editor reply with no <prompt> block (apo.edited_prompt gives ""): the problem its one retry is told.
NO_PROMPT = "your reply held no new prompt; write the complete new prompt between <prompt> and </prompt>"


class Strategy(Protocol):
    name: str
    max_rounds: int

    def start(self, search: "Search") -> None:
        """Seed the beam or population with the incumbent."""

    def step(self, search: "Search", round: int) -> None:
        """One round: propose, lint (search.admit), screen, select."""

    def leaders(self) -> Sequence[Candidate]:
        """The candidates this strategy would keep, all scored on the full validation split."""


@dataclass
class CandidateLog:
    """One row of the report's candidates table."""

    version: str
    parent: str | None
    origin: str
    round: int
    chars: int
    status: str = "proposed"  # rejected by lint, raced out, kept, best, accepted …
    notes: list[str] = field(default_factory=list)
    val_mean: float | None = None
    val_n: int = 0
    minibatch_mean: float | None = None
    minibatch_n: int = 0
    # The final pick's re-evaluation: the mean and lower bound over validation plus the recheck train tasks.
    recheck_mean: float | None = None
    recheck_n: int = 0
    recheck_bound: float | None = None


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


@dataclass(frozen=True)
class Retry:
    """How to ask an editor again once lint rejects its answer: the same request, the lint message in `field`."""

    request: OptimizerRequest
    field: str  # the request value the editor reads as its critique
    parse: Callable[[str], str]  # the new prompt out of the editor's answer

    def with_feedback(self, problem: str) -> OptimizerRequest:
        values = dict(self.request.values)
        values[self.field] = values[self.field].rstrip() + "\n\n" + FEEDBACK.format(problem=problem.rstrip("."))
        return OptimizerRequest(self.request.template, values, self.request.seed)


@dataclass
class Search:
    settings: OptimizeSettings
    evaluator: CandidateEvaluator
    llm: OptimizerLLM
    tasks: Sequence[Task]
    incumbent: Candidate
    required: Sequence[str]
    progress: Progress = lambda line: None
    splits: dict[str, list[Task]] = field(init=False)
    log: dict[str, CandidateLog] = field(init=False, default_factory=dict)
    trajectory: list[dict] = field(init=False, default_factory=list)
    texts: dict[str, Candidate] = field(init=False, default_factory=dict)
    seen: set[str] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        ratios = self.settings.splits.model_dump()
        # Never salted with the seed: another seed would hold out tasks this one trained on (and wrote into the prompt).
        self.splits = assign_splits(self.tasks, ratios, salt=self.settings.split_salt)
        if not self.splits["validation"]:
            raise ValueError("the validation split is empty; give it a larger ratio in [tool.replaygate.optimize.splits]")
        # Checked before any rollout: a search whose winner the gate could never accept spends its budget for nothing.
        too_small = holdout_too_small(len(self.splits["holdout"]), self.settings.alpha)
        if too_small:
            raise ValueError(f"{len(self.tasks)} tasks: {too_small}")
        leaks = held_out_leaks(self.incumbent.text, self.splits)
        if leaks:
            raise ValueError(
                f"{self.evaluator.incumbent_path}: the live prompt holds {leaks[0]}, which the critic and editor would "
                "then see; remove that example from the prompt, or give the task \"split\": \"train\" in its task file")
        self.note(self.incumbent, status="incumbent")
        self.seen.add(normalized(self.incumbent.text))

    @property
    def budget(self) -> Budget:
        return self.evaluator.budget

    @property
    def metric(self) -> str:
        return self.settings.metric

    def calls_left(self) -> int:
        """Optimizer calls the run may still make (optimize.max_calls)."""
        return max(0, self.settings.max_calls - self.budget.optimizer_calls)

    def rng(self, *parts: object) -> random.Random:
        """A generator that depends only on the seed and `parts`: reruns draw the same."""
        return random.Random("|".join(map(str, (self.settings.seed, *parts))))

    # --- candidates ---------------------------------------------------------------

    def note(self, candidate: Candidate, **changes) -> CandidateLog:
        entry = self.log.get(candidate.version)
        if entry is None:
            entry = self.log[candidate.version] = CandidateLog(
                candidate.version, candidate.parent, candidate.origin, candidate.round, len(candidate.text),
                notes=list(candidate.notes),
            )
            self.texts[candidate.version] = candidate
        for key, value in changes.items():
            setattr(entry, key, value)
        return entry

    def admit(self, proposals: Sequence[Candidate], retries: Sequence[Retry | None] | None = None) -> list[Candidate]:
        """Lint proposals before any rollout: repair what can be repaired, drop the rest and duplicates. A proposal
        with a `Retry` that lint rejects is asked for once more, the lint message as feedback (an optimizer call)."""
        admitted: list[Candidate] = []
        again: list[tuple[Candidate, Retry, str]] = []
        for proposal, retry in zip(proposals, retries or [None] * len(proposals)):
            candidate, problem = self._check(proposal)
            if candidate is not None:
                admitted.append(candidate)
            elif problem and retry is not None:
                again.append((proposal, retry, problem))
        again = again[: self.calls_left()]
        answers = self.llm.complete_many([retry.with_feedback(problem) for _, retry, problem in again])
        for (proposal, retry, problem), answer in zip(again, answers):
            if answer and answer.strip():
                second = Candidate(retry.parse(answer), proposal.parent, proposal.origin, proposal.round,
                                   (*proposal.notes, f"asked again after lint: {problem}"))
                candidate, _ = self._check(second)
                if candidate is not None:
                    admitted.append(candidate)
        return admitted

    def _check(self, proposal: Candidate) -> tuple[Candidate | None, str]:
        """(the admitted candidate, "") or (None, the lint problem an editor may fix; "" when feedback cannot help)."""
        if not proposal.text.strip():
            return None, NO_PROMPT
        verdict = lint_candidate(proposal.text, self.required, self.settings.max_chars, self.seen)
        notes = (*proposal.notes, *verdict.repairs)
        if verdict.text is None:
            if verdict.duplicate:
                return None, ""
            self.note(Candidate(proposal.text, proposal.parent, proposal.origin, proposal.round, notes),
                      status=f"rejected by lint: {verdict.rejected}")
            return None, verdict.rejected
        candidate = Candidate(verdict.text, proposal.parent, proposal.origin, proposal.round, notes)
        leaks = held_out_leaks(candidate.text, self.splits)
        if leaks:
            # Never asked again: feedback naming the task would show it to the editor.
            self.note(candidate, status=f"rejected: holds {leaks[0]}")
            return None, ""
        self.seen.add(normalized(candidate.text))
        self.note(candidate, status="proposed")
        return candidate, ""

    # --- evaluation ---------------------------------------------------------------

    def minibatch(self, split: str, size: int, *salt: object) -> list[Task]:
        tasks = list(self.splits[split])
        if size >= len(tasks):
            return tasks
        return self.rng(split, *salt).sample(tasks, size)

    def outcomes(self, candidate: Candidate, tasks: Sequence[Task]) -> dict[str, list[Outcome]]:
        (found,) = self.evaluator.evaluate([(candidate, tasks)])
        return found

    def scores(self, candidates: Sequence[Candidate], tasks: Sequence[Task]) -> list[dict[str, float]]:
        """Each candidate's metric per task (mean over repeats), evaluated together."""
        found = self.evaluator.evaluate([(c, tasks) for c in candidates])
        return [{tid: mean([o.metric(self.metric) for o in outs]) for tid, outs in f.items()} for f in found]

    def validate(self, candidates: Sequence[Candidate]) -> list[float]:
        """Full-validation means; recorded in the candidates table."""
        per_task = self.scores(candidates, self.splits["validation"])
        means = []
        for candidate, scores in zip(candidates, per_task):
            value = mean(list(scores.values()))
            self.note(candidate, val_mean=value, val_n=len(scores))
            means.append(value)
        return means

    def val_mean(self, candidate: Candidate) -> float:
        entry = self.log.get(candidate.version)
        if entry is None or entry.val_mean is None:
            return self.validate([candidate])[0]
        return entry.val_mean

    def showable(self, outcomes: Sequence[Outcome]) -> list[Outcome]:
        """Outcomes a critic or editor may read: a train trace whose request, calls, answer or grading show a
        validation or holdout task (a near-duplicate task) is never sent. Tool results are the environment's data,
        shared by every task, and are not what the check is about: a dense listing matches almost any task."""
        return [o for o in outcomes if not held_out_leaks(without_results(o.trace), self.splits)]

    def failures(self, candidate: Candidate, size: int, *salt: object, chunks: int = 3) -> list[Outcome]:
        """Up to `size` imperfect train outcomes: what a critic may see (ProTeGi samples errors, not tasks).

        Train tasks are tried `size` at a time in a seeded order, at most `chunks` times, so
        a nearly perfect prompt still shows its critic the failures it has.
        """
        order = self.minibatch("train", len(self.splits["train"]), candidate.version, *salt)
        found: list[Outcome] = []
        for start in range(0, min(len(order), size * chunks), size):
            batch = order[start : start + size]
            outcomes = self.outcomes(candidate, batch)
            found += self.showable([o for task in batch for o in outcomes[task.id] if o.metric(self.metric) < 1.0])
            if len(found) >= size:
                break
        return found[:size]

    def race(self, children: Sequence[Candidate], start: int, keep: int, round: int) -> list[Candidate]:
        """Successive halving on validation minibatches; the `keep` survivors end on the full split."""
        alive = list(children)
        size = start
        full = len(self.splits["validation"])
        while alive:
            batch = self.minibatch("validation", size, "race", round)
            per_task = self.scores(alive, batch)
            ranked = sorted(zip(alive, per_task), key=lambda pair: -mean(list(pair[1].values())))
            for candidate, scores in ranked:
                self.note(candidate, minibatch_mean=mean(list(scores.values())), minibatch_n=len(scores))
            if len(batch) >= full:
                alive = [c for c, _ in ranked]
                break
            cut = max(keep, (len(alive) + 1) // 2)
            for candidate, _ in ranked[cut:]:
                self.note(candidate, status=f"raced out on {len(batch)} validation tasks")
            alive = [c for c, _ in ranked[:cut]]
            size = min(full, size * 2)
        survivors = alive[:keep]
        for candidate in alive[keep:]:
            self.note(candidate, status="raced out on the full validation split")
        self.validate(survivors)
        return survivors

    def beats_parent(self, child: Candidate, parent: Candidate, size: int, round: int,
                     batch: Sequence[Task] | None = None) -> bool:
        """Cheap rejection: the child must match or beat its parent on a small validation minibatch.

        A strategy may pass its own `batch` of validation tasks (say, some its parent fails).
        """
        batch = list(batch) if batch is not None else self.minibatch("validation", size, "screen", round, child.version)
        parent_scores, child_scores = self.scores([parent, child], batch)
        ok = mean(list(child_scores.values())) >= mean(list(parent_scores.values()))
        self.note(child, minibatch_mean=mean(list(child_scores.values())), minibatch_n=len(batch))
        if not ok:
            self.note(child, status=f"below its parent on {len(batch)} validation tasks")
        return ok

    # --- the run ------------------------------------------------------------------

    def holdout_reserve(self) -> int:
        """Rollouts the gate needs at the end (incumbent and one candidate on the holdout split)."""
        return 2 * len(self.splits["holdout"]) * self.evaluator.repeats

    def recheck_tasks(self) -> list[Task]:
        """The train tasks every finalist is re-evaluated on: the same for all of them, so the comparison is paired."""
        return self.minibatch("train", self.settings.recheck, "recheck")

    def recheck_reserve(self) -> int:
        """Rollouts held back for re-evaluating two finalists (more run when the search leaves budget over)."""
        return 2 * len(self.recheck_tasks()) * self.evaluator.repeats if self.settings.finalists > 1 else 0

    def run(self, strategy: Strategy) -> "SearchResult":
        budget = self.budget
        reserve = self.holdout_reserve() + self.recheck_reserve()
        if budget.rollouts <= reserve + len(self.splits["validation"]):
            raise ValueError(
                f"budget of {budget.rollouts} rollouts cannot cover the validation split and the holdout gate "
                f"({len(self.splits['validation'])} + {reserve}); raise --optimize-budget"
            )
        budget.reserved = reserve
        try:
            best, stopped = self._rounds(strategy)
        finally:
            budget.reserved = 0
        budget.reserved = self.holdout_reserve()
        try:
            pick = self._final_pick(best)
        finally:
            budget.reserved = 0
        return self._finish(pick, stopped)

    def _rounds(self, strategy: Strategy) -> tuple[Candidate, str]:
        """The strategy's rounds until one of the stops: the best candidate on validation, and why it stopped."""
        strategy.start(self)
        best = self._best(strategy)
        self._point(0, best)
        stale = 0
        for round in range(1, strategy.max_rounds + 1):
            try:
                strategy.step(self, round)
            except BudgetExhausted as exc:
                # What the strategy validated before the budget ran out still counts.
                leader = self._best(strategy)
                if self.val_mean(leader) > self.val_mean(best) + 1e-9:
                    best = leader
                    self._point(round, best)
                return best, f"budget: round {round} stopped ({exc})"
            leader = self._best(strategy)
            improved = self.val_mean(leader) > self.val_mean(best) + 1e-9
            best = leader if improved else best
            self._point(round, best)
            stale = 0 if improved else stale + 1
            if stale >= self.settings.patience:
                return best, f"early stop: no better validation score for {stale} rounds"
            if self.val_mean(best) >= 1.0:
                return best, "validation score is perfect"
        return best, f"{strategy.max_rounds} rounds done"

    def _final_pick(self, best: Candidate) -> Candidate:
        """Confidence-aware: the top `finalists` on validation are re-run on the same train tasks, and the one whose
        lower bound over validation and those tasks is highest is picked (a few validation tasks flatter a lucky one)."""
        full = len(self.splits["validation"])
        validated = [self.texts[e.version] for e in self.log.values() if e.val_mean is not None and e.val_n >= full]
        ranked = sorted(validated, key=lambda c: (-self.val_mean(c), len(c.text), c.version))
        ranked = [best, *[c for c in ranked if c.version != best.version]][: self.settings.finalists]
        if len(ranked) < 2 or best.version == self.incumbent.version:
            return best
        tasks = [*self.splits["validation"], *self.recheck_tasks()]
        finalists = [ranked[0]]
        for candidate in ranked[1:]:
            if self.evaluator.cost([(c, tasks) for c in [*finalists, candidate]]) > self.budget.remaining:
                break
            finalists.append(candidate)
        if len(finalists) < 2:
            return best
        per_task = self.scores(finalists, tasks)
        scores = {c.version: s for c, s in zip(finalists, per_task)}
        version = confident_pick(scores, self.settings.confidence_z, {c.version: len(c.text) for c in finalists})
        for candidate in finalists:
            values = list(scores[candidate.version].values())
            self.note(candidate, recheck_mean=mean(values), recheck_n=len(values),
                      recheck_bound=lower_bound(values, self.settings.confidence_z))
        pick = next(c for c in finalists if c.version == version)
        if pick.version != best.version:
            self.progress(f"final pick: {pick.version} over {best.version}, the higher lower bound on "
                          f"{len(tasks)} validation and train tasks; rollouts {self.budget.used}/{self.budget.rollouts}")
        return pick

    def _best(self, strategy: Strategy) -> Candidate:
        leaders = list(strategy.leaders()) or [self.incumbent]
        # Ties go to the shorter prompt, then the earlier version string: deterministic.
        return max(leaders, key=lambda c: (self.val_mean(c), -len(c.text), c.version))

    def _point(self, number: int, best: Candidate) -> None:
        point = {
            "round": number,
            "rollouts": self.budget.used,
            "best_val": round(self.val_mean(best), 4),
            "best": best.version,
            "candidates": sum(1 for e in self.log.values() if e.round == number and e.version != self.incumbent.version),
        }
        self.trajectory.append(point)
        b = self.budget
        tokens = b.agent_tokens + b.optimizer_tokens_in + b.optimizer_tokens_out
        self.progress(
            f"round {number}: {point['candidates']} candidates, best validation {point['best_val']:.3f}, "
            f"rollouts {b.used}/{self.budget.rollouts}, optimizer calls {b.optimizer_calls}, tokens {tokens}"
        )

    def _finish(self, best: Candidate, stopped: str) -> "SearchResult":
        holdout = self.splits["holdout"]
        if best.version == self.incumbent.version:
            inc = self.scores([self.incumbent], holdout)[0] if self.budget.remaining >= len(holdout) else {}
            return SearchResult(self, best, None, stopped, {"incumbent": inc})
        try:
            inc, cand = self.scores([self.incumbent, best], holdout)
        except BudgetExhausted as exc:
            return SearchResult(self, best, None, f"{stopped}; no budget left for the holdout gate ({exc})", {})
        # Repeats are already averaged per task: each task is one pair. Admitted candidates show no held-out
        # task, but the gate checks again: it alone decides what is written.
        leaks = held_out_leaks(best.text, self.splits)
        decision = write_back_decision({t: [v] for t, v in inc.items()}, {t: [v] for t, v in cand.items()},
                                       self.settings.min_gain, self.settings.alpha, leaks)
        self.note(best, status="accepted" if decision.accepted else "best on validation; rejected at the gate")
        return SearchResult(self, best, decision, stopped, {"incumbent": inc, "candidate": cand})


@dataclass
class SearchResult:
    search: Search
    best: Candidate
    decision: GateDecision | None
    stopped: str
    holdout: Mapping[str, Mapping[str, float]]

    @property
    def accepted(self) -> bool:
        return self.decision is not None and self.decision.accepted

