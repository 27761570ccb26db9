"""Reading rendered agent traces (task, request, tool calls, answer, grader lines) back into records."""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADER = re.compile(r"^#{2,4}\s*Trace\s+\d+\s*:\s*task\s+(\S+)(?:\s*\(score\s+([0-9.]+)\))?", re.IGNORECASE | re.MULTILINE)
_CALL = re.compile(r"^\s*\d+\.\s+([A-Za-z_][\w.-]*)\s*(.*)$")
_RESULT = re.compile(r"^\s+result:\s?(.*)$")
_ERROR = re.compile(r"^Error:\s*([a-z_]+):\s*(.*)$")
_FEEDBACK = re.compile(r"^-\s+([\w.-]+)\s+([0-9.]+):\s*(.*)$")
_SECTIONS = ("Request:", "Tool calls:", "Final answer:", "Grader feedback:")


@dataclass(frozen=True)
class ToolUse:
    name: str
    arguments: str
    result: str


@dataclass(frozen=True)
class Trace:
    """One task's run as the trace shows it; empty fields mean the trace did not say."""

    task: str
    score: float | None
    request: str
    calls: tuple[ToolUse, ...]
    answer: str
    error_kind: str | None
    error: str
    feedback: tuple[tuple[str, float, str], ...]

    def reasons(self) -> str:
        """Every grader reason, one per line, for regex reading."""
        return "\n".join(reason for _, _, reason in self.feedback)


def _sections(body: str) -> dict[str, list[str]]:
    parts: dict[str, list[str]] = {name: [] for name in _SECTIONS}
    current = None
    for line in body.splitlines():
        if line.strip() in _SECTIONS:
            current = line.strip()
            continue
        if current is not None:
            parts[current].append(line)
    return parts


def _calls(lines: list[str]) -> tuple[ToolUse, ...]:
    calls: list[list[str]] = []
    for line in lines:
        result = _RESULT.match(line)
        if result and calls:
            calls[-1][2] = result.group(1)
            continue
        call = _CALL.match(line)
        if call:
            calls.append([call.group(1), call.group(2).strip(), ""])
    return tuple(ToolUse(*call) for call in calls)


def _parse_one(task: str, score: str | None, body: str) -> Trace:
    parts = _sections(body)
    answer_lines, error_kind, error = [], None, ""
    for line in parts["Final answer:"]:
        match = _ERROR.match(line)
        if match:
            error_kind, error = match.group(1), match.group(2)
        else:
            answer_lines.append(line)
    answer = "\n".join(answer_lines).strip()
    feedback = tuple(
        (m.group(1), float(m.group(2)), m.group(3).strip()) for line in parts["Grader feedback:"] if (m := _FEEDBACK.match(line))
    )
    return Trace(
        task=task,
        score=float(score) if score else None,
        request="\n".join(parts["Request:"]).strip(),
        calls=_calls(parts["Tool calls:"]),
        answer="" if answer == "(none)" else answer,
        error_kind=error_kind,
        error=error,
        feedback=feedback,
    )


def parse_traces(text: str) -> list[Trace]:
    """Every `### Trace N: task ID` block in `text`, in order."""
    headers = list(_HEADER.finditer(text))
    out = []
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        out.append(_parse_one(header.group(1), header.group(2), text[header.end() : end]))
    return out
