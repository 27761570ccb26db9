"""Every bad input and the one-line message it gets: where (file:line, case or option), what, and the fix.

File rows go through the real loaders; command-line rows through in-process pytest runs (`pytester`).
A row marked xfail(strict) asserts the right message for an input whose message is wrong today;
the reason says what is wrong. When the message is fixed the row XPASSes and fails: drop the mark.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

import replaygate.plugin.suite  # noqa: F401  # loaded once here, not re-imported by every pytester run
from replaygate.llm.backend import resolve_backend
from replaygate.results.baseline import load_baseline
from replaygate.cassettes.cassette_format import AtomicPersister, ReadableJsonSerializer
from replaygate.core.config import load_config
from replaygate.core.errors import InputError
from replaygate.core.evaluation import Evaluation
from replaygate.core.prompt import load_prompt
from replaygate.core.task import load_tasks
from evals.sim import SimTransport
from evals.rooms.suite import PLACEHOLDERS, room_suite
from evals.rooms.world import load_world

REPO = Path(__file__).resolve().parents[1]
ROOMS = REPO / "evals" / "rooms" / "data" / "rooms.json"
TASK = {"id": "t1", "task_input": {"date": "2026-03-02", "time": "10:30", "duration_min": 45, "attendees": 6,
                                   "needs": ["projector"], "accessible_required": False}, "expected_choice": "R-101"}
PROMPT = "Find a room on {date} at {time} for {duration_min} minutes, {attendees} attendees.\nNeeds: {needs}. Access: {accessible_required}\n"
PYPROJECT = """[tool.replaygate]
tasks = "data/tasks.jsonl"
rooms = "data/rooms.json"
prompt = "prompts/agent.md"
judge_prompt = "prompts/agent.md"
cassettes = "recorded"
reports = "out"
baseline = "out/baseline.json"
"""
# Words a fix starts with: every message ends by saying what to do.
FIX = re.compile(r"\b(?:fix|use|add|give|pass|write|create|check|restore|export|set|rename|choose|delete|point)\b|\be\.g\.")


@dataclass(frozen=True)
class Row:
    id: str
    provoke: Callable[[Path], tuple[str, str]]  # writes the bad input, returns (message, what it must name)
    pattern: str  # the whole message; "{where}" stands for what it must name
    defect: str = ""  # set when today's message is wrong: the row then xfails, strictly


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def project(root: Path, tasks: list[str] | None = None, pyproject: str = PYPROJECT) -> Path:
    """A small valid project: rooms, tasks, a prompt and its pyproject.toml."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOMS, root / "data" / "rooms.json")
    write(root / "data" / "tasks.jsonl", "\n".join(tasks or [json.dumps(TASK)]) + "\n")
    write(root / "prompts" / "agent.md", PROMPT)
    return write(root / "pyproject.toml", pyproject)


def message_of(action: Callable[[], object]) -> str:
    """The InputError message `action` raises; empty when it raises none (a missing message)."""
    try:
        action()
    except InputError as exc:
        return str(exc)
    return ""


def load_suite(root: Path) -> None:
    room_suite(double=SimTransport).load(load_config(root / "pyproject.toml"), root)


def rooms_with(root: Path, change: Callable[[dict], None]) -> Path:
    data = json.loads(ROOMS.read_text(encoding="utf-8"))
    change(data)
    return write(root / "rooms.json", json.dumps(data, indent=1))


# --- file rows ---------------------------------------------------------------------------------------


def tasks_malformed_line(root: Path):
    path = write(root / "tasks.jsonl", json.dumps(TASK) + '\n{"id": "t2", "task_input": {\n')
    return message_of(lambda: load_tasks(path)), f"{path}:2"


def tasks_missing_id(root: Path):
    path = write(root / "tasks.jsonl", json.dumps({k: v for k, v in TASK.items() if k != "id"}) + "\n")
    return message_of(lambda: load_tasks(path)), f"{path}:1"


def tasks_missing_expected_choice(root: Path):
    # The harness lets a task omit its expected answer; the room suite's setup does not.
    project(root, [json.dumps({k: v for k, v in TASK.items() if k != "expected_choice"})])
    return message_of(lambda: load_suite(root)), f"{root / 'data' / 'tasks.jsonl'}:1"


def tasks_missing_input_field(root: Path):
    task = {**TASK, "task_input": {k: v for k, v in TASK["task_input"].items() if k != "attendees"}}
    project(root, [json.dumps(task)])
    return message_of(lambda: load_suite(root)), f"{root / 'data' / 'tasks.jsonl'}:1"


def tasks_unknown_room(root: Path):
    project(root, [json.dumps(TASK), json.dumps({**TASK, "id": "t2", "expected_choice": "R-999"})])
    return message_of(lambda: load_suite(root)), f"{root / 'data' / 'tasks.jsonl'}:2"


def tasks_bad_split(root: Path):
    path = write(root / "tasks.jsonl", json.dumps({**TASK, "split": "test"}) + "\n")
    return message_of(lambda: load_tasks(path)), f"{path}:1"


def rooms_missing_file(root: Path):
    path = root / "rooms.json"
    return message_of(lambda: load_world(path)), str(path)


def rooms_bad_capacity(root: Path):
    path = rooms_with(root, lambda d: d["rooms"][1].__setitem__("capacity", 0))
    return message_of(lambda: load_world(path)), f"{path}: room 'R-102'"


def rooms_bad_time(root: Path):
    path = rooms_with(root, lambda d: d["rooms"][1]["bookings"][0].__setitem__(1, "25:00"))
    return message_of(lambda: load_world(path)), f"{path}: room 'R-102': booking #1"


def rooms_duplicate_id(root: Path):
    path = rooms_with(root, lambda d: d["rooms"][2].__setitem__("id", d["rooms"][0]["id"]))
    return message_of(lambda: load_world(path)), f"{path}: room 'R-101'"


def prompt_missing_file(root: Path):
    path = root / "agent.md"
    return message_of(lambda: load_prompt(path)), str(path)


def prompt_empty(root: Path):
    path = write(root / "agent.md", " \n\n")
    return message_of(lambda: load_prompt(path)), str(path)


def prompt_unknown_placeholder(root: Path):
    path = write(root / "agent.md", "Book a room.\nOn floor {floor}, date {date}.\n")
    return message_of(lambda: load_prompt(path).check(PLACEHOLDERS)), f"{path}:2"


def baseline_corrupt_json(root: Path):
    path = write(root / "baseline.json", '{"format": 1, "cases": {')
    return message_of(lambda: load_baseline(path)), str(path)


def baseline_wrong_format(root: Path):
    path = write(root / "baseline.json", json.dumps({"format": 4, "cases": {}}))
    return message_of(lambda: load_baseline(path)), str(path)


def baseline_passed_not_bool(root: Path):
    path = write(root / "baseline.json", json.dumps({"format": 1, "cases": {"t1": {"score": 0.5, "passed": "yes"}}}))
    return message_of(lambda: load_baseline(path)), f"{path}: case 't1'"


def cassette_corrupt_json(root: Path):
    path = write(root / "case.r0.json", '{"interactions": [')
    return message_of(lambda: AtomicPersister().load_cassette(path, ReadableJsonSerializer)), str(path)


def cassette_json_list(root: Path):
    path = write(root / "case.r0.json", "[]")
    return message_of(lambda: AtomicPersister().load_cassette(path, ReadableJsonSerializer)), str(path)


def config_bad_toml(root: Path):
    path = write(root / "pyproject.toml", "[tool.replaygate]\nmax_turns = \n")
    return message_of(lambda: load_config(path)), str(path)


def config_unknown_key(root: Path):
    path = project(root, pyproject=PYPROJECT + 'roms = "data/rooms.json"\n')
    backend = resolve_backend(None, False, {}, {})
    return message_of(lambda: Evaluation(room_suite(double=SimTransport), load_config(path), root, backend, config_source=str(path))), str(path)


def config_negative_weight(root: Path):
    path = write(root / "pyproject.toml", "[tool.replaygate.graders]\nexact_choice = 1.0\njudge = -0.5\n")
    return message_of(lambda: load_config(path)), str(path)


def config_max_turns_zero(root: Path):
    path = write(root / "pyproject.toml", "[tool.replaygate]\nmax_turns = 0\n")
    return message_of(lambda: load_config(path)), str(path)


RESTORE_BASELINE = "restore it from git, or rewrite it with --update-baseline"
RESTORE_CASSETTE = "restore it from git or delete it and re-record with --eval-record-mode=once"
FILE_ROWS = [
    Row("tasks: malformed line", tasks_malformed_line, r"{where}: not valid JSON \([^)]+\); fix the JSON on this line"),
    Row("tasks: missing id", tasks_missing_id, r'{where}: missing "id" \(a non-empty string\); give every task a unique id'),
    Row("tasks: missing expected_choice", tasks_missing_expected_choice,
        r"{where}: task 't1' has no \"expected_choice\" string; add the expected room"),
    Row("tasks: missing task_input field", tasks_missing_input_field,
        r"{where}: task 't1': \"task_input\" has no \"attendees\"; add it to the task"),
    Row("tasks: unknown room in expected_choice", tasks_unknown_room,
        r"{where}: task 't2': expected_choice 'R-999' is not a room in \S+rooms\.json; use one of its room ids or \"No Room\""),
    Row("tasks: bad split", tasks_bad_split,
        r"{where}: task 't1' has split 'test'; use one of train, validation, holdout or leave it out"),
    Row("rooms: missing file", rooms_missing_file, r"{where}: rooms file not found; check the path or create the file"),
    Row("rooms: bad capacity", rooms_bad_capacity, r"{where}: capacity must be a whole number ≥ 1, got 0; fix the rooms file"),
    Row("rooms: bad time", rooms_bad_time,
        r'{where}: start must be a time HH:MM between 00:00 and 23:59, got "25:00"; fix the rooms file'),
    Row("rooms: duplicate id", rooms_duplicate_id, r"{where}: id used by rooms #1 and #3; give every room a unique id"),
    Row("prompts: missing file", prompt_missing_file,
        r"{where}: prompt file not found; create it or point the prompt setting \(or --prompt\) at an existing file"),
    Row("prompts: empty", prompt_empty, r"{where}: prompt file is empty; write the prompt template into it"),
    Row("prompts: unknown placeholder", prompt_unknown_placeholder,
        r"{where}: placeholder \{floor\} is not a task input; use one of \{accessible_required\}, .*\{time\} "
        r"or write \{\{floor\}\} for literal braces"),
    Row("baseline: corrupt JSON", baseline_corrupt_json, r"{where}: not valid JSON \(.+\); " + re.escape(RESTORE_BASELINE)),
    Row("baseline: wrong format", baseline_wrong_format, r"{where}: not a baseline of format 3 \(format 4, or no \"cases\" object\); " + re.escape(RESTORE_BASELINE)),
    Row("baseline: passed not a bool", baseline_passed_not_bool,
        r"{where}: (?!.*numeric score).*\bpassed\b.*(true|false).*; " + re.escape(RESTORE_BASELINE)),
    Row("cassettes: corrupt JSON", cassette_corrupt_json,
        r"{where}: not a readable cassette \(.+\); " + re.escape(RESTORE_CASSETTE)),
    Row("cassettes: JSON list", cassette_json_list,
        r"{where}: not a readable cassette \((?!.*has no attribute)[^)]*\bobject\b[^)]*\); " + re.escape(RESTORE_CASSETTE)),
    Row("config: bad TOML", config_bad_toml, r"{where}: invalid TOML \(.+ \(at line 2, column \d+\)\); fix the file"),
    Row("config: unknown [tool.replaygate] key", config_unknown_key,
        r"{where}: \[tool\.replaygate\] roms: not a setting of the harness or of suite 'room_selector' "
        r"\(suite settings: rooms\); fix the key"),
    Row("config: negative weight", config_negative_weight,
        r"{where}: \[tool\.replaygate\] graders: Value error, weight of grader 'judge' is negative; "
        r"fix the setting or its --set override"),
    Row("config: max_turns 0", config_max_turns_zero,
        r"{where}: \[tool\.replaygate\] max_turns: Input should be greater than or equal to 1; fix the setting or its --set override"),
]


def as_param(row):
    marks = [pytest.mark.xfail(strict=True, reason=f"defect: {row.defect}")] if row.defect else []
    return pytest.param(row, id=row.id, marks=marks)


def check_message(message: str, where: str, pattern: str) -> None:
    """One line, naming `where`, saying what to do, and reading exactly as `pattern`."""
    assert message, "no message at all: the bad input was accepted"
    assert "\n" not in message and "Traceback" not in message, message
    assert where in message, f"does not name {where!r}: {message}"
    assert FIX.search(message.partition(where)[2]), f"says no fix: {message}"
    assert re.fullmatch(pattern.replace("{where}", re.escape(where)), message), message


@pytest.mark.parametrize("row", [as_param(row) for row in FILE_ROWS])
def test_a_bad_file_gets_its_one_line_message(tmp_path, row):
    message, where = row.provoke(tmp_path)
    check_message(message, where, row.pattern)


# --- command-line rows ---------------------------------------------------------------------------------

# Lines pytest itself wraps around an argparse error (a bad choice or type): usage, ini file, rootdir.
ARGPARSE_FRAME = re.compile(r"ERROR: usage: .*|\s+inifile: .*|\s+rootdir: .*")


@dataclass(frozen=True)
class CliRow:
    id: str
    args: tuple[str, ...]
    where: str
    pattern: str
    env: tuple[tuple[str, str], ...] = ()
    defect: str = ""


CLI_ROWS = [
    CliRow("--eval-record-mode=bogus", ("--eval-record-mode=bogus",), "--eval-record-mode",
           r".*: error: argument {where}: invalid choice: 'bogus' \(choose from 'none', 'once', 'new_episodes', 'all'\)"),
    CliRow("--llm=bogus", ("--llm=bogus",), "--llm",
           r".*: error: argument {where}: invalid choice: 'bogus' \(choose from 'auto', 'openai', 'azure', 'sim'\)"),
    CliRow("--set noequals", ("--set", "noequals"), "--set noequals",
           r"ERROR: {where}: expected KEY=VALUE, e\.g\. --set models\.agent=gpt-4\.1-mini"),
    CliRow("--concurrency 0", ("--llm=sim", "--concurrency", "0"), "--concurrency",
           r"ERROR: {where}[ =]0\b.*\b1\b.*"),
    CliRow("--concurrency negative", ("--llm=sim", "--concurrency", "-3"), "--concurrency",
           r"ERROR: {where}[ =]-3\b.*\b1\b.*"),
    CliRow("--max-turns 0", ("--llm=sim", "--max-turns", "0"), "--max-turns",
           r"ERROR: {where}[ =]0\b.*\b1\b.*"),
    CliRow("--llm=openai without OPENAI_API_KEY", ("--llm=openai",), "--llm=openai",
           r"ERROR: {where}: OPENAI_API_KEY is not set; export it, or use --llm=sim for the offline simulator"),
    CliRow("--llm=azure without its variables", ("--llm=azure",), "--llm=azure",
           r"ERROR: {where}: set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY \(and AZURE_OPENAI_API_VERSION\), "
           r"or use --llm=sim"),
    CliRow("--llm=azure with a key but no endpoint", ("--llm=azure",), "--llm=azure",
           r"ERROR: {where}: set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY .*", env=(("AZURE_OPENAI_API_KEY", "k" * 32),)),
]


@pytest.fixture
def cli_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT",
                 "AZURE_OPENAI_API_VERSION", "EVALS_AGENT_MODEL", "EVALS_JUDGE_MODEL"):
        monkeypatch.delenv(name, raising=False)
    pytester.syspathinsert(REPO)
    project(pytester.path)
    write(pytester.path / "conftest.py", '')
    write(pytester.path / "test_rooms.py", "from evals.rooms.suite import room_suite\nfrom evals.sim import SimTransport\n\nSUITE = room_suite(double=SimTransport)\n\n\n"
                                           "def test_room_task(eval_case):\n    eval_case.check()\n")
    return pytester


@pytest.mark.parametrize("row", [as_param(row) for row in CLI_ROWS])
def test_a_bad_command_line_value_gets_its_one_line_message(cli_project, monkeypatch, row):
    for name, value in row.env:
        monkeypatch.setenv(name, value)
    result = cli_project.runpytest("-p", "no:hypothesispytest", *row.args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in result.errlines if line.strip()]
    # pytest frames an argparse error with usage and path lines; the message itself is the one line left.
    (message,) = [line for line in lines if not ARGPARSE_FRAME.fullmatch(line)] or [""]
    check_message(message, row.where, row.pattern)
    assert not (cli_project.path / "out").exists()
