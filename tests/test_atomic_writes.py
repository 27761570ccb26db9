"""Atomic writes keep a replaced file's mode, give a new one the umask's, refuse a read-only file, and fail in one line."""

from __future__ import annotations

import os
import stat

import pytest

from replaygate.core.atomic import FileWriteError, write_text_atomic
from replaygate.core.changeset import Changeset
from replaygate.core.errors import InputError


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_gets_the_umask_mode_and_a_replaced_one_keeps_its_own(tmp_path):
    previous = os.umask(0o027)
    try:
        write_text_atomic(tmp_path / "new.md", "one\n")
    finally:
        os.umask(previous)
    assert mode(tmp_path / "new.md") == 0o640  # not mkstemp's 0600
    (tmp_path / "new.md").chmod(0o664)
    write_text_atomic(tmp_path / "new.md", "two\n")
    assert mode(tmp_path / "new.md") == 0o664 and (tmp_path / "new.md").read_text(encoding="utf-8") == "two\n"


def test_a_read_only_file_is_refused_not_replaced(tmp_path):
    path = tmp_path / "baseline.json"
    path.write_text("old\n", encoding="utf-8")
    path.chmod(0o444)
    with pytest.raises(FileWriteError) as info:
        write_text_atomic(path, "new\n")
    assert str(info.value) == (f"{path}: is read-only, and the harness does not replace a read-only file; "
                               f"make it writable (chmod u+w {path}) or write elsewhere")
    assert path.read_text(encoding="utf-8") == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["baseline.json"]


@pytest.mark.parametrize("target, expected", [
    ("folder", "{folder}: is a folder, not a file; point the path at a file"),
    ("file/below.md", "{file}/below.md: {file} is a file, not a folder; move that file or point the path elsewhere"),
])
def test_an_os_refusal_is_one_line_and_still_an_os_error(tmp_path, target, expected):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(FileWriteError) as info:
        write_text_atomic(tmp_path / target, "text\n")
    assert isinstance(info.value, InputError) and isinstance(info.value, OSError)
    assert str(info.value) == expected.format(folder=tmp_path / "folder", file=tmp_path / "file")


def test_a_session_switch_keeps_the_mode_of_the_files_it_replaces(tmp_path):
    report = tmp_path / "reports" / "scores.md"
    report.parent.mkdir()
    report.write_text("old\n", encoding="utf-8")
    report.chmod(0o664)
    changes = Changeset(tmp_path)
    changes.write(report, "new\n")
    changes.commit()
    assert report.read_text(encoding="utf-8") == "new\n" and mode(report) == 0o664
