"""Shared look of the reports' Mermaid charts: one explicit palette and a caption naming each series by colour."""

from __future__ import annotations

import json
from typing import Sequence

# Hues told apart with colour-blindness too (blue and orange first), each at least 3:1 against a white page,
# GitHub's dark page and Mermaid's dark chart background (BACKGROUNDS): Mermaid's own palette starts near white.
PALETTE: tuple[tuple[str, str], ...] = (
    ("blue", "#1E88E5"),
    ("orange", "#D55E00"),
    ("green", "#009E73"),
    ("pink", "#D6589F"),
    ("grey", "#808080"),
)
BACKGROUNDS = ("#ffffff", "#0d1117", "#333333")
MIN_CONTRAST = 3.0  # WCAG's floor for graphics against what surrounds them


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two `#rrggbb` colours, from 1 (the same) to 21 (black on white)."""
    def luminance(code: str) -> float:
        channels = [int(code[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def init_directive() -> str:
    """The first line of an xychart-beta block: Mermaid colours its series in this order."""
    palette = ", ".join(code for _, code in PALETTE)
    return "%%{init: " + json.dumps({"themeVariables": {"xyChart": {"plotColorPalette": palette}}}) + "}%%"


def colour_name(index: int) -> str:
    return PALETTE[index][0]


def mermaid_label(text: str) -> str:
    """Text safe inside a Mermaid double-quoted label (it has no escape for the quote itself)."""
    return " ".join(str(text).replace('"', "'").split())


def legend(series: Sequence[str], note: str = "") -> str:
    """The caption under a chart: each series by its colour, in the order the block declares them."""
    if len(series) > len(PALETTE):
        raise ValueError(f"{len(series)} series, but the palette names only {len(PALETTE)} colours")
    named = "; ".join(f"{colour_name(i)}: {name}" for i, name in enumerate(series))
    return f"*Colours: {named}.{' ' + note if note else ''}*"
