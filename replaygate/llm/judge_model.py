"""The judge model: the one place that asks it for a verdict and reads the answer, for every LLM judge.

`ask_for_verdict` sends a structured-output request, re-asks while the answer cannot be read, turns
an unreachable judge into an infrastructure error and anything unreadable into a zero with a reason.
Two graders use it: `LLMJudge` here (compatible with Agent Lightning's room-selector judge: the model
sees the agent's final output and the expected answer through a prompt file) and the rubric-driven
`replaygate.graders.Judge`.
"""

from __future__ import annotations

import json
import math
import numbers
from typing import Any, Callable, Mapping

import openai

from replaygate.core.prompt import PromptTemplate
from replaygate.core.rollout import Rollout
from replaygate.core.score import Score
from replaygate.core.task import Task
from replaygate.llm.chat import MalformedResponse, complete, first_line
from replaygate.llm.infra import INFRA, api_failure

JUDGE_PLACEHOLDERS = ("output", "expected")
MAX_REASON = 100  # the most of a failure's reason kept, and the Agent Lightning judge's reason limit
UNREADABLE = "judge answer unreadable"


def verdict_format(reason_chars: int, name: str = "judge_verdict") -> dict[str, Any]:
    """A strict JSON-schema response_format for {"score": 0..1, "reason": str}."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": name,
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {
                    "score": {"type": "number", "minimum": 0, "maximum": 1},
                    "reason": {"type": "string", "maxLength": reason_chars},
                },
                "required": ["score", "reason"],
                "additionalProperties": False,
            },
        },
    }


# Agent Lightning's judge asks under this schema name; recorded cassettes match on it.
JUDGE_SCHEMA = verdict_format(MAX_REASON, name="judge_result")


def read_verdict(content: str | None, reason_chars: int, *, clamp: bool = False) -> Score:
    """The judge's JSON verdict as a Score; anything else is Score(0, "judge answer unreadable: ...").

    A score outside [0, 1] is unreadable, unless `clamp` (Agent Lightning's judge) pulls it into range.
    """
    quoted = repr((content or "")[:40])
    try:
        verdict = json.loads(content or "")
    except (ValueError, RecursionError):
        return Score(0.0, f"{UNREADABLE}: not JSON: {quoted}")
    if not isinstance(verdict, dict) or "score" not in verdict:
        return Score(0.0, f"{UNREADABLE}: no score in {quoted}")
    value, reason = verdict["score"], verdict.get("reason", "")
    number = not isinstance(value, bool) and isinstance(value, numbers.Real) and not math.isnan(value)
    if not number or not (clamp or 0.0 <= value <= 1.0):
        return Score(0.0, f"{UNREADABLE}: score {str(value)[:20]!r} is not a number in [0, 1]")
    if not isinstance(reason, str):
        return Score(0.0, f"{UNREADABLE}: reason is {type(reason).__name__}, not text")
    return Score(min(1.0, max(0.0, float(value))), reason.strip()[:reason_chars] or "no reason given")


async def ask_for_verdict(
    client: openai.AsyncOpenAI,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    rollout: Rollout,
    reason_chars: int,
    *,
    clamp: bool = False,
) -> Score:
    """Ask the judge model (`body` carries model, messages and response_format) and read its verdict.

    The judge's tokens count as the rollout's grading usage. A judge that cannot be reached makes the
    case an infrastructure error (not a 0); any other failure scores 0 with a reason and never raises.
    """
    try:
        message, used = await complete(client, body, headers, rollout)
    except openai.APIError as exc:
        kind, reason = api_failure(exc, client)
        if kind == INFRA:
            rollout.fail(kind, reason)
            return Score(0.0, reason)
        return Score(0.0, f"judge call failed: {first_line(exc)}"[:MAX_REASON])
    except MalformedResponse as exc:
        return Score(0.0, f"{UNREADABLE}: {exc}"[:MAX_REASON])
    rollout.grading_usage.add(used)
    return read_verdict(message.content, reason_chars, clamp=clamp)


class LLMJudge:
    """Agent Lightning's judge: the prompt file's chat over {output} and {expected}, scored 0..1 with a short reason."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        template: PromptTemplate,
        headers_for: Callable[[Task, Rollout], Mapping[str, str]],
        seed: int = 0,
    ):
        template.check(JUDGE_PLACEHOLDERS)
        self.client, self.model, self.template = client, model, template
        self.headers_for, self.seed = headers_for, seed

    async def __call__(self, task: Task, rollout: Rollout) -> Score:
        if rollout.error or not rollout.final_text:
            # Same reason text as the other graders, so the composite names it once.
            return Score(0.0, rollout.error or "no final answer")
        messages = self.template.render({"output": rollout.final_text, "expected": task.expected})
        body = {"model": self.model, "messages": messages, "response_format": JUDGE_SCHEMA,
                "temperature": 0.0, "seed": self.seed}
        # Agent Lightning clamps an out-of-range score rather than rejecting it.
        return await ask_for_verdict(self.client, body, self.headers_for(task, rollout), rollout, MAX_REASON, clamp=True)
