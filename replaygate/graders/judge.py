"""A rubric-driven LLM judge for any suite: one structured-output call per rollout, bound to a model by the harness."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import openai
import pydantic

from replaygate.core.rollout import Rollout
from replaygate.core.score import Score
from replaygate.core.task import Task
from replaygate.graders.answer import Ungradable, read_answer
from replaygate.llm.judge_model import ask_for_verdict, read_verdict, verdict_format

__all__ = ["BoundJudge", "Judge", "read_verdict", "verdict_format"]

SYSTEM = (
    "You grade one answer of an AI agent against a rubric. Judge only what the rubric asks, strictly and "
    "consistently. Reply with JSON only: "
    '{{"score": <number from 0 to 1>, "reason": "<why, at most {chars} characters>"}}.'
)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump_json()
    return json.dumps(value, ensure_ascii=False, default=lambda obj: obj.model_dump(mode="json")
                      if isinstance(obj, pydantic.BaseModel) else str(obj))


@dataclass(frozen=True)
class Judge:
    """An LLM judge scoring the answer against `rubric`; `bind` it to a model to get a grader."""

    rubric: str
    name: str = "judge"
    pass_reason_chars: int = 100  # the most of the judge's reason kept (and asked for)

    needs_model: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not isinstance(self.rubric, str) or not self.rubric.strip():
            raise ValueError("Judge rubric must be non-empty text saying what a good answer is")
        if not isinstance(self.pass_reason_chars, int) or self.pass_reason_chars < 1:
            raise ValueError(f"Judge pass_reason_chars must be an int >= 1, not {self.pass_reason_chars!r}")

    def bind(self, client: openai.AsyncOpenAI, model: str, seed: int = 0) -> "BoundJudge":
        """The async grader asking `model` through `client` (the harness binds it to the judge client)."""
        return BoundJudge(self, client, model, seed)

    def __call__(self, task: Task, rollout: Rollout) -> Score:
        if rollout.error:
            return Score(0.0, rollout.error)
        raise RuntimeError(f"Judge {self.name!r} needs a model: grade with judge.bind(client, model), not the judge itself")

    def messages(self, task: Task, answer: Any) -> list[dict[str, str]]:
        """The chat the judge model sees: the task input, the expected answer (if any), the rubric and the answer."""
        parts = [f"## Task input\n{_as_text(dict(task.input))}"]
        if task.expected is not None:
            parts.append(f"## Expected answer\n{_as_text(task.expected)}")
        parts += [f"## Rubric\n{self.rubric.strip()}", f"## Agent's answer\n{_as_text(answer)}"]
        return [
            {"role": "system", "content": SYSTEM.format(chars=self.pass_reason_chars)},
            {"role": "user", "content": "\n\n".join(parts)},
        ]


@dataclass(frozen=True)
class BoundJudge:
    """A Judge with its model: one chat-completions call per rollout, usage added to the rollout's grading usage."""

    judge: Judge
    client: openai.AsyncOpenAI
    model: str
    seed: int = 0

    needs_model: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return self.judge.name

    async def __call__(self, task: Task, rollout: Rollout) -> Score:
        if rollout.error:
            return Score(0.0, rollout.error)
        try:
            answer = read_answer(rollout)
        except Ungradable as exc:
            return Score(0.0, str(exc))
        body = {
            "model": self.model,
            "messages": self.judge.messages(task, answer),
            "response_format": verdict_format(self.judge.pass_reason_chars),
            "temperature": 0.0,
            "seed": self.seed,
        }
        return await ask_for_verdict(self.client, body, {}, rollout, self.judge.pass_reason_chars)
