"""Credential scanning before anything is written to disk, and the one checked write every writer uses."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from replaygate.core.atomic import write_text_atomic
from replaygate.core.errors import InputError

if TYPE_CHECKING:
    from replaygate.core.changeset import Changeset

# Shorter values would match by accident in ordinary text.
MIN_SECRET_LENGTH = 8
# Entra ID (bearer) tokens are in no environment variable, so their shape must give them away:
# a JWT is three base64url segments, the first a JSON header (`{"` encodes as eyJ).
JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
BEARER = re.compile(r"\bbearer\s+[A-Za-z0-9._~+/-]{16,}", re.IGNORECASE)
TOKEN_SHAPES = (("a JWT-shaped token", JWT), ("a 'Bearer <token>' string", BEARER))


class SecretLeakError(InputError):
    pass


def find_secrets(text: str, secrets: Sequence[tuple[str, str]]) -> list[str]:
    """Names of the credential variables whose values occur in `text`, then the token shapes it shows."""
    found = [name for name, value in secrets if len(value) >= MIN_SECRET_LENGTH and value in text]
    return found + [what for what, pattern in TOKEN_SHAPES if pattern.search(text)]


def leak_message(path: str | Path, leaked: Sequence[str]) -> str:
    """One line for a refused write: the file, what it would contain, and what to do."""
    what = leaked[0] if leaked[0] in {what for what, _ in TOKEN_SHAPES} else f"the value of ${leaked[0]}"
    return (f"{path}: refusing to write, it would contain {what}; keep credentials and tokens out of prompts, "
            "task inputs, model answers and allow-listed headers, then re-run")


def secrets_from_env(names: Iterable[str], environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """(name, value) of the secret variables that are set; shorter values would match ordinary text."""
    return [(name, environ[name]) for name in names if len(environ.get(name, "")) >= MIN_SECRET_LENGTH]


def refuse_secrets(path: str | Path, text: str, secrets: Sequence[tuple[str, str]]) -> None:
    """Raise SecretLeakError (one line naming `path`) if `text` holds a credential's value or a token's shape."""
    leaked = find_secrets(text, secrets)
    if leaked:
        raise SecretLeakError(leak_message(path, leaked))


def write_checked(outputs: Iterable[tuple[str | Path, str]], secrets: Sequence[tuple[str, str]],
                  changes: Changeset | None = None) -> None:
    """Write each (path, text) atomically, or stage it in `changes`, once every text is checked for credentials.

    All are checked before any is written, so a refusal leaves none of them half-updated.
    """
    outputs = list(outputs)
    for path, text in outputs:
        refuse_secrets(path, text, secrets)
    for path, text in outputs:
        if changes is None:
            write_text_atomic(path, text)
        else:
            changes.write(path, text)
