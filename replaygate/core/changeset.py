"""A session's staged write set: files written and deleted during the session, switched in together at its end.

`commit` writes a journal, then moves; the next session's `recover` finishes a journaled switch or drops the rest.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import stat
from pathlib import Path
from typing import Callable

from replaygate.core.atomic import write_bytes_atomic, write_text_atomic

# Staged files wait in <root>/.replaygate-staging/<pid>-<token>/, mirroring their targets' paths.
STAGING = ".replaygate-staging"
JOURNAL = "journal.json"
# Fault injection: each hook is called with the name of a step (gate, cassette, report, switch) as the session
# passes it. None is installed in a normal run; a test adds one to interrupt a session at an exact point.
CHECKPOINT_HOOKS: list[Callable[[str], None]] = []


def checkpoint(name: str) -> None:
    for hook in CHECKPOINT_HOOKS:
        hook(name)


class Changeset:
    """Writes and deletions queued during a session; reads through `current` see them before `commit`."""

    def __init__(self, root: Path):
        self.root = Path(root).absolute()
        self.folder = self.root / STAGING / f"{os.getpid()}-{secrets.token_hex(4)}"
        self._files: dict[Path, Path] = {}  # target -> staged file
        self._folders: dict[Path, Path] = {}  # target folder -> staged folder
        self._deletes: dict[Path, None] = {}  # insertion-ordered set
        self.discarded = False
        self.committed = False

    def _staged_location(self, target: Path) -> Path:
        try:
            return self.folder / "files" / target.relative_to(self.root)
        except ValueError:  # a target outside the project: moved in by copying at the switch
            return self.folder / "outside" / secrets.token_hex(4) / target.name

    def _open(self) -> None:
        if self.discarded or self.committed:
            raise RuntimeError(f"{self.folder}: this session's changes were already {'discarded' if self.discarded else 'committed'}")
        self.folder.mkdir(parents=True, exist_ok=True)

    def stage(self, target: str | Path) -> Path:
        """The file to write `target`'s new content to; it replaces `target` at commit."""
        target = Path(os.path.abspath(target))
        self._open()
        self._deletes.pop(target, None)
        if target not in self._files:
            self._files[target] = self._staged_location(target)
        self._files[target].parent.mkdir(parents=True, exist_ok=True)
        return self._files[target]

    def write(self, target: str | Path, text: str) -> None:
        write_text_atomic(self.stage(target), text)

    def stage_folder(self, target: str | Path) -> Path:
        """A folder standing for `target`: every file written under it replaces its counterpart at commit."""
        target = Path(os.path.abspath(target))
        self._open()
        if target not in self._folders:
            self._folders[target] = self._staged_location(target)
        self._folders[target].mkdir(parents=True, exist_ok=True)
        return self._folders[target]

    def target_of(self, path: str | Path) -> Path:
        """Where a staged file or folder (or anything under one) goes at commit; other paths are their own target."""
        path = Path(os.path.abspath(path))
        for target, staged in [*self._folders.items(), *self._files.items()]:
            if path == staged or path.is_relative_to(staged):
                return target / path.relative_to(staged)
        return path

    def delete(self, target: str | Path) -> None:
        target = Path(os.path.abspath(target))
        self._open()
        self._files.pop(target, None)
        self._deletes[target] = None

    def current(self, target: str | Path) -> Path | None:
        """The file holding `target` as this session will leave it: staged, None if deleted, else `target` itself."""
        target = Path(os.path.abspath(target))
        if target in self._deletes:
            return None
        if target in self._files:
            return self._files[target]
        for folder, staged in self._folders.items():
            if target.is_relative_to(folder) and (staged / target.relative_to(folder)).is_file():
                return staged / target.relative_to(folder)
        return target

    def read_text(self, target: str | Path) -> str | None:
        path = self.current(target)
        return path.read_text(encoding="utf-8") if path is not None and path.is_file() else None

    def _plan(self) -> dict[str, list]:
        moves = [(staged, target / staged.relative_to(folder))
                 for target, folder in self._folders.items() if folder.is_dir()
                 for staged in sorted(folder.rglob("*")) if staged.is_file()]
        moves += [(staged, target) for target, staged in self._files.items() if staged.is_file()]
        moved = {target for _, target in moves}
        return {
            "moves": [[self._name(staged), self._name(target)] for staged, target in moves],
            "deletes": [self._name(target) for target in self._deletes if target not in moved],
        }

    def _name(self, path: Path) -> str:
        # Relative to the project, so a checkout moved after a crash still recovers.
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)

    def commit(self) -> int:
        """Switch every staged file in and delete what was marked, as one unit; returns the number of file changes."""
        if self.discarded or self.committed:
            return 0
        plan = self._plan() if self.folder.is_dir() else {"moves": [], "deletes": []}
        if not (plan["moves"] or plan["deletes"]):
            self.committed = True
            _remove(self.folder)
            return 0
        write_text_atomic(self.folder / JOURNAL, json.dumps(plan, indent=1) + "\n")  # the commit point
        self.committed = True
        finished = False
        try:
            _apply(self.root, plan, on_first=lambda: checkpoint("switch"))
            finished = True
        except BaseException:
            # Past the commit point the only consistent way out is forward, Ctrl-C or not.
            _apply(self.root, plan)
            finished = True
            raise
        finally:
            if finished:  # else the journal stays, and the next session's `recover` finishes the switch
                (self.folder / JOURNAL).unlink()
                _remove(self.folder)
        return len(plan["moves"]) + len(plan["deletes"])

    def discard(self) -> None:
        """Drop everything staged; a folder whose journal is written is left for `recover` to finish."""
        if self.committed or self.discarded:
            return
        self.discarded = True
        if not (self.folder / JOURNAL).is_file():
            _remove(self.folder)


def _apply(root: Path, plan: dict[str, list], on_first=lambda: None) -> None:
    """Move staged files over their targets, then delete; a step already done is skipped, so this may run again."""
    first = True
    for staged_name, target_name in plan["moves"]:
        staged, target = root / staged_name, root / target_name
        if not staged.is_file():
            continue  # moved by an earlier attempt
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_file():
            os.chmod(staged, stat.S_IMODE(target.stat().st_mode))  # a replaced file keeps its mode
        try:
            os.replace(staged, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            write_bytes_atomic(target, staged.read_bytes())  # another file system: copy, then drop the staged file
            staged.unlink()
        if first:
            first = False
            on_first()
    for target_name in plan["deletes"]:
        (root / target_name).unlink(missing_ok=True)


def _remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.parent.rmdir()  # .replaygate-staging itself, once no session uses it
    except OSError:
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(root: Path) -> list[str]:
    """Finish or drop what interrupted sessions staged under `root`; one line per session folder handled."""
    staging = Path(root).absolute() / STAGING
    if not staging.is_dir():
        return []
    lines = []
    for folder in sorted(p for p in staging.iterdir() if p.is_dir()):
        pid = folder.name.partition("-")[0]
        if pid.isdigit() and _alive(int(pid)):
            continue  # a session still running (this process's own included) finishes its own
        journal = folder / JOURNAL
        where = folder.relative_to(staging.parent)
        if journal.is_file():
            plan = json.loads(journal.read_text(encoding="utf-8"))
            _apply(staging.parent, plan)
            journal.unlink()
            lines.append(f"replaygate: finished switching in the {len(plan['moves']) + len(plan['deletes'])} file changes "
                         f"an interrupted session had committed ({where}); the new set is complete")
        else:
            lines.append(f"replaygate: discarded what an interrupted session had staged but not committed ({where}); "
                         "the files it would have changed are as they were")
        _remove(folder)
    return lines
