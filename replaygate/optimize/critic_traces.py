"""Traces as the critic reads them: what the agent was asked, what it did, and what graders said.

Only train-split results are ever rendered; the search never hands validation or holdout
cases to a critic or an editor.
"""

from __future__ import annotations

import json
from typing import Sequence

from replaygate.run.runner import CaseResult

# Tool output beyond this is cut; a critic needs the facts, not megabytes.
RESULT_LIMIT = 6000


def _args(raw: str) -> str:
    try:
        return json.dumps(json.loads(raw), sort_keys=True, ensure_ascii=False)
    except (ValueError, TypeError):
        return raw


def trace_body(result: CaseResult) -> str:
    """Everything under a trace's heading; kept in the evaluation cache."""
    rollout = result.rollout
    lines = ["Request:"]
    if rollout is not None:
        for message in rollout.messages:
            if message.get("role") in ("system", "user"):
                lines.append(f"[{message['role']}] {message.get('content') or ''}")
        lines += ["", "Tool calls:"]
        if not rollout.tool_calls:
            lines.append("(none)")
        for number, call in enumerate(rollout.tool_calls, 1):
            lines.append(f"{number}. {call.name} {_args(call.arguments)}")
            text = call.result or ""
            if len(text) > RESULT_LIMIT:
                text = text[:RESULT_LIMIT] + " …(cut)"
            lines.append(f"   result: {text}")
        lines += ["", "Final answer:", rollout.final_text if rollout.final_text else "(none)"]
        if rollout.error:
            lines += ["", f"Error: {rollout.error_kind}: {rollout.error}"]
    elif result.failure is not None:
        lines.append(f"(could not run: {result.failure})")
    lines += ["", "Grader feedback:"]
    lines += [f"- {name} {score.value:.2f}: {score.reason}" for name, score in result.scores.items()] or ["(none)"]
    return "\n".join(lines)


WITHHELD = "   result: (withheld: it holds values of a validation or holdout task)"


def without_results(body: str) -> str:
    """The trace with every tool result withheld: what is left is the request, the calls, the answer and the grading."""
    return "\n".join(WITHHELD if line.startswith("   result: ") else line for line in body.split("\n"))


def render_traces(traces: Sequence[tuple[str, float, str]]) -> str:
    """Numbered traces from (task id, score, body) triples."""
    return "\n\n".join(
        f"### Trace {index}: task {task_id} (score {score:.2f})\n\n{body}"
        for index, (task_id, score, body) in enumerate(traces, 1)
    )
