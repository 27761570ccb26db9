"""Estimated cost of a run from a price table kept in a data file (model -> $ per 1M tokens in and out)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from replaygate.core.errors import InputError

PRICES = Path(__file__).with_name("prices.toml")


@dataclass(frozen=True)
class Price:
    input: float  # $ per 1M input tokens
    output: float


@dataclass(frozen=True)
class PriceTable:
    models: Mapping[str, Price]
    as_of: str = ""  # when the prices were last checked


def load_prices(path: Path = PRICES) -> PriceTable:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        models = {name: Price(float(p["input"]), float(p["output"])) for name, p in data.get("models", {}).items()}
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: unreadable price table ({exc}); each [models.\"NAME\"] needs numeric input and output") from None
    return PriceTable(models, str(data.get("as_of", "")))


def estimated_cost(usage: Mapping[str, tuple[int, int]], prices: Mapping[str, Price]) -> float | None:
    """Cost of (input, output) tokens per model; None when a model that used tokens has no price."""
    total = 0.0
    for model, (tokens_in, tokens_out) in usage.items():
        if not tokens_in and not tokens_out:
            continue
        price = prices.get(model)
        if price is None:
            return None
        total += tokens_in * price.input / 1e6 + tokens_out * price.output / 1e6
    return total


def format_cost(cost: float | None, unpriced: str = "") -> str:
    if cost is None:
        return f"n/a (no price for {unpriced})" if unpriced else "n/a"
    return f"${cost:.4f}" if cost < 1 else f"${cost:.2f}"
