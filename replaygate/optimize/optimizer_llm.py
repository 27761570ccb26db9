"""The optimizer's own model calls (critic, editor, LLM mutations), counted apart from rollouts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Mapping, Sequence

import httpx2
import openai
from openai.types.chat import ChatCompletion

from replaygate.llm.azure import api_error_hint
from replaygate.llm.backend import Backend
from replaygate.llm.chat import first_line
from replaygate.core.prompt import PromptTemplate
from replaygate.optimize.budget import Budget


@dataclass(frozen=True)
class OptimizerRequest:
    template: PromptTemplate
    values: Mapping[str, str]
    seed: int


class OptimizerLLM:
    def __init__(self, backend: Backend, model: str, budget: Budget, timeout_s: float = 120.0, concurrency: int = 8):
        self.backend, self.model, self.budget = backend, model, budget
        self.timeout_s, self.concurrency = timeout_s, concurrency
        self.failures: list[str] = []

    def complete_many(self, requests: Sequence[OptimizerRequest]) -> list[str | None]:
        """Each request's answer text, or None when the call failed (the failure is noted, the search goes on)."""
        if not requests:
            return []
        return asyncio.run(self._complete_all(requests))

    async def _complete_all(self, requests: Sequence[OptimizerRequest]) -> list[str | None]:
        transport = self.backend.transport(self.concurrency)
        gate = asyncio.Semaphore(self.concurrency)
        async with httpx2.AsyncClient(transport=transport, timeout=self.timeout_s) as http:
            client = self.backend.client("optimizer", http, self.timeout_s)

            async def one(request: OptimizerRequest) -> str | None:
                async with gate:
                    return await self._complete(client, request)

            return list(await asyncio.gather(*(one(r) for r in requests)))

    async def _complete(self, client: openai.AsyncOpenAI, request: OptimizerRequest) -> str | None:
        body = {
            "model": self.model,
            "messages": request.template.render(request.values),
            "temperature": 0.7,
            "seed": request.seed,
        }
        self.budget.optimizer_calls += 1
        try:
            response = await client.post("/chat/completions", cast_to=ChatCompletion, body=body)
            text = response.choices[0].message.content or ""
        except (openai.APIError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            hint = api_error_hint(exc, client) if isinstance(exc, openai.APIStatusError) else ""
            self.failures.append(f"{request.template.path.name}: {first_line(exc)}{hint}")
            return None
        if response.usage is not None:
            self.budget.optimizer_tokens_in += int(response.usage.prompt_tokens)
            self.budget.optimizer_tokens_out += int(response.usage.completion_tokens)
        return text
