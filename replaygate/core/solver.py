"""From a suite author's solver (any sync or async function of input, client and prompt) to a Rollout.

The solver calls the real openai client as it would in production. What the model was
asked and answered (usage, tool calls, final text) is read off the wire by the trace
the transport fills for this case, so the solver returns only its answer.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from replaygate.core.rollout import Rollout
from replaygate.core.task import Task

if TYPE_CHECKING:
    import openai

    from replaygate.llm.agent import Decoding

Solver = Callable[[Task, int], Any]  # (task, repeat) -> Awaitable[Rollout]


@dataclass(frozen=True)
class Prompt:
    """The suite's prompt rendered for one task, with the settings to call the model with."""

    messages: list[dict[str, str]]
    model: str
    temperature: float = 0.0
    seed: int = 0  # the configured seed plus the repeat: repeats are distinct requests
    max_turns: int = 2
    version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """All messages' text, for a solver that sends one string."""
        return "\n\n".join(m["content"] for m in self.messages)

    def chat(self, **more: Any) -> dict[str, Any]:
        """Arguments for `client.chat.completions.create(**prompt.chat(tools=...))`."""
        return {"model": self.model, "messages": list(self.messages), "temperature": self.temperature,
                "seed": self.seed, **more}

    def responses(self, **more: Any) -> dict[str, Any]:
        """Arguments for `client.responses.create(**prompt.responses(tools=...))`."""
        return {"model": self.model, "input": list(self.messages), "temperature": self.temperature, **more}


def is_async(function: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(getattr(function, "__call__", None))


def build_solver(loaded, client: openai.AsyncOpenAI, sync_client: Callable[[], openai.OpenAI], decoding: Decoding) -> Solver:
    """The harness's solver for a loaded suite: render, call the author's function, trace, build the Rollout."""
    # Here, not at the top: `Prompt` is public API a suite imports, and declaring a suite loads no SDK.
    import openai

    from replaygate.llm.infra import api_failure
    from replaygate.llm.trace import Trace, tracing

    user = loaded.suite.solver
    run_async = is_async(user)

    async def solve(task: Task, repeat: int) -> Rollout:
        value = loaded.inputs[task.id]
        prompt = Prompt(
            messages=loaded.prompt.render(loaded.suite.placeholder_values(value)),
            model=decoding.model,
            temperature=decoding.temperature,
            seed=decoding.seed + repeat,
            max_turns=decoding.max_turns,
            version=loaded.prompt.version,
        )
        trace = Trace()
        rollout = Rollout(task_id=task.id, repeat=repeat, messages=list(prompt.messages))
        started = time.perf_counter()
        try:
            with tracing(trace):
                if run_async:
                    answer = await user(value, client, prompt)
                else:
                    # A sync solver runs in a worker thread with a sync client bridged onto this loop.
                    answer = await asyncio.to_thread(user, value, sync_client(), prompt)
                if inspect.isawaitable(answer):
                    answer = await answer
        except openai.APIError as exc:
            # The sync client comes from the same backend and role: the async one finds the hint.
            rollout.fail(*api_failure(exc, client))
            answer = None
        if isinstance(answer, Rollout):
            # The solver ran its own loop and kept its own trace (the room agent does).
            answer.task_id, answer.repeat = task.id, repeat
            return answer
        rollout.latency_s = time.perf_counter() - started
        rollout.answer = answer
        rollout.usage = trace.usage
        rollout.tool_calls = list(trace.tool_calls)
        rollout.final_text = answer if isinstance(answer, str) else trace.final_text
        return rollout

    return solve
