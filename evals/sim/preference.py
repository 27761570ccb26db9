"""Tie-break order: inferring it from (chosen, expected) room pairs, and merging stated orders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from .phrasebook import TIEBREAKS, Phrasebook


@dataclass(frozen=True)
class Comparison:
    """How the expected room compares with the chosen one, per tie-break: better, worse or equal."""

    task: str
    better: frozenset[str]
    worse: frozenset[str]


@dataclass(frozen=True)
class Step:
    """One inferred tie-break, the tasks it decides, and the tie-breaks those tasks show it overriding."""

    family: str
    tasks: tuple[str, ...]
    overrides: tuple[str, ...]


def infer_order(comparisons: Sequence[Comparison], families: Sequence[str], stated: Sequence[str] = ()) -> list[Step]:
    """A lexicographic order explaining why each expected room beat the chosen one.

    Greedy, as a careful reader would: a `stated` key comes next while no pair goes against it;
    otherwise the key the expected rooms never lose on (most wins first). The pairs a key
    decides are set aside and the rest pick the next key.
    """
    remaining = [c for c in comparisons if c.better]
    steps: list[Step] = []
    unused = list(families)
    while remaining and unused:
        def support(family: str) -> tuple[int, int]:
            wins = sum(family in c.better for c in remaining)
            losses = sum(family in c.worse for c in remaining)
            return wins, losses

        prior = next((f for f in stated if f in unused), None)
        if prior is not None and not support(prior)[1]:
            family = prior
        else:
            family = _best(unused, support)
        if family is None:
            break
        decided = [c for c in remaining if family in c.better]
        overridden = [f for f in families if any(f in c.worse for c in decided)]
        steps.append(Step(family, tuple(c.task for c in decided), tuple(overridden)))
        unused.remove(family)
        remaining = [c for c in remaining if family not in c.better and family not in c.worse]
    # Stated keys no pair needed still hold, after the ones the evidence put ahead of them.
    steps += [Step(family, (), ()) for family in stated if family in unused]
    return steps


def _best(unused: list[str], support: Callable[[str], tuple[int, int]]) -> str | None:
    clean = [f for f in unused if support(f)[0] and not support(f)[1]]
    # With noisy evidence, settle for the key that explains most pairs on balance.
    pool = clean or [f for f in unused if support(f)[0] > support(f)[1]]
    return max(pool, key=lambda f: (support(f)[0], -unused.index(f))) if pool else None


def merge_orders(first: Sequence[str], second: Sequence[str]) -> list[str]:
    """One order holding every family of both; `second` wins where the two disagree."""
    after: dict[str, set[str]] = {f: set() for f in [*first, *second]}
    for order in (second, first):
        for i, earlier in enumerate(order):
            for later in order[i + 1 :]:
                # An edge the other order already reverses is dropped (second came first, so it wins).
                if earlier not in after[later]:
                    after[earlier].add(later)
    # Without an edge either way, what `first` already had stays ahead of what `second` adds.
    seen = list(dict.fromkeys([*first, *second]))
    result: list[str] = []
    while seen:
        ready = [f for f in seen if not any(f in after[g] for g in seen if g != f)]
        pick = ready[0] if ready else seen[0]
        result.append(pick)
        seen.remove(pick)
    return result


def stated_order(text: str, book: Phrasebook) -> list[str]:
    """The tie-breaks `text` asks for, in the order they first appear (as the agent applies them)."""
    positions = {family: book.first_position(family, text) for family in TIEBREAKS}
    return sorted((f for f, pos in positions.items() if pos is not None), key=lambda f: positions[f])
