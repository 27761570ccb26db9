"""Errors that mean the user's input is wrong, not the harness; and the one place OS refusals become such errors."""

from __future__ import annotations

import argparse
import os
import stat
from pathlib import Path


class InputError(Exception):
    """Bad input from a file, a setting or the command line.

    The message is one line: where the problem is (file:line, case or option),
    what is wrong, and what to do about it.
    """


class CaseError(Exception):
    """A case that ended without a score, for a reason its one-line message gives in full (a timeout, say)."""


def raised_at(exc: BaseException) -> str:
    """`Type: message at file:line (in function)`, at the innermost frame of the user's code (outside this package).

    What a failing solver or grader shows: its own line, not the harness frames around it."""
    import traceback

    harness = Path(__file__).resolve().parents[1]
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if not Path(f.filename).resolve().is_relative_to(harness)
           and "site-packages" not in Path(f.filename).parts]
    frame = own[-1] if own else (frames[-1] if frames else None)
    detail = " ".join(str(exc).split())
    where = f" at {shown_path(frame.filename)}:{frame.lineno} (in {frame.name})" if frame is not None else ""
    return f"{type(exc).__name__}{': ' + detail if detail else ''}{where}"


class OneLineParser(argparse.ArgumentParser):
    """argparse for the harness's commands: a bad argument is one line naming it, not a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message}; see --help\n")


def shown_path(path: str | Path) -> str:
    """A path as messages show it: relative to the working directory when under it."""
    path = Path(path)
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd())) or "."
        except ValueError:
            pass
    return str(path)


def _file_in_the_way(path: Path) -> Path | None:
    """The nearest existing ancestor of `path` that is a file (a folder was needed there), if any."""
    for parent in Path(os.path.abspath(path)).parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def os_error_message(path: str | Path, exc: OSError, kind: str, source: str = "", writing: bool = False) -> str:
    """One line for an OS refusal on `path`: what it was for, where the path came from (`source`) and the fix."""
    where = source or "the path"
    verb = "writing" if writing else "reading"
    if isinstance(exc, IsADirectoryError) or (writing and Path(path).is_dir()):
        return f"{path}: is a folder, not a {kind}; point {where} at a file"
    if isinstance(exc, (NotADirectoryError, FileExistsError)):
        blocker = _file_in_the_way(Path(path))
        what = f"{shown_path(blocker)} is a file" if blocker is not None else "a part of the path is a file"
        return f"{path}: {what}, not a folder; move that file or point {where} elsewhere"
    if isinstance(exc, PermissionError):
        if writing:
            return f"{path}: permission denied {verb} the {kind}; make its folder writable (chmod u+w) or point {where} elsewhere"
        return f"{path}: permission denied {verb} the {kind}; make it readable (chmod u+r) or point {where} at another file"
    reason = exc.strerror or type(exc).__name__
    return f"{path}: cannot {'write' if writing else 'read'} the {kind} ({reason}); check the path, or point {where} elsewhere"


def read_input(path: Path, error: type[InputError], kind: str, missing_fix: str, form: str = "", source: str = "") -> str:
    """A user file's UTF-8 text (a leading byte-order mark dropped); any OS refusal raises `error` naming it and the fix.

    `source` names where the path came from (e.g. "the prompt setting (or --prompt)"), for the fix.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if _file_in_the_way(path) is not None:
            raise error(os_error_message(path, NotADirectoryError(), kind, source)) from None
        raise error(f"{path}: {kind} not found; {missing_fix}") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text; save the {kind} as UTF-8{' ' + form if form else ''}") from None
    except OSError as exc:
        raise error(os_error_message(path, exc, kind, source)) from None
    return text.removeprefix("\ufeff")


def read_input_bytes(path: Path, error: type[InputError], kind: str, source: str = "") -> bytes:
    """A file's bytes; any OS refusal (a missing file too) raises `error` naming it and the fix."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: {kind} not found (removed while it was read?); restore it or point {source or 'the path'} elsewhere") from None
    except OSError as exc:
        raise error(os_error_message(path, exc, kind, source)) from None


def read_only(path: Path) -> bool:
    """True for a file or folder this process may not change, or whose owner removed its write bit.

    Root may write anywhere: a write bit taken away says the file was made read-only on purpose, so it counts too.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    access = os.W_OK | (os.X_OK if stat.S_ISDIR(mode) else 0)
    return not os.access(path, access) or not mode & stat.S_IWUSR


def _nearest_existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_folder(path: Path, kind: str, source: str, error: type[InputError] = InputError, writing: bool = True) -> None:
    """Raise `error` unless `path` is a folder (or can be made one) that this process may write into.

    Called before any model call, so nothing is recorded or paid for when a destination cannot be written.
    """
    existing = _nearest_existing(path)
    if existing == Path(os.path.abspath(path)) and not existing.is_dir():
        raise error(f"{path}: is a file, not a folder; point {source} at a folder for the {kind}, or move the file")
    if not existing.is_dir():
        raise error(f"{path}: {shown_path(existing)} is a file, not a folder; move that file or point {source} elsewhere")
    if writing and read_only(existing):
        which = "the folder" if existing == Path(os.path.abspath(path)) else f"the folder {shown_path(existing)}"
        raise error(f"{path}: {which} is read-only, so the {kind} cannot be written there; "
                    f"make it writable (chmod u+w {shown_path(existing)}) or point {source} at another folder")


def check_file_destination(path: Path, kind: str, source: str, error: type[InputError] = InputError) -> None:
    """Raise `error` unless `path` can be written as a file: not a folder, its folder writable, itself not read-only."""
    if path.is_dir():
        raise error(f"{path}: is a folder; point {source} at a file for the {kind}")
    existing = _nearest_existing(path.parent)
    if not existing.is_dir():
        raise error(f"{path}: {shown_path(existing)} is a file, not a folder; move that file or point {source} elsewhere")
    if read_only(existing):
        raise error(f"{path}: the folder {shown_path(existing)} is read-only, so the {kind} cannot be written there; "
                    f"make it writable (chmod u+w {shown_path(existing)}) or point {source} elsewhere")
    if path.is_file() and read_only(path):
        raise error(f"{path}: the {kind} is read-only, and the harness does not replace a read-only file; "
                    f"make it writable (chmod u+w {path}) or point {source} elsewhere")
