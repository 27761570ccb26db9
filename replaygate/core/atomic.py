"""Atomic file writes: a reader sees the old file or the new one, never a mix."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from replaygate.core.errors import InputError, os_error_message, read_only


class FileWriteError(InputError, OSError):
    """A file the harness could not write, in one line naming it and the fix; still an OSError for callers that catch those."""


def _umask() -> int:
    """The process's umask, read without setting it (os.umask would change it for other threads meanwhile)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write `text` to a temp file beside `path`, fsync it, then rename over `path`."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """The same for bytes, e.g. a staged file copied in from another file system.

    A replaced file keeps its mode, a new one gets the umask's (not mkstemp's 0600); a read-only file is
    refused, never replaced. Every OS refusal raises FileWriteError naming the path.
    """
    path = Path(path)
    mode = _written_mode(path)
    fd, tmp = _temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        # Also on KeyboardInterrupt: drop the temp file, leave the target as it was.
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, FileWriteError):
            raise FileWriteError(os_error_message(path, exc, "file", writing=True)) from None
        raise


def _written_mode(path: Path) -> int:
    """The mode `path` gets: a replaced file's own, a new file the umask's; a directory or read-only file is refused."""
    try:
        existing = path.stat()
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise FileWriteError(os_error_message(path, exc, "file", writing=True)) from None
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        raise FileWriteError(os_error_message(path, IsADirectoryError(), "file", writing=True))
    if existing is not None and read_only(path):
        raise FileWriteError(f"{path}: is read-only, and the harness does not replace a read-only file; "
                             f"make it writable (chmod u+w {path}) or write elsewhere")
    return stat.S_IMODE(existing.st_mode) if existing is not None else 0o666 & ~_umask()


def _temp_beside(path: Path) -> tuple[int, str]:
    """A new temp file in `path`'s folder (made if missing), so the final rename stays on one file system."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise FileWriteError(os_error_message(path, exc, "file", writing=True)) from None
