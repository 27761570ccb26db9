"""Deterministic pseudo-random draws keyed by seed and request facts (no global RNG state)."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Sequence, TypeVar

T = TypeVar("T")


def _canonical(seed: Any, parts: tuple[Any, ...]) -> str:
    # JSON with sorted keys so equal inputs always spell the same string,
    # whatever dict order or tuple/list type the caller used.
    return json.dumps([seed, *parts], sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def draw(seed: Any, *parts: Any) -> float:
    """A float in [0, 1) that depends only on `seed` and `parts`."""
    digest = hashlib.sha256(_canonical(seed, parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose(options: Sequence[T], seed: Any, *parts: Any) -> T:
    """One of `options`, picked by `draw(seed, *parts)`."""
    if not options:
        raise ValueError("choose() needs at least one option")
    return options[int(draw(seed, *parts) * len(options))]


def short_hash(text: str, length: int = 12) -> str:
    """A short hex digest, for ids that must repeat for equal inputs."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]
