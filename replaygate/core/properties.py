"""Property-based cases for any suite: generated inputs and the metamorphic relations their answers must keep.

    PARAPHRASE = invariant("polite paraphrase", lambda q: q.model_copy(update={"text": "Please: " + q.text}))
    DOUBLED = directional("twice the amount, twice the result", lambda q: q.model_copy(update={"amount": 2 * q.amount}),
                          lambda before, after: abs(after - 2 * before) <= 1e-6 * abs(after))

    @CONVERT.properties(relations=[PARAPHRASE, DOUBLED])
    def test_convert_properties(eval_property):
        eval_property.check()

Relations follow CheckList: an invariance says a change leaves the answer as it was, a direction says how a
change moves it. Both are plain functions, pure, and judged here without pytest or Hypothesis; drawing the
inputs (Hypothesis) and storing what a recording drew is the plugin's and `replaygate.cassettes.examples`'.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from replaygate.core.errors import InputError
from replaygate.core.task import Task

# The attribute a test function carries once `Suite.properties` has marked it; the plugin reads it.
PROPERTIES_ATTRIBUTE = "__replaygate_properties__"


def answer_value(answer: Any) -> Any:
    """An answer as a JSON value, so relations compare what the report stores (pydantic models and dataclasses too)."""
    if hasattr(answer, "model_dump"):
        return answer.model_dump(mode="json")
    if dataclasses.is_dataclass(answer) and not isinstance(answer, type):
        return dataclasses.asdict(answer)
    return answer


def input_value(value: Any) -> dict[str, Any]:
    """A drawn input as the task file would hold it."""
    value = answer_value(value)
    if not isinstance(value, Mapping):
        raise InputError(f"a generated input must be an object of fields (a dict or a pydantic model), got "
                         f"{type(value).__name__}; draw inputs of the suite's input_model")
    return dict(value)


@dataclass(frozen=True)
class Relation:
    """What must hold between the answer to an input and the answer to `transform(input)`."""

    name: str
    kind: str  # "invariance" or "direction"
    transform: Callable[[Any], Any]
    holds: Callable[[Any, Any], bool]

    @property
    def slug(self) -> str:
        """The relation in a task id (its follow-up case's cassette name)."""
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")[:40] or "relation"

    def verdict(self, before: Any, after: Any) -> str | None:
        """None when the relation holds for these two answers, else why not, in one line."""
        before, after = answer_value(before), answer_value(after)
        try:
            kept = bool(self.holds(before, after))
        except Exception as exc:  # noqa: BLE001 - a relation that cannot judge these answers does not hold
            return f"{self.kind} {self.name!r} could not compare {_shown(before)} and {_shown(after)}: " \
                   f"{type(exc).__name__}: {exc}"
        if kept:
            return None
        if self.kind == "invariance":
            return f"{self.kind} {self.name!r} broken: the answer changed from {_shown(before)} to {_shown(after)}"
        return f"{self.kind} {self.name!r} broken: the answer went from {_shown(before)} to {_shown(after)}"


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=repr)
    text = " ".join(str(text).split())
    return repr(text if len(text) <= 80 else text[:79] + "…")


def invariant(name: str, transform: Callable[[Any], Any], same: Callable[[Any, Any], bool] | None = None) -> Relation:
    """The answer to `transform(input)` equals the answer to `input` (or is `same` as it): a paraphrase, a reordering,
    an irrelevant detail."""
    return Relation(name, "invariance", transform, same or (lambda before, after: before == after))


def directional(name: str, transform: Callable[[Any], Any], holds: Callable[[Any, Any], bool]) -> Relation:
    """`holds(answer to input, answer to transform(input))`: the change moves the answer in a known way."""
    return Relation(name, "direction", transform, holds)


def example_id(inputs: Mapping[str, Any]) -> str:
    """A generated input's task id: a digest of its content, so the same input always finds the same cassette."""
    text = json.dumps(inputs, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=repr)
    return "ex-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class PropertySpec:
    """What `Suite.properties` declared: where inputs come from, the relations, and how many examples to draw."""

    suite: Any  # the Suite
    # A Hypothesis strategy of inputs, or of whole Tasks (expected answers included), or a function of the suite's
    # SuiteSetup returning one (for strategies built from the suite's own settings).
    inputs: Any = None
    fields: Mapping[str, Any] = field(default_factory=dict)  # strategies per input_model field (with no `inputs`)
    relations: Sequence[Relation] = ()
    examples: int = 20  # drawn when recording (replay runs exactly the recorded ones)
    live_examples: int | None = None  # drawn by a live run (no cassettes to match, so it may explore more)
    # An oracle: with it (or with drawn Tasks that carry expected answers), a generated case must also pass the graders.
    expected: Callable[[Any], Any] | None = None
    group: str = ""  # the cassette folder of the generated cases

    def __post_init__(self) -> None:
        where = f"Suite {self.suite.name!r} .properties"
        if not all(isinstance(r, Relation) for r in self.relations):
            raise InputError(f"{where}: relations must be made by invariant(...) or directional(...)")
        if len({r.slug for r in self.relations}) != len(self.relations):
            raise InputError(f"{where}: two relations have the same name; name each relation apart")
        if not isinstance(self.examples, int) or self.examples < 1:
            raise InputError(f"{where}: examples={self.examples!r}; draw at least 1")
        if self.inputs is None and not hasattr(self.suite.input_model, "model_fields"):
            raise InputError(f"{where}: no inputs= strategy and no pydantic input_model to draw inputs from; pass "
                             "inputs=<a Hypothesis strategy>, or give the Suite an input_model")
        if not self.relations and self.expected is None and self.inputs is None:
            raise InputError(f"{where}: nothing to check; give relations=[...], an expected= oracle, or inputs= that "
                             "draw whole Tasks with their expected answers")

    def task(self, drawn: Any) -> Task:
        """A drawn value as a task: a Task as it is, else an input whose id is its digest."""
        if isinstance(drawn, Task):
            return drawn
        inputs = input_value(drawn)
        expected = self.expected(drawn) if self.expected is not None else None
        return Task(example_id(inputs), inputs, answer_value(expected), source=f"{self.group} (generated)")

    def follow_ups(self, task: Task, parsed: Any) -> list[tuple[Relation, Task]]:
        """Each relation's case: the transformed input, its own id, and no expected answer (the relation judges it)."""
        made = []
        for relation in self.relations:
            inputs = input_value(relation.transform(parsed))
            made.append((relation, Task(f"{task.id}+{relation.slug}", inputs, None, source=task.source)))
        return made
