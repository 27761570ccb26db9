"""A chat-completions tool-calling loop: the generic agent under test.

The loop knows tools by their OpenAI function specs and Python callables;
what the tools mean, and how an answer is parsed, belongs to the suite.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from replaygate.core.rollout import Rollout, ToolCall

if TYPE_CHECKING:
    import openai


@dataclass(frozen=True)
class Tool:
    spec: Mapping[str, Any]  # {"type": "function", "function": {"name", "description", "parameters"}}
    run: Callable[..., Any]  # called with the parsed arguments; raises ValueError for bad ones

    @property
    def name(self) -> str:
        return self.spec["function"]["name"]


@dataclass(frozen=True)
class Decoding:
    """Everything besides the messages that decides a model's answer; part of every cache key."""

    model: str
    temperature: float = 0.0
    seed: int = 0
    max_turns: int = 2


class ToolRunError(Exception):
    pass


def _call_tool(tool: Tool | None, name: str, raw_args: str) -> tuple[str, ToolCall]:
    """Run one tool call; a bad call gets an error result the model can read."""
    record = ToolCall(name=name, arguments=raw_args)
    try:
        if tool is None:
            raise ToolRunError(f"unknown tool {name!r}")
        try:
            args = json.loads(raw_args or "{}")
        except ValueError:
            raise ToolRunError(f"arguments of {name} are not valid JSON: {raw_args[:80]!r}") from None
        if not isinstance(args, dict):
            raise ToolRunError(f"arguments of {name} must be a JSON object")
        try:
            result = tool.run(**args)
        except TypeError as exc:
            raise ToolRunError(f"{name}: {exc}") from None
        except ValueError as exc:
            raise ToolRunError(f"{name}: {exc}") from None
        record.result = json.dumps(result, ensure_ascii=False)
    except ToolRunError as exc:
        record.error = str(exc)
        record.result = json.dumps({"error": str(exc)})
    return record.result, record


def _chat_body(
    decoding: Decoding, tools: Sequence[Tool], messages: list[dict[str, Any]], repeat: int
) -> dict[str, Any]:
    """One turn's request; `messages` is the rollout's own list, so the body sees the conversation so far."""
    return {
        "model": decoding.model,
        "messages": messages,
        "tools": [dict(tool.spec) for tool in tools],
        "tool_choice": "auto",
        "temperature": decoding.temperature,
        "seed": decoding.seed + repeat,
    }


def _record_assistant(rollout: Rollout, message: Any) -> list[Any]:
    """Append the model's turn to the conversation; returns the tool calls it asked for."""
    calls = list(message.tool_calls or [])
    entry: dict[str, Any] = {"role": "assistant", "content": message.content}
    if calls:
        entry["tool_calls"] = [call.model_dump(exclude_none=True) for call in calls]
    rollout.messages.append(entry)
    return calls


def _answer_calls(rollout: Rollout, calls: Sequence[Any], by_name: Mapping[str, Tool]) -> None:
    """Run each requested tool in order and append its result as a `tool` message."""
    for call in calls:
        function = getattr(call, "function", None)
        name = function.name if function is not None else getattr(call, "type", "?")
        raw = function.arguments if function is not None else ""
        result, record = _call_tool(by_name.get(name), name, raw)
        rollout.tool_calls.append(record)
        rollout.messages.append({"role": "tool", "tool_call_id": call.id, "content": result})


def _fail_turn_limit(rollout: Rollout, max_turns: int) -> None:
    names = ", ".join(sorted({c.name for c in rollout.tool_calls})) or "tools"
    rollout.fail("turn_limit", f"no final answer within {max_turns} turns (kept calling {names})",
                 hint="Call each tool once, then give your final answer.")


async def _take_turns(client: openai.AsyncOpenAI, decoding: Decoding, tools: Sequence[Tool], rollout: Rollout,
                      repeat: int, extra_headers: Mapping[str, str]) -> None:
    """The conversation: ask the model, run the tools it asks for, until it answers or the turn limit is reached."""
    from replaygate.llm.chat import complete

    by_name = {tool.name: tool for tool in tools}
    for _turn in range(decoding.max_turns):
        body = _chat_body(decoding, tools, rollout.messages, repeat)
        message, used = await complete(client, body, extra_headers, rollout)
        rollout.usage.add(used)
        calls = _record_assistant(rollout, message)
        if not calls:
            rollout.final_text = message.content or ""
            return
        _answer_calls(rollout, calls, by_name)
    _fail_turn_limit(rollout, decoding.max_turns)


async def run_tool_loop(
    client: openai.AsyncOpenAI,
    decoding: Decoding,
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Tool],
    *,
    task_id: str,
    repeat: int = 0,
    extra_headers: Mapping[str, str] | None = None,
) -> Rollout:
    """Call the model until it answers without tools or the turn limit is reached.

    API failures end the rollout with `error` set; they never escape. The seed
    is `decoding.seed + repeat`, so repeats are distinct requests.
    """
    # The SDK loads with the first call: a suite that declares its tools imports none of it.
    import openai

    from replaygate.llm.chat import MALFORMED_RETRIES, MalformedResponse
    from replaygate.llm.infra import api_failure

    rollout = Rollout(task_id=task_id, repeat=repeat, messages=[dict(m) for m in messages])
    started = time.perf_counter()
    try:
        await _take_turns(client, decoding, tools, rollout, repeat, extra_headers or {})
    except openai.APIError as exc:
        rollout.fail(*api_failure(exc, client))
    except MalformedResponse as exc:
        rollout.fail("malformed", f"malformed model response after {MALFORMED_RETRIES + 1} tries: {exc}")
    rollout.latency_s = time.perf_counter() - started
    if rollout.error is None and rollout.tool_calls and all(c.error for c in rollout.tool_calls):
        rollout.fail("bad_tool_call", f"bad tool call: {rollout.tool_calls[-1].error}")
    return rollout


async def tool_loop(client: openai.AsyncOpenAI, prompt: Any, tools: Sequence[Tool]) -> Rollout:
    """Run the rendered prompt (a `replaygate.Prompt`) through the tool-calling loop; a solver may return the Rollout."""
    decoding = Decoding(model=prompt.model, temperature=prompt.temperature, seed=prompt.seed, max_turns=prompt.max_turns)
    return await run_tool_loop(client, decoding, prompt.messages, tools, task_id="")
