"""The search's budget: rollouts are the currency; optimizer calls and tokens are counted apart."""

from __future__ import annotations

from dataclasses import dataclass


class BudgetExhausted(Exception):
    """The rollouts a step needs exceed what is left; the step is not started."""


@dataclass
class Budget:
    rollouts: int
    used: int = 0
    cache_hits: int = 0
    optimizer_calls: int = 0
    optimizer_tokens_in: int = 0
    optimizer_tokens_out: int = 0
    agent_tokens: int = 0
    # Held back for the holdout gate while the search runs.
    reserved: int = 0

    @property
    def remaining(self) -> int:
        return self.rollouts - self.used - self.reserved

    def charge(self, rollouts: int) -> None:
        if rollouts > self.remaining:
            raise BudgetExhausted(
                f"needs {rollouts} rollouts, {self.remaining} of {self.rollouts} left"
                + (f" ({self.reserved} held back for the holdout gate)" if self.reserved else "")
            )
        self.used += rollouts

    def to_json(self) -> dict[str, int]:
        return {
            "rollouts": self.rollouts,
            "used": self.used,
            "paid": self.used - self.cache_hits,  # rollouts actually run; the rest came from the cache
            "cache_hits": self.cache_hits,
            "optimizer_calls": self.optimizer_calls,
            "optimizer_tokens_in": self.optimizer_tokens_in,
            "optimizer_tokens_out": self.optimizer_tokens_out,
            "agent_tokens": self.agent_tokens,
        }
