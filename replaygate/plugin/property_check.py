"""The `eval_property` fixture's work: draw inputs with Hypothesis when recording or live, replay the recorded ones.

A recording draws from a fixed seed, runs every example (and each relation's follow-up case) through the suite's
normal rollout, cassette and grader path, and stores what it drew beside the cassettes
(`replaygate.cassettes.examples`). A replay reads that file and runs exactly those cases: no Hypothesis draw is
involved, so its version and the test's source can change without invalidating a recording.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from replaygate.cassettes.examples import EXAMPLES_FILE, ExamplesError, read_examples, write_examples
from replaygate.core.properties import PropertySpec
from replaygate.run.runner import CaseResult
from replaygate.core.score import Score
from replaygate.core.task import Task
from replaygate.plugin.session import AdHocRunner, CaseBelowThreshold

# Recording draws from this seed, not from a digest of the test's source: a recording is reproducible.
RECORD_SEED = 20261207


class PropertyBroken(AssertionError):
    """An example that breaks the property; Hypothesis shrinks on it."""


class PropertyCheck:
    """What a property test sees: `eval_property.check()` runs the examples and fails with the smallest failing one."""

    def __init__(self, spec: PropertySpec, runner: AdHocRunner, nodeid: str):
        self.spec, self.runner, self.nodeid = spec, runner, nodeid
        self.suite = spec.suite
        self.failure: tuple[Task, CaseResult, str] | None = None  # the last failing example: (task, result, why)
        self.examples: set[str] = set()  # distinct examples run (Hypothesis may run one more than once)

    @property
    def examples_path(self) -> Path:
        return self.runner.cassette_folder(self.suite, self.spec.group) / EXAMPLES_FILE

    def check(self) -> None:
        mode = self.runner.mode(self.suite)
        if mode == "replay":
            self._replay()
        else:
            self._draw(record=mode == "record")
        if self.failure is not None:
            task, result, why = self.failure
            self.runner.note_failure(self.suite, dataclasses.replace(result, score=Score(0.0, why)))
            raise CaseBelowThreshold(f"property of suite {self.suite.name!r} fails; the smallest failing example "
                                     f"(of {len(self.examples)} run):\n  {why}\n  input: {task.input}")

    def judge(self, task: Task) -> tuple[CaseResult, str | None]:
        """Run one example and its relations' follow-ups as cases; None when all holds, else why not."""
        parsed = self.suite.parse_input(task.input, f"{task.source or self.spec.group}: task {task.id!r}")
        follow_ups = self.spec.follow_ups(task, parsed)
        results = self.runner.run(self.suite, [task, *(t for _, t in follow_ups)], self.spec.group)
        self.examples.add(task.id)
        for result in results:
            if result.failure is not None or (result.rollout is not None and result.rollout.infra_failed):
                self.runner.check(result, self.nodeid, self.suite)  # a cassette miss or an error: its own line
        source, threshold = results[0], self.runner.threshold(self.suite)
        if task.expected is not None and not source.passes(threshold):
            reasons = "; ".join(f"{name} {score.value:.2f} {score.reason}" for name, score in source.scores.items())
            return source, f"score {source.value:.2f} < threshold {threshold:g}: {reasons}"
        for (relation, _), after in zip(follow_ups, results[1:]):
            why = relation.verdict(source.rollout.answer, after.rollout.answer)
            if why:
                return source, why
        return source, None

    def _replay(self) -> None:
        hint = f"pytest '{self.nodeid}' --eval-record-mode=all"
        try:
            tasks, minimal = read_examples(self.examples_path, hint)
        except ExamplesError as exc:
            missing = str(exc)
        else:
            missing = ""
        if missing:
            pytest.fail(missing, pytrace=False)  # outside the except: one line, no chained traceback
        failures = []
        for task in tasks:
            result, why = self.judge(task)
            if why:
                failures.append((task, result, why))
        if failures:
            # The recording's smallest failing example, if it still fails; else the last one that does.
            self.failure = next((f for f in failures if f[0].id == minimal), failures[-1])

    def _draw(self, record: bool) -> None:
        import hypothesis
        from hypothesis import HealthCheck, given, settings

        strategy = self._strategy()
        drawn: list[Task] = []
        count = self.spec.examples if record else (self.spec.live_examples or self.spec.examples)

        @settings(database=None, deadline=None, max_examples=count, derandomize=False,
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def example(value: Any) -> None:
            task = self.spec.task(value)
            drawn.append(task)
            result, why = self.judge(task)
            if why:
                # Hypothesis replays the smallest failing example last, so the last one kept is it.
                self.failure = (task, result, why)
                raise PropertyBroken(why)

        if record:
            example = hypothesis.seed(RECORD_SEED)(example)
        try:
            example()
        except PropertyBroken:
            pass
        except BaseExceptionGroup as group:  # several distinct failures: the last kept is reported
            if not group.subgroup(PropertyBroken):
                raise
        finally:
            if record:
                minimal = self.failure[0].id if self.failure is not None else None
                secrets = self.runner.secrets()
                write_examples(self.examples_path, drawn, minimal, secrets)

    def _strategy(self) -> Any:
        from hypothesis import strategies as st

        inputs = self.spec.inputs
        if inputs is None:
            return st.builds(self.suite.input_model, **self.spec.fields)
        if callable(inputs) and not hasattr(inputs, "example"):
            return inputs(self.runner.setup(self.suite))  # built from the suite's own settings (a data file, say)
        return inputs
