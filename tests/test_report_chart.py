"""The score-distribution chart: a Mermaid xychart-beta block GitHub renders.

No Mermaid renderer runs offline here, so the block is checked against the grammar's
structure: the known statements in order, quoted labels, balanced brackets, and numeric
series as long as the x axis.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from replaygate.results.report import BINS, mermaid_distribution, score_histogram

scores = st.lists(st.floats(0.0, 1.0, allow_nan=False), max_size=60)


def parse(block: str) -> dict:
    lines = block.splitlines()
    assert lines[0] == "```mermaid" and lines[-1] == "```" and lines[1] == "xychart-beta"
    body = [line.strip() for line in lines[2:-1]]
    kinds = [line.split()[0] for line in body]
    assert kinds[:4] == ["title", "x-axis", "y-axis", "bar"] and kinds[4:] in ([], ["line"])
    for line in body:
        assert line.count("[") == line.count("]") <= 1 and line.count('"') % 2 == 0, line
    assert re.fullmatch(r'title "[^"]+"', body[0])
    labels = re.findall(r'"([^"]+)"', body[1].split("[", 1)[1])
    top = re.fullmatch(r'y-axis "tasks" 0 --> (\d+)', body[2])
    assert top, body[2]
    series = {kind: [int(v) for v in re.fullmatch(rf"{kind} \[([\d, ]*)\]", line).group(1).split(", ")]
              for kind, line in zip(kinds[3:], body[3:])}
    return {"labels": labels, "top": int(top.group(1)), "series": series}


@given(scores, st.none() | scores)
def test_the_chart_is_well_formed_and_its_series_fit_the_axes(now, base):
    chart = parse(mermaid_distribution(now, base))
    assert len(chart["labels"]) == BINS
    assert set(chart["series"]) == ({"bar"} if base is None else {"bar", "line"})
    for values in chart["series"].values():
        assert len(values) == BINS and max(values) <= chart["top"]
    assert sum(chart["series"]["bar"]) == len(now)


def test_histogram_bins_put_one_in_the_top_bin_and_edges_up():
    assert score_histogram([0.0, 0.1, 0.15, 0.2, 0.99, 1.0]) == [1, 2, 1, 0, 0, 0, 0, 0, 0, 2]
