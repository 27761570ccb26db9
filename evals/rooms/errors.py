"""Bad-input errors of the room domain, and how they quote the offending value."""

from __future__ import annotations

import json
from typing import Any

from replaygate import InputError

_MAX_SHOWN = 60


class RoomsFileError(InputError):
    """The rooms file is missing or describes a room wrongly."""


class TaskInputError(InputError):
    """A room task's `task_input` is missing a field or holds a bad value."""


def shown(value: Any) -> str:
    """Render a value as JSON (the files are JSON), shortened to keep messages on one line."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    text = " ".join(text.split())  # a stray newline in a value must not break the one-line rule
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."
