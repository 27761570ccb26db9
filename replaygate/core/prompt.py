"""Prompt templates: files with {placeholders}, versioned by a hash of their text.

A file may hold one user message, or `[system]` and `[user]` sections, each
starting on a line of its own. `{name}` is a placeholder and `{{name}}` the
literal text `{name}`; every other brace (JSON examples, say) is plain text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from replaygate.core.errors import InputError, read_input

# Group 1: an escaped `{{name}}`; group 2: a placeholder `{name}` not touching another brace.
TOKEN = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}|(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")
SECTION = re.compile(r"^\[(system|user)\]\s*$", re.MULTILINE)


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
        for match in TOKEN.finditer(self.text):
            if match.group(2) and match.group(2) not in names:
                names.append(match.group(2))
        return names

    def check(self, available: Iterable[str]) -> None:
        """Raise if the template uses a placeholder the tasks cannot fill, or has text no section holds."""
        available = set(available)
        first = SECTION.search(self.text)
        if first and self.text[: first.start()].strip():
            raise PromptFileError(
                f"{self.path}:1: text before the first [system] or [user] line would be dropped; move it into a section"
            )
        for match in TOKEN.finditer(self.text):
            name = match.group(2)
            if name and name not in available:
                line = self.text.count("\n", 0, match.start()) + 1
                known = ", ".join("{" + n + "}" for n in sorted(available))
                raise PromptFileError(
                    f"{self.path}:{line}: placeholder {{{name}}} is not a task input; use one of {known} "
                    f"or write {{{{{name}}}}} for literal braces"
                )

    def render(self, values: Mapping[str, str]) -> list[dict[str, str]]:
        """The chat messages for one task."""

        def fill(text: str) -> str:
            # One pass over the template's own text, so braces inside filled-in values stay as they are.
            return TOKEN.sub(lambda m: "{" + m.group(1) + "}" if m.group(1) else str(values[m.group(2)]), text)

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
