"""Credential scanning before anything is written to disk."""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from replaygate.core.errors import InputError

# Shorter values would match by accident in ordinary text.
MIN_SECRET_LENGTH = 8


class SecretLeakError(InputError):
    pass


def find_secrets(text: str, secrets: Sequence[tuple[str, str]]) -> list[str]:
    """Names of the credential variables whose values occur in `text`."""
    return [name for name, value in secrets if len(value) >= MIN_SECRET_LENGTH and value in text]


def secrets_from_env(names: Iterable[str], environ: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(name, environ[name]) for name in names if environ.get(name)]
