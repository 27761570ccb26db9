"""What a domain hands the harness: tasks, a prompt, an agent and its graders."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Protocol, Sequence

import openai

from replaygate.llm.agent import Decoding
from replaygate.core.config import EvalConfig
from replaygate.core.prompt import PromptTemplate
from replaygate.core.rollout import Rollout
from replaygate.core.runner import Solver
from replaygate.core.score import Grader
from replaygate.core.task import Task

HeadersFor = Callable[[Task, int], Mapping[str, str]]


class LoadedSuite(Protocol):
    tasks: Sequence[Task]
    prompt: PromptTemplate
    # The names a prompt template may use: the task inputs it renders from.
    placeholders: Sequence[str]

    def with_prompt(self, prompt: PromptTemplate) -> "LoadedSuite":
        """The same suite under another prompt (a candidate the optimizer proposes)."""
        ...

    def solver(self, client: openai.AsyncOpenAI, decoding: Decoding, headers_for: HeadersFor) -> Solver: ...

    def graders(self) -> Mapping[str, Grader]:
        """Graders that need no model; the harness adds the LLM judge itself."""
        ...

    def describe(self, rollout: Rollout) -> str:
        """The answer as the report shows it (the parsed choice, say)."""
        ...


class Suite(Protocol):
    name: str
    # The suite's own [tool.replaygate] keys and their defaults (a rooms file, say).
    settings: Mapping[str, str]

    def load(self, config: EvalConfig, root: Path) -> LoadedSuite:
        """Read and check every input; raise InputError before any model is called."""
        ...
