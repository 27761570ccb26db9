"""Credential scanning before anything is written to disk."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from replaygate.core.errors import InputError

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
    return [(name, environ[name]) for name in names if environ.get(name)]
