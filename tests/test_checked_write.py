"""One checked write: every file the harness writes is checked for credentials by `write_checked`, and only there."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from replaygate.cassettes.secrets import SecretLeakError, secrets_from_env, write_checked
from replaygate.core.changeset import Changeset
from replaygate.results.report import write_report

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "replaygate"
SECRET = ("OPENAI_API_KEY", "sk-test-0123456789abcdef")
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl"

# The scanning and writing primitives, and the only modules that may call them. The atomic writes in the
# changeset are its staging and its journal; what it stages has been checked by `write_checked` before.
PRIMITIVES = {
    "find_secrets": {"cassettes/secrets.py"},
    "leak_message": {"cassettes/secrets.py"},
    "SecretLeakError": {"cassettes/secrets.py"},
    "write_text_atomic": {"cassettes/secrets.py", "core/changeset.py"},
    "write_bytes_atomic": {"core/atomic.py", "core/changeset.py"},
    "stage": {"core/changeset.py"},  # a staged file written by hand would skip the check
}


def called_names(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name is not None:
                found.append((node.lineno, name))
            # `changes.write(...)` stages without a check; `write_checked(..., changes)` is the way in.
            if isinstance(func, ast.Attribute) and func.attr == "write" and "changes" in ast.unparse(func.value):
                found.append((node.lineno, "Changeset.write"))
    return found


def test_only_the_checked_write_scans_for_secrets_and_writes():
    outside = [
        f"replaygate/{relative}:{line}: calls {name}"
        for path in sorted(HARNESS.rglob("*.py"))
        for relative in [path.relative_to(HARNESS).as_posix()]
        for line, name in called_names(path)
        if (name in PRIMITIVES and relative not in PRIMITIVES[name])
        or (name == "Changeset.write" and relative != "cassettes/secrets.py")
    ]
    assert outside == [], "write through replaygate.cassettes.secrets.write_checked instead"


def test_the_structural_check_sees_a_hand_written_check(tmp_path):
    """The test above can fail: the duplicated pattern it forbids is found in a module that has it."""
    module = tmp_path / "m.py"
    module.write_text("def w(path, text, secrets, changes):\n"
                      "    if find_secrets(text, secrets):\n"
                      "        raise SecretLeakError(leak_message(path, ['X']))\n"
                      "    changes.write(path, text)\n"
                      "    write_text_atomic(path, text)\n", encoding="utf-8")
    assert sorted(called_names(module)) == [(2, "find_secrets"), (3, "SecretLeakError"), (3, "leak_message"),
                                            (4, "Changeset.write"), (4, "write"), (5, "write_text_atomic")]


def test_a_refusal_writes_none_of_the_files_and_names_the_one_that_leaks(tmp_path):
    clean, leaky = tmp_path / "reports" / "a.md", tmp_path / "reports" / "b.json"
    with pytest.raises(SecretLeakError) as info:
        write_checked([(clean, "fine\n"), (leaky, f"key {SECRET[1]}\n")], [SECRET])
    message = str(info.value)
    assert message.startswith(f"{leaky}: refusing to write, it would contain the value of $OPENAI_API_KEY; ")
    assert "\n" not in message and SECRET[1] not in message
    assert not clean.exists() and not leaky.exists()

    write_checked([(clean, "fine\n"), (leaky, "{}\n")], [SECRET])
    assert clean.read_text(encoding="utf-8") == "fine\n" and leaky.read_text(encoding="utf-8") == "{}\n"


def test_a_staged_write_is_checked_before_anything_is_staged(tmp_path):
    changes = Changeset(tmp_path)
    target = tmp_path / "prompts" / "p.md"
    with pytest.raises(SecretLeakError, match=r"p\.md: refusing to write, it would contain a JWT-shaped token; "):
        write_checked([(target, f"Authorization {JWT}\n")], [SECRET], changes)
    assert changes.current(target) == target and not changes.folder.exists()

    write_checked([(target, "new\n")], [SECRET], changes)
    assert changes.read_text(target) == "new\n" and not target.exists()
    assert changes.commit() == 1 and target.read_text(encoding="utf-8") == "new\n"


def test_every_writer_names_a_token_shape_as_a_shape(tmp_path):
    """The report writers once wrote their own message, which read `the value of $a JWT-shaped token`."""
    with pytest.raises(SecretLeakError, match=r"scores\.md: refusing to write, it would contain a JWT-shaped token; "):
        write_report(tmp_path / "scores.md", f"token {JWT}\n", [])


def test_secrets_from_env_keeps_only_values_long_enough_to_find():
    environ = {"OPENAI_API_KEY": SECRET[1], "AZURE_OPENAI_API_KEY": "short", "EMPTY": ""}
    assert secrets_from_env(["OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "EMPTY", "UNSET"], environ) == [SECRET]
