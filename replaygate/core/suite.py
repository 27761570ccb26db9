"""A suite as its author declares it: tasks, a prompt file, a solver, graders, and an offline double.

    triage = Suite("triage", solver=answer_ticket, tasks="evals/triage/tasks.yaml",
                   prompt="prompts/triage.md", graders=[graders.ExactMatch(field="category")])

    @triage.cases
    def test_triage(eval_case):
        eval_case.check()

Every task becomes one parametrized test whose id is the task id.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from replaygate.core.config import EvalConfig, load_config
from replaygate.core.errors import InputError
from replaygate.core.prompt import PromptFileError, PromptTemplate, load_prompt
from replaygate.core.rollout import Rollout
from replaygate.core.score import Grader
from replaygate.core.task import Task, TaskFileError, load_tasks, tasks_from_list

# The attribute a test function carries once `Suite.cases` has marked it; the plugin reads it.
CASES_ATTRIBUTE = "__replaygate_suite__"


@dataclass(frozen=True)
class SuiteSetup:
    """What a suite's `setup` hook sees: its resolved settings, the project root and its loaded tasks."""

    config: EvalConfig
    root: Path
    tasks: Sequence[Task]
    defaults: Mapping[str, Any] = field(default_factory=dict)  # the suite's own keys and their defaults

    def path(self, key: str) -> Path:
        """One of the suite's own path settings (a data file, say), resolved against the project root."""
        return self.config.path(self.root, key, str(self.defaults.get(key, "")))


@dataclass(frozen=True)
class Suite:
    """A suite. Settings left as None come from `[tool.replaygate.suites.<name>]` or `[tool.replaygate]`."""

    name: str
    # solver(input, client, prompt) -> answer, sync or async; it may also return a finished Rollout.
    solver: Callable[..., Any]
    tasks: str | Path | Sequence[Task | Mapping[str, Any]] | None = None
    prompt: str | Path | None = None
    # Graders by name (the name weights refer to), or a list whose graders name themselves.
    graders: Mapping[str, Grader] | Sequence[Grader] = ()
    weights: Mapping[str, float] | None = None
    threshold: float | None = None
    # A pydantic model the inputs must validate against, or parse(data, where) raising InputError.
    input_model: Any = None
    # The prompt's placeholder values for one input; by default its fields as text.
    values: Callable[[Any], Mapping[str, Any]] | None = None
    # The offline model for --llm=sim: a FunctionModel, or any factory of an httpx2 transport.
    double: Callable[[], Any] | None = None
    # The suite's own setting keys with their defaults (a data file, say).
    settings: Mapping[str, Any] = field(default_factory=dict)
    # setup(suite, SuiteSetup) -> Suite: bind what the settings name and check the tasks against it.
    setup: Callable[["Suite", SuiteSetup], "Suite"] | None = None
    # How the report shows an answer; by default the answer as text.
    describe: Callable[[Rollout], str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or not all(c.isalnum() or c in "-_" for c in self.name):
            raise InputError(f"Suite({self.name!r}): a suite name is letters, digits, - and _; it names folders and tables")
        if not callable(self.solver):
            raise InputError(f"Suite {self.name!r}: solver must be a function of (input, client, prompt)")
        try:
            inspect.signature(self.solver).bind(None, None, None)
        except TypeError:
            name = getattr(self.solver, "__name__", type(self.solver).__name__)
            raise InputError(f"Suite {self.name!r}: solver {name}{inspect.signature(self.solver)} cannot be called with "
                             "(input, client, prompt); give it those three parameters") from None
        except ValueError:
            pass  # a builtin or C function shows no signature: it is called and judged then

    def cases(self, test: Callable[..., Any]) -> Callable[..., Any]:
        """Decorate a test taking `eval_case`: it runs once per task of this suite."""
        setattr(test, CASES_ATTRIBUTE, self)
        return test

    def properties(
        self, inputs: Any = None, *, relations: Sequence[Any] = (), fields: Mapping[str, Any] | None = None,
        examples: int = 20, live_examples: int | None = None, expected: Callable[[Any], Any] | None = None,
        group: str | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorate a test taking `eval_property`: generated inputs (drawn from `inputs`, a Hypothesis strategy, or
        from the pydantic `input_model` with `fields` overriding strategies per field) run as this suite's cases,
        and every `relation` (replaygate.invariant / replaygate.directional) must hold between an input's answer
        and its transform's. A recording stores what it drew beside the cassettes; replay runs exactly that."""
        from replaygate.core.properties import PROPERTIES_ATTRIBUTE, PropertySpec

        spec = PropertySpec(self, inputs, dict(fields or {}), tuple(relations), examples, live_examples, expected,
                            group or f"{self.name}_properties")

        def mark(test: Callable[..., Any]) -> Callable[..., Any]:
            setattr(test, PROPERTIES_ATTRIBUTE, spec)
            return test

        return mark

    def replace(self, **changes: Any) -> "Suite":
        return dataclasses.replace(self, **changes)

    def code_settings(self) -> dict[str, Any]:
        """What the code sets, which wins over pyproject (but not over --set)."""
        chosen: dict[str, Any] = {}
        if isinstance(self.tasks, (str, Path)):
            chosen["tasks"] = str(self.tasks)
        if self.prompt is not None:
            chosen["prompt"] = str(self.prompt)
        if self.threshold is not None:
            chosen["threshold"] = self.threshold
        if self.weights is not None:
            chosen["graders"] = dict(self.weights)
        return chosen

    def config(self, root: str | Path = ".", overrides: Mapping[str, Any] = ()) -> EvalConfig:
        """This suite's settings as a run in `root` would read them from its pyproject.toml."""
        return load_config(Path(root) / "pyproject.toml", overrides, suite=self.name, code=self.code_settings())

    def path_setting(self, key: str, root: str | Path = ".") -> Path:
        """One of the suite's own path settings, as a run in `root` would resolve it."""
        return self.config(root).path(Path(root), key, str(self.settings.get(key, "")))

    def named_graders(self) -> dict[str, Grader]:
        if isinstance(self.graders, Mapping):
            return dict(self.graders)
        named: dict[str, Grader] = {}
        for grader in self.graders:
            name = getattr(grader, "name", None) or getattr(grader, "__name__", None)
            if not isinstance(name, str) or not name:
                raise InputError(f"Suite {self.name!r}: grader {grader!r} has no name; pass graders as a dict of name: grader")
            if name in named:
                raise InputError(f"Suite {self.name!r}: two graders are named {name!r}; pass a dict to name them apart")
            named[name] = grader
        return named

    def load(self, config: EvalConfig, root: Path) -> "LoadedSuite":
        """Read and check tasks and prompt, run `setup`; every error is one line, before any model call."""
        parse = self.parse_input
        if self.tasks is not None and not isinstance(self.tasks, (str, Path)):
            tasks = tasks_from_list(list(self.tasks), f"suite {self.name!r} tasks", parse)
        else:
            tasks = load_tasks(config.resolve(root, config.tasks), parse)
        suite = self.setup(self, SuiteSetup(config, root, tasks, self.settings)) if self.setup is not None else self
        inputs = {task.id: parse(task.input, f"{task.source}: task {task.id!r}") for task in tasks}
        placeholders = suite.placeholders_for(inputs.values())
        prompt = load_prompt(config.resolve(root, config.prompt))
        suite.check_tasks_fill(prompt, tasks, inputs, placeholders)
        prompt.check(placeholders)
        if placeholders and not prompt.placeholders:
            # Caught here, not after every case has been paid for: the model would see the same prompt for each task.
            shown = ", ".join("{" + name + "}" for name in placeholders[:3])
            raise PromptFileError(f"{prompt.path}: the prompt uses no task input, so every task would get the same prompt; "
                                  f"add a placeholder such as {shown} where the task belongs")
        return LoadedSuite(suite, tasks, prompt, placeholders, inputs)

    def parse_input(self, data: Mapping[str, Any], where: str) -> Any:
        model = self.input_model
        if model is None:
            return dict(data)
        if hasattr(model, "model_validate"):
            from pydantic import ValidationError

            try:
                return model.model_validate(data)
            except ValidationError as exc:
                first = exc.errors()[0]
                at = ".".join(str(part) for part in first["loc"]) or "input"
                raise TaskFileError(f"{where}: input {at}: {first['msg']}; fix the task") from None
        return model(data, where)

    def placeholder_values(self, value: Any) -> dict[str, str]:
        raw = self.values(value) if self.values is not None else _fields(value)
        return {name: item if isinstance(item, str) else _as_text(item) for name, item in raw.items()}

    def check_tasks_fill(self, prompt: PromptTemplate, tasks: Sequence[Task], inputs: Mapping[str, Any],
                         common: Sequence[str]) -> None:
        """A placeholder some tasks fill and others do not is the task's mistake: name the first task that lacks it."""
        for name in prompt.placeholders:
            if name in common:
                continue
            lacking = [t for t in tasks if name not in self.placeholder_values(inputs[t.id])]
            if len(lacking) < len(tasks):  # some task fills it, so the prompt is right and these tasks are not
                task = lacking[0]
                raise TaskFileError(f"{task.source or 'tasks'}: task {task.id!r} has no input field {name!r}, which "
                                    f"{prompt.path} uses; add it to the task (or fix its spelling)")

    def placeholders_for(self, inputs: Any) -> tuple[str, ...]:
        """Names every task can fill: the prompt may use any of them."""
        common: list[str] | None = None
        for value in inputs:
            names = list(self.placeholder_values(value))
            common = names if common is None else [n for n in common if n in names]
        return tuple(common or ())


def _fields(value: Any) -> Mapping[str, Any]:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return value
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    raise InputError(f"input {value!r} has no fields to fill a prompt with; give the Suite a values= function")


def _as_text(item: Any) -> str:
    if isinstance(item, (bool, int, float)) or item is None:
        return str(item)
    return json.dumps(item, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class LoadedSuite:
    """A suite with its tasks and prompt read and checked: what a run and the optimizer work from."""

    suite: Suite
    tasks: Sequence[Task]
    prompt: PromptTemplate
    placeholders: Sequence[str]
    inputs: Mapping[str, Any]  # task id -> the parsed input the solver gets

    def with_prompt(self, prompt: PromptTemplate) -> "LoadedSuite":
        """The same suite under another prompt (a candidate the optimizer proposes)."""
        prompt.check(self.placeholders)
        return dataclasses.replace(self, prompt=prompt)

    def with_tasks(self, tasks: Sequence[Task]) -> "LoadedSuite":
        """The same suite over other tasks (generated ones, say), their inputs checked as the file's are."""
        inputs = {task.id: self.suite.parse_input(task.input, f"{task.source or 'task'}: task {task.id!r}") for task in tasks}
        return dataclasses.replace(self, tasks=list(tasks), inputs=inputs)

    def graders(self) -> dict[str, Grader]:
        return self.suite.named_graders()

    def describe(self, rollout: Rollout) -> str:
        if self.suite.describe is not None:
            return self.suite.describe(rollout)
        if rollout.error_kind and rollout.answer is None:
            return f"— ({rollout.error_kind})"
        answer = rollout.answer if rollout.answer is not None else rollout.final_text
        if answer is None:
            return "—"
        if hasattr(answer, "model_dump"):
            answer = answer.model_dump(mode="json")
        elif dataclasses.is_dataclass(answer) and not isinstance(answer, type):
            answer = dataclasses.asdict(answer)
        if isinstance(answer, str):
            return answer
        try:
            return json.dumps(answer, ensure_ascii=False, sort_keys=True)
        except TypeError:  # the case already failed for it (replaygate.run.runner.unstorable); show its type
            return f"<{type(answer).__name__}>"
