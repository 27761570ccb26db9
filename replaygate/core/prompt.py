"""Prompt templates: files with {placeholders}, versioned by a hash of their text; and `Prompt`, one rendered for a task.

A file may hold one user message, or `[system]` and `[user]` sections, each
starting on a line of its own. `{name}` is a placeholder. `{{` is a literal `{`, and the `}}` that closes it a
literal `}`, in every section and whatever stands between them (`{{name}}` is the text `{name}`, `{{"unit": "km"}}`
the text `{"unit": "km"}`); every other brace (a JSON example written with single braces, say) is plain text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from replaygate.core.errors import InputError, read_input

# An escape opening `{{`, an escape closing `}}`, or a placeholder `{name}` (group 1).
TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _scan(text: str) -> list[tuple[int, str, str | None]]:
    """(position, what it becomes, the placeholder's name or None) for each escape and placeholder, in order.

    `}}` is an escape only where it closes an open `{{`: a JSON example's own `}}` (`{"a": {"b": 1}}`) stays."""
    found: list[tuple[int, str, str | None]] = []
    open_escapes = 0
    for match in TOKEN.finditer(text):
        token = match.group(0)
        if token == "{{":
            open_escapes += 1
            found.append((match.start(), "{", None))
        elif token == "}}":
            if open_escapes:
                open_escapes -= 1
                found.append((match.start(), "}", None))
        else:
            found.append((match.start(), token, match.group(1)))
    return found
SECTION = re.compile(r"^\[(system|user)\]\s*$", re.MULTILINE)


def placeholder_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of each placeholder in `text`, escapes skipped, as `render` reads it."""
    return [(start, start + len(token), name) for start, token, name in _scan(text) if name]


class PromptFileError(InputError):
    pass


@dataclass(frozen=True)
class PromptTemplate:
    path: Path
    text: str

    @property
    def version(self) -> str:
        """A short sha256 prefix of the text: the prompt's identity in reports and caches."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:12]

    @property
    def placeholders(self) -> list[str]:
        names: list[str] = []
        for _, _, name in _scan(self.text):
            if name and name not in names:
                names.append(name)
        return names

    def check(self, available: Iterable[str]) -> None:
        """Raise if the template uses a placeholder the tasks cannot fill, or has text no section holds."""
        available = set(available)
        first = SECTION.search(self.text)
        if first and self.text[: first.start()].strip():
            raise PromptFileError(
                f"{self.path}:1: text before the first [system] or [user] line would be dropped; move it into a section"
            )
        for start, _, name in _scan(self.text):
            if name and name not in available:
                line = self.text.count("\n", 0, start) + 1
                known = ", ".join("{" + n + "}" for n in sorted(available))
                raise PromptFileError(
                    f"{self.path}:{line}: placeholder {{{name}}} is not a task input; use one of {known} "
                    f"or write {{{{{name}}}}} for literal braces"
                )

    def render(self, values: Mapping[str, str]) -> list[dict[str, str]]:
        """The chat messages for one task."""

        def fill(text: str) -> str:
            # One pass over the template's own text, so braces inside filled-in values stay as they are.
            parts, position = [], 0
            for start, token, name in _scan(text):
                parts += [text[position:start], str(values[name]) if name else token]
                position = start + (len(token) if name else 2)
            return "".join(parts) + text[position:]

        sections = list(SECTION.finditer(self.text))
        if not sections:
            return [{"role": "user", "content": fill(self.text.strip())}]
        messages = []
        for index, match in enumerate(sections):
            end = sections[index + 1].start() if index + 1 < len(sections) else len(self.text)
            body = self.text[match.end() : end].strip()
            if body:
                messages.append({"role": match.group(1), "content": fill(body)})
        return messages


def load_prompt(path: str | Path, source: str = "the prompt setting (or --prompt)") -> PromptTemplate:
    """Read a prompt file; `source` names the setting or option the path came from, for messages."""
    path = Path(path)
    text = read_input(path, PromptFileError, "prompt file", f"create it or point {source} at an existing file", source=source)
    if not text.strip():
        raise PromptFileError(f"{path}: prompt file is empty; write the prompt template into it")
    return PromptTemplate(path=path, text=text)


@dataclass(frozen=True)
class Prompt:
    """The suite's prompt rendered for one task, with the settings to call the model with."""

    messages: list[dict[str, str]]
    model: str
    temperature: float = 0.0
    seed: int = 0  # the configured seed plus the repeat: repeats are distinct requests
    max_turns: int = 2
    version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # This case's OpenAI-compatible URL on the run's loopback endpoint, for a framework, a subprocess or any
    # client configured by URL ("" when no endpoint serves); what reaches it is recorded and replayed as this case's.
    base_url: str = ""

    @property
    def text(self) -> str:
        """All messages' text, for a solver that sends one string."""
        return "\n\n".join(m["content"] for m in self.messages)

    def chat(self, **more: Any) -> dict[str, Any]:
        """Arguments for `client.chat.completions.create(**prompt.chat(tools=...))`."""
        return {"model": self.model, "messages": list(self.messages), "temperature": self.temperature,
                "seed": self.seed, **more}

    def responses(self, **more: Any) -> dict[str, Any]:
        """Arguments for `client.responses.create(**prompt.responses(tools=...))`."""
        return {"model": self.model, "input": list(self.messages), "temperature": self.temperature, **more}
