"""Which operator to try next: Thompson sampling over how often each produced an improving child."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence


@dataclass
class OperatorRecord:
    """One operator's tally: children proposed, and what became of them."""

    proposed: int = 0
    rejected: int = 0  # by lint, or a duplicate of an earlier prompt
    screened_out: int = 0  # below its parent on the cheap minibatch
    validated: int = 0
    improved: int = 0  # validated and better than its parent on the full validation split
    optimizer_calls: int = 0

    @property
    def failures(self) -> int:
        return self.proposed - self.improved


class OperatorBandit:
    """A Beta(a + improved, b + not improved) posterior per operator; draw from each, take the best draw.

    The prior (a, b) is Beta(1, 1) unless `priors` says otherwise for an operator.
    """

    def __init__(self, names: Sequence[str], priors: Mapping[str, tuple[float, float]] | None = None):
        if not names:
            raise ValueError("no mutation operators to choose from")
        self.records = {name: OperatorRecord() for name in names}
        self.priors = {name: (priors or {}).get(name, (1.0, 1.0)) for name in names}

    def posterior(self, name: str) -> tuple[float, float]:
        a, b = self.priors[name]
        entry = self.records[name]
        return a + entry.improved, b + entry.failures

    def choose(self, rng: random.Random, allowed: Sequence[str] | None = None) -> str:
        names = [n for n in self.records if allowed is None or n in allowed]
        if not names:
            raise ValueError("no allowed operator")
        draws = {name: rng.betavariate(*self.posterior(name)) for name in names}
        # Ties (never in practice) go to the earlier name: the choice depends on the rng alone.
        return max(names, key=lambda name: draws[name])

    def record(self, name: str, outcome: str) -> None:
        """`outcome`: "rejected", "screened_out", "validated" or "improved" (an improved child was validated too)."""
        entry = self.records[name]
        entry.proposed += 1
        if outcome == "rejected":
            entry.rejected += 1
        elif outcome == "screened_out":
            entry.screened_out += 1
        elif outcome in ("validated", "improved"):
            entry.validated += 1
            entry.improved += outcome == "improved"
        else:
            raise ValueError(f"unknown outcome {outcome!r}")

    def posterior_mean(self, name: str) -> float:
        a, b = self.posterior(name)
        return a / (a + b)

    def to_json(self) -> list[dict]:
        return [{"operator": name, **asdict(entry), "posterior_mean": round(self.posterior_mean(name), 4)}
                for name, entry in self.records.items()]
