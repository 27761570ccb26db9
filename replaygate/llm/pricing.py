"""Estimated cost of a run from a price table kept in a data file (model -> $ per 1M tokens in, cached in and out)."""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from replaygate.core.errors import InputError

PRICES = Path(__file__).with_name("prices.toml")
# What may follow a priced name in the name an answer gives: a date or version (gpt-4o-2024-08-06, gpt-4-0613).
# Nothing else, so o3-mini is never billed as o3 nor gpt-4o-mini as gpt-4o.
VERSION_SUFFIX = re.compile(r"(-[0-9]+)+")


@dataclass(frozen=True)
class Price:
    input: float  # $ per 1M input tokens
    output: float
    cached_input: float | None = None  # $ per 1M input tokens read from the prompt cache; None: the input rate

    @property
    def cached_rate(self) -> float:
        return self.input if self.cached_input is None else self.cached_input


@dataclass(frozen=True)
class PriceTable:
    models: Mapping[str, Price]
    as_of: str = ""  # when the prices were last checked


def load_prices(path: Path = PRICES) -> PriceTable:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        models = {}
        for name, p in data.get("models", {}).items():
            cached = p.get("cached_input")
            models[name] = Price(float(p["input"]), float(p["output"]), None if cached is None else float(cached))
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{path}: unreadable price table ({exc}); each [models.\"NAME\"] needs numeric input and "
                         "output (and may give cached_input)") from None
    return PriceTable(models, str(data.get("as_of", "")))


def price_for(model: str, prices: Mapping[str, Price]) -> Price | None:
    """The model's price, or that of the longest priced name it extends by a date or version; None when unpriced."""
    if model in prices:
        return prices[model]
    known = [name for name in prices if model.startswith(name) and VERSION_SUFFIX.fullmatch(model[len(name):])]
    return prices[max(known, key=len)] if known else None


def estimated_cost(usage: Mapping[str, Sequence[int]], prices: Mapping[str, Price]) -> float | None:
    """Cost of tokens per model, each (input, output) or (input, cached input, output); None when one is unpriced."""
    parts = []
    for model, counts in usage.items():
        tokens_in, cached, tokens_out = counts if len(counts) == 3 else (counts[0], 0, counts[1])
        if not tokens_in and not tokens_out:
            continue
        price = price_for(model, prices)
        if price is None:
            return None
        parts += [(tokens_in - cached) * price.input, cached * price.cached_rate, tokens_out * price.output]
    return math.fsum(parts) / 1e6


def unpriced(usage: Mapping[str, Sequence[int]], prices: Mapping[str, Price]) -> list[str]:
    """The models that used tokens and have no price, sorted."""
    return sorted(m for m, counts in usage.items() if any(counts) and price_for(m, prices) is None)


def format_cost(cost: float | None, unpriced: str = "") -> str:
    if cost is None:
        return f"n/a (no price for {unpriced})" if unpriced else "n/a"
    return f"${cost:.4f}" if cost < 1 else f"${cost:.2f}"
