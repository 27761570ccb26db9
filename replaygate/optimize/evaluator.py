"""Scoring candidates on tasks through the harness, paying only for rollouts the cache lacks."""

from __future__ import annotations

import asyncio
from typing import Sequence

from replaygate.run.evaluation import Evaluation
from replaygate.core.prompt import PromptTemplate
from replaygate.core.task import Task
from replaygate.optimize.budget import Budget
from replaygate.optimize.cache import EvaluationCache, cache_key
from replaygate.optimize.candidate import Candidate
from replaygate.optimize.rollout_outcome import Outcome, outcome_of

# Failures of the service or the harness say nothing about the prompt: never cached.
UNCACHED_KINDS = ("api", "malformed", "harness")


class CandidateEvaluator:
    def __init__(self, evaluation: Evaluation, cache: EvaluationCache, budget: Budget, repeats: int = 1):
        self.evaluation, self.cache, self.budget, self.repeats = evaluation, cache, budget, repeats
        config = evaluation.config
        self.model = config.model_for("agent")
        self.decoding = {
            # Two suites may share a prompt text and task ids, never their rollouts.
            "suite": evaluation.suite.name,
            "temperature": config.temperature,
            "seed": config.seed,
            "max_turns": config.max_turns,
            "graders": dict(sorted(config.graders.items())),
            "judge": config.model_for("judge") if evaluation.uses_judge else "",
        }
        self.incumbent_path = evaluation.loaded.prompt.path
        self.paid: set[str] = set()  # keys this run paid for
        self.paid_count = 0  # payments made; equal to len(paid) unless a rollout was paid for twice
        # Service failures: scored as they are for this run (never re-paid), but never cached.
        self.uncached: dict[str, Outcome] = {}
        self.tasks: dict[str, Task] = {}
        # Rollouts this run has used, paid or from the cache. The budget counts these, so a run
        # with a warm cache follows the same path as a cold one and only pays less.
        self.used: set[str] = set()

    def key(self, candidate: Candidate, task: Task, repeat: int) -> str:
        return cache_key(candidate.version, task, self.model, self.decoding, repeat)

    def lookup(self, key: str) -> Outcome | None:
        return self.cache.get(key) or self.uncached.get(key)

    def missing(self, candidate: Candidate, tasks: Sequence[Task]) -> list[Task]:
        return [t for t in tasks if any(self.lookup(self.key(candidate, t, r)) is None for r in range(self.repeats))]

    def new_keys(self, batches: Sequence[tuple[Candidate, Sequence[Task]]]) -> list[str]:
        """Rollouts these evaluations would use that this run has not used yet (cached or not)."""
        keys: list[str] = []
        for candidate, tasks in batches:
            for task in tasks:
                for repeat in range(self.repeats):
                    key = self.key(candidate, task, repeat)
                    if key not in self.used and key not in keys:
                        keys.append(key)
        return keys

    def cost(self, batches: Sequence[tuple[Candidate, Sequence[Task]]]) -> int:
        """What these evaluations would take from the budget."""
        return len(self.new_keys(batches))

    def evaluate(self, batches: Sequence[tuple[Candidate, Sequence[Task]]]) -> list[dict[str, list[Outcome]]]:
        """Per batch, each task's outcomes (one per repeat); uncached rollouts run concurrently.

        Raises BudgetExhausted, before anything runs, when the rollouts exceed the budget.
        """
        keys = self.new_keys(batches)
        self.budget.charge(len(keys))
        self.budget.cache_hits += sum(1 for key in keys if self.cache.get(key) is not None)
        self.used.update(keys)
        todo: dict[str, tuple[Candidate, list[Task]]] = {}
        for candidate, tasks in batches:
            entry = todo.setdefault(candidate.version, (candidate, []))
            for task in self.missing(candidate, tasks):
                if task not in entry[1]:
                    entry[1].append(task)
        runs = [(c, ts) for c, ts in todo.values() if ts]
        if runs:
            asyncio.run(self._run_all(runs))
        out = []
        for candidate, tasks in batches:
            found: dict[str, list[Outcome]] = {}
            for task in tasks:
                for repeat in range(self.repeats):
                    outcome = self.lookup(self.key(candidate, task, repeat))
                    found.setdefault(task.id, []).append(outcome)
            out.append(found)
        return out

    async def _run_all(self, runs: Sequence[tuple[Candidate, list[Task]]]) -> None:
        results = await asyncio.gather(*(self._run_one(c, ts) for c, ts in runs))
        fresh = []
        for (candidate, _), outcomes in zip(runs, results):
            for task_id, outcome in outcomes:
                key = self.key(candidate, self.tasks[task_id], outcome.repeat)
                self.paid.add(key)
                self.paid_count += 1
                self.budget.agent_tokens += outcome.tokens
                if outcome.error_kind in UNCACHED_KINDS:
                    self.uncached[key] = outcome
                else:
                    fresh.append((key, outcome))
        self.cache.put_many(fresh)

    async def _run_one(self, candidate: Candidate, tasks: list[Task]) -> list[tuple[str, Outcome]]:
        for task in tasks:
            self.tasks[task.id] = task
        template = PromptTemplate(path=self.incumbent_path, text=candidate.text)
        loaded = self.evaluation.loaded.with_prompt(template)
        results = await self.evaluation.run_async(tasks, self.repeats, loaded=loaded)
        return [(r.task.id, outcome_of(r)) for r in results]
