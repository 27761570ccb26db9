"""An LLM judge grader: a strict model-graded score with a short reason, via structured output.

Compatible with Agent Lightning's room-selector judge: the model sees the
agent's final output and the expected answer and returns {"score", "reason"}.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping

import openai

from replaygate.llm.chat import MalformedResponse, complete
from replaygate.llm.infra import INFRA, api_failure
from replaygate.core.prompt import PromptTemplate
from replaygate.core.rollout import Rollout
from replaygate.core.score import Score
from replaygate.core.task import Task

JUDGE_PLACEHOLDERS = ("output", "expected")
MAX_REASON = 100


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


class LLMJudge:
    """Grader that asks a judge model; its token usage is added to the rollout's grading usage."""

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
        try:
            body = {"model": self.model, "messages": messages, "response_format": JUDGE_SCHEMA,
                    "temperature": 0.0, "seed": self.seed}
            message, used = await complete(self.client, body, self.headers_for(task, rollout), rollout)
        except openai.APIError as exc:
            kind, reason = api_failure(exc, self.client)
            if kind == INFRA:
                rollout.fail(kind, reason)  # no judge answered: the case is an error, not a 0
                return Score(0.0, reason)
            return Score(0.0, f"judge call failed: {type(exc).__name__}"[:MAX_REASON])
        except MalformedResponse:
            return Score(0.0, "judge call failed: its answer could not be read")
        rollout.grading_usage.add(used)
        content = message.content
        try:
            verdict = json.loads(content or "")
            value = float(verdict["score"])
            reason = str(verdict.get("reason", ""))
        except (ValueError, KeyError, TypeError):
            return Score(0.0, f"judge gave no valid JSON verdict: {(content or '')[:60]!r}"[:MAX_REASON])
        return Score(min(1.0, max(0.0, value)), reason[:MAX_REASON] or "no reason given")
