"""Errors that mean the user's input is wrong, not the harness."""

from __future__ import annotations


from pathlib import Path


class InputError(Exception):
    """Bad input from a file, a setting or the command line.

    The message is one line: where the problem is (file:line, case or option),
    what is wrong, and what to do about it.
    """


def read_input(path: Path, error: type[InputError], kind: str, missing_fix: str, form: str = "") -> str:
    """A user file's UTF-8 text; a missing or undecodable file raises `error` naming it and the fix."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: {kind} not found; {missing_fix}") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text; save the {kind} as UTF-8{' ' + form if form else ''}") from None
