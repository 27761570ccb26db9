"""The staged write set: reads see it, commit switches it in whole, and `recover` finishes or drops what a crash left."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from replaygate.core import changeset as changeset_module
from replaygate.core.changeset import JOURNAL, STAGING, Changeset, recover


def tree(root) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def project(root):
    (root / "prompts").mkdir()
    (root / "prompts/p.md").write_text("old prompt\n")
    (root / "cassettes/s").mkdir(parents=True)
    (root / "cassettes/s/a.r0.json").write_text("old a\n")
    (root / "cassettes/s/gone.r0.json").write_text("unused\n")
    return tree(root)


def staged_changes(root, dead: bool = False) -> Changeset:
    changes = Changeset(root)
    if dead:  # staged by a process that no longer runs
        changes.folder = root / STAGING / "999999999-dead"
    changes.write(root / "prompts/p.md", "new prompt\n")
    (changes.stage_folder(root / "cassettes") / "s").mkdir()
    (changes.stage_folder(root / "cassettes") / "s/a.r0.json").write_text("new a\n")
    changes.delete(root / "cassettes/s/gone.r0.json")
    return changes


NEW = {"prompts/p.md": "new prompt\n", "cassettes/s/a.r0.json": "new a\n"}


def test_reads_see_the_staged_files_and_the_committed_ones_change_only_at_commit(tmp_path):
    old = project(tmp_path)
    changes = staged_changes(tmp_path)
    assert changes.read_text(tmp_path / "prompts/p.md") == "new prompt\n"
    assert changes.read_text(tmp_path / "cassettes/s/a.r0.json") == "new a\n"
    assert changes.current(tmp_path / "cassettes/s/gone.r0.json") is None
    assert changes.target_of(changes.stage_folder(tmp_path / "cassettes") / "s/a.r0.json") == tmp_path / "cassettes/s/a.r0.json"
    assert {k: v for k, v in tree(tmp_path).items() if not k.startswith(STAGING)} == old
    assert changes.commit() == 3
    assert tree(tmp_path) == NEW  # and the staging folder is gone


def test_discard_leaves_the_old_set_and_no_staging(tmp_path):
    old = project(tmp_path)
    changes = staged_changes(tmp_path)
    changes.discard()
    assert tree(tmp_path) == old and not (tmp_path / STAGING).exists()
    assert changes.commit() == 0 and tree(tmp_path) == old


def test_a_target_outside_the_project_is_switched_in_too(tmp_path):
    (tmp_path / "root").mkdir()
    changes = Changeset(tmp_path / "root")
    changes.write(tmp_path / "elsewhere/report.md", "report\n")
    changes.commit()
    assert (tmp_path / "elsewhere/report.md").read_text() == "report\n" and not (tmp_path / "root" / STAGING).exists()


def test_recover_finishes_a_switch_whose_journal_was_written(tmp_path):
    project(tmp_path)
    changes = staged_changes(tmp_path, dead=True)
    plan = changes._plan()
    (changes.folder / JOURNAL).write_text(json.dumps(plan))
    os.replace(tmp_path / plan["moves"][0][0], tmp_path / plan["moves"][0][1])  # killed after the first move
    [line] = recover(tmp_path)
    assert line.startswith("replaygate: finished switching in the 3 file changes an interrupted session had committed")
    assert tree(tmp_path) == NEW


def test_recover_drops_what_was_staged_without_a_journal_and_leaves_a_live_session_alone(tmp_path):
    old = project(tmp_path)
    staged_changes(tmp_path)._open()  # staged by this process, which still runs: left alone
    assert recover(tmp_path) == []
    dead = staged_changes(tmp_path, dead=True).folder
    [line] = recover(tmp_path)
    assert line.startswith("replaygate: discarded what an interrupted session had staged but not committed")
    assert not dead.exists() and tree(tmp_path)["prompts/p.md"] == old["prompts/p.md"]


def test_a_session_killed_in_the_middle_of_staging_is_rolled_back(tmp_path):
    old = project(tmp_path)
    code = ("import os, sys; from pathlib import Path; from replaygate.core.changeset import Changeset; "
            "c = Changeset(Path(sys.argv[1])); c.write(Path(sys.argv[1]) / 'prompts/p.md', 'new'); os._exit(9)")
    assert subprocess.run([sys.executable, "-c", code, str(tmp_path)]).returncode == 9
    assert (tmp_path / STAGING).is_dir()
    assert len(recover(tmp_path)) == 1 and tree(tmp_path) == old and not (tmp_path / STAGING).exists()


def test_the_switch_passes_its_fault_injection_point_after_the_first_move(tmp_path, monkeypatch):
    """The hook tests/interrupt_pause.py installs sees the switch begun: one file moved, the journal still there."""
    project(tmp_path)
    changes = staged_changes(tmp_path)
    seen = []
    monkeypatch.setattr(changeset_module, "CHECKPOINT_HOOKS",
                        [lambda name: seen.append((name, (changes.folder / JOURNAL).is_file(), tree(tmp_path)))])
    changes.commit()
    [(name, journaled, files)] = seen
    assert name == "switch" and journaled
    assert sum(files.get(target) == text for target, text in NEW.items()) == 1
