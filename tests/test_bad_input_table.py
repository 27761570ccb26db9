"""The bad-input table: every bad input and broken environment a user produces, its exit code and its one line.

Each row is (setup, command, exit code, first line), run on a fresh copy of a small project: pytest in
process (`pytester`), the other commands through their `main(argv)`; only the rows that need xdist, or the
OS to refuse a read even to root, run a subprocess. reports/bad-input.md lists every row; after changing a row,
regenerate it with `python -m tests.test_bad_input_table` (from the repository root), and
`test_the_listing_in_reports_matches_the_table` fails until you do.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

import replaygate.plugin.cases  # noqa: F401  # loaded once here, not re-imported by every pytester run
from replaygate import write_text_atomic
from replaygate.cassettes import audit
from replaygate.results import shards
from evals.rooms import __main__ as rooms_command
from evals.sim import __main__ as sim_command

REPO = Path(__file__).resolve().parents[1]
ROOMS = REPO / "evals" / "rooms" / "data" / "rooms.json"
LISTING = REPO / "reports" / "bad-input.md"
ROW_SECONDS = 10.0

TASKS = [
    {"id": "t1", "task_input": {"date": "2026-03-03", "time": "12:15", "duration_min": 30, "attendees": 6, "needs": [],
                                "accessible_required": True}, "expected_choice": "R-202"},
    {"id": "t2", "task_input": {"date": "2026-03-02", "time": "14:30", "duration_min": 60, "attendees": 9,
                                "needs": ["projector"], "accessible_required": False}, "expected_choice": "R-205"},
    {"id": "t3", "task_input": {"date": "2026-03-04", "time": "11:00", "duration_min": 30, "attendees": 30,
                                "needs": ["tv", "videoconf"], "accessible_required": False}, "expected_choice": "No Room"},
]
PROMPT = ("Find a room on {date} at {time} for {duration_min} minutes, {attendees} attendees. "
          "Needs: {needs}. Accessible required: {accessible_required}\n")
# The table is about inputs, not scores: every case passes, so an accepted input exits 0.
PYPROJECT = f"""[tool.pytest.ini_options]
pythonpath = [{json.dumps(str(REPO))}]
addopts = "-p no:cacheprovider -p no:hypothesispytest"
eval_pass_threshold = 0.0

[tool.replaygate]
tasks = "data/tasks.jsonl"
rooms = "data/rooms.json"
prompt = "prompts/agent.md"
judge_prompt = "prompts/judge.md"
cassettes = "cassettes"
reports = "reports"
baseline = "reports/baseline.json"
"""
TEST_MODULE = """from evals.rooms.suite import room_suite
from evals.sim import SimTransport

SUITE = room_suite(double=SimTransport)


def test_room_task(eval_case):
    eval_case.check()
"""
CLEARED_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT",
               "AZURE_OPENAI_API_VERSION", "EVALS_AGENT_MODEL", "EVALS_JUDGE_MODEL", "GITHUB_STEP_SUMMARY")


# --- setups: what a row does to the fresh project ---------------------------------------------------------


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def scaffold(root: Path) -> None:
    """The small valid project every row starts from."""
    write(root / "pyproject.toml", PYPROJECT)
    write(root / "test_rooms.py", TEST_MODULE)
    write(root / "data" / "rooms.json", ROOMS.read_text(encoding="utf-8"))
    write(root / "data" / "tasks.jsonl", "".join(json.dumps(task) + "\n" for task in TASKS))
    write(root / "prompts" / "agent.md", PROMPT)
    write(root / "prompts" / "judge.md", "Did the agent pick {expected}? It said: {answer}\n")


def put(rel: str, text: str | bytes) -> Callable[[Path], None]:
    return lambda root: write(root / rel, text)


def folder(rel: str, mode: int | None = None) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        (root / rel).mkdir(parents=True, exist_ok=True)
        if mode is not None:
            (root / rel).chmod(mode)
    return make


def chmod(rel: str, mode: int) -> Callable[[Path], None]:
    return lambda root: (root / rel).chmod(mode)


def remove(rel: str) -> Callable[[Path], None]:
    return lambda root: (root / rel).unlink()


def both(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def run(root: Path) -> None:
        for step in steps:
            step(root)
    return run


def tasks(*lines: str) -> Callable[[Path], None]:
    return put("data/tasks.jsonl", "".join(line + "\n" for line in lines))


def task(drop: str = "", **changes) -> str:
    """The first task as a JSONL line, with top-level or task_input keys changed (None drops the key)."""
    data = json.loads(json.dumps(TASKS[0]))
    for key, value in changes.items():
        target = data["task_input"] if key in data["task_input"] else data
        target[key] = value
    for key in filter(None, drop.split(",")):
        (data["task_input"] if key in data["task_input"] else data).pop(key)
    return json.dumps(data, ensure_ascii=False)


def rooms(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        data = json.loads(ROOMS.read_text(encoding="utf-8"))
        change(data)
        write(root / "data" / "rooms.json", json.dumps(data, indent=1))
    return edit


def pyproject(extra: str = "", replace: tuple[str, str] = ("", "")) -> Callable[[Path], None]:
    return put("pyproject.toml", PYPROJECT.replace(*replace) + extra)


def baseline(cases: dict) -> Callable[[Path], None]:
    return put("reports/baseline.json", json.dumps({"format": 3, "suites": {"room_selector": {"cases": cases}}}))


GOOD_BASELINE = {task["id"]: {"score": 1.0, "passed": True} for task in TASKS}


def results_file(root: Path) -> None:
    """This project's run as `--results-json` writes it, from the table's one shared run (the `shared_run` fixture)."""
    shutil.copyfile(ARTIFACTS["results"], root / "results.json")


def cassette(text: str) -> Callable[[Path], None]:
    return put("cassettes/room_selector/sim-standin-1/t1.r0.json", text)


def recorded_answer(body: dict, status: int = 200) -> Callable[[Path], None]:
    """t1's cassette as the simulator recorded it (the repo's room-001 is the same task), its first answer replaced."""
    def edit(root: Path) -> None:
        data = json.loads((REPO / "cassettes/room_selector/sim-standin-1/room-001.r0.json").read_text(encoding="utf-8"))
        data["interactions"][0]["response"].update(body=body, status={"code": status, "message": "Bad Request"})
        cassette(json.dumps(data, indent=1))(root)
    return edit


# The second project, for what a suite's own code gets wrong: suite `plans` in test_plans.py, a FunctionModel
# double that answers "gold", two tasks that expect it. Its rows' setups start with "plans:".
PLANS_PYPROJECT = """[tool.pytest.ini_options]
addopts = "-p no:cacheprovider -p no:hypothesispytest"

[tool.replaygate]
cassettes = "cassettes"
reports = "reports"

[tool.replaygate.suites.plans]
tasks = "plans/tasks.jsonl"
prompt = "plans/prompt.md"
"""
PLANS_TASKS = [{"id": "ann", "input": {"who": "ann"}, "expected": "gold"},
               {"id": "bob", "input": {"who": "bob"}, "expected": "gold"}]
SOLVER = """def solver(inp, client, prompt):
    return client.chat.completions.create(**prompt.chat()).choices[0].message.content
"""
CASES_TEST = """@PLANS.cases
def test_plans(eval_case):
    eval_case.check()
"""


def plans_module(solver: str = SOLVER, suite: str = "", double: str = 'FunctionModel(lambda request: "gold")',
                 test: str = CASES_TEST, head: str = "") -> str:
    """test_plans.py: imports, `head`, the solver, the suite (`suite` adds its arguments) and its test."""
    return (f"from replaygate import FunctionModel, Suite, graders\n{head}\n\n{solver}\n\n"
            f"PLANS = Suite(\"plans\", solver=solver, double={double}, graders=[graders.ExactMatch()]{suite})\n\n\n{test}")


def plans(module: str | None = None, toml: str = "", tasks: list[dict] | None = None,
          files: dict[str, str] | None = None) -> Callable[[Path], None]:
    """The plans project instead of the rooms one: `module` as test_plans.py ("": none), `toml` added to pyproject.toml."""
    def make(root: Path) -> None:
        (root / "test_rooms.py").unlink()
        write(root / "pyproject.toml", PLANS_PYPROJECT + toml)
        write(root / "plans" / "tasks.jsonl", "".join(json.dumps(t) + "\n" for t in (tasks or PLANS_TASKS)))
        write(root / "plans" / "prompt.md", "Which plan is {who} on?\n")
        modules = {} if module == "" else {"test_plans.py": plans_module() if module is None else module}
        for rel, text in {**modules, **(files or {})}.items():
            write(root / rel, text)
    return make


# --- the table ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    id: str
    setup: str  # what the row does to the fresh project, as the listing says it
    command: str  # as typed in the project folder
    code: int
    first: str  # the first line of the message; "<project>" stands for the project's path
    prepare: Callable[[Path], None] = lambda root: None
    env: tuple[tuple[str, str], ...] = ()
    # inprocess; or subprocess (xdist), unprivileged (a subprocess that the OS refuses unreadable files, root or not)
    how: str = "inprocess"
    # The line is one the run prints as it goes on (a warning, the gate's summary), not its first message.
    anywhere: bool = False


ROWS: list[Row] = []


def row(*args, **kwargs) -> None:
    ROWS.append(Row(*args, **kwargs))


PYTEST = "pytest --llm=sim"
BAD_JSON = '{"id": "t2", "task_input": {'

# Task files.
row("tasks: malformed line", "line 2 of data/tasks.jsonl is cut short", PYTEST, 2,
    ("data/tasks.jsonl:2: not valid JSON (Expecting property name enclosed in double quotes, column 29); fix the "
     "JSON on this line"), tasks(task(), BAD_JSON))
row("tasks: malformed line, -n 2", "line 2 of data/tasks.jsonl is cut short", f"{PYTEST} -n 2", 2,
    ("data/tasks.jsonl:2: not valid JSON (Expecting property name enclosed in double quotes, column 29); fix the "
     "JSON on this line"),
    tasks(task(), BAD_JSON), how="subprocess")
row("tasks: malformed line, --optimize", "line 2 of data/tasks.jsonl is cut short", f"{PYTEST} --optimize", 2,
    ("data/tasks.jsonl:2: not valid JSON (Expecting property name enclosed in double quotes, column 29); fix the "
     "JSON on this line"), tasks(task(), BAD_JSON))
row("tasks: missing id", "a task without \"id\"", PYTEST, 2,
    "data/tasks.jsonl:1: missing \"id\" (a non-empty string); give every task a unique id", tasks(task(drop="id")))
row("tasks: empty id", "a task with \"id\": \"  \"", PYTEST, 2,
    "data/tasks.jsonl:1: missing \"id\" (a non-empty string); give every task a unique id", tasks(task(id="  ")))
row("tasks: id not a string", "a task with \"id\": 7", PYTEST, 2,
    "data/tasks.jsonl:1: missing \"id\" (a non-empty string); give every task a unique id", tasks(task(id=7)))
row("tasks: non-ASCII id", "a task with \"id\": \"raum-ä9\"", PYTEST, 2,
    "data/tasks.jsonl:1: task id 'raum-ä9' contains 'ä'; use ASCII letters, digits and - _ . : + @ =", tasks(task(id="raum-ä9")))
row("tasks: id with a space", "a task with \"id\": \"room 1\"", PYTEST, 2,
    "data/tasks.jsonl:1: task id 'room 1' contains ' '; use ASCII letters, digits and - _ . : + @ =", tasks(task(id="room 1")))
row("tasks: id with a slash", "a task with \"id\": \"a/b\"", PYTEST, 2,
    "data/tasks.jsonl:1: task id 'a/b' contains '/'; use ASCII letters, digits and - _ . : + @ =", tasks(task(id="a/b")))
row("tasks: duplicate id", "two tasks \"t1\"", PYTEST, 2,
    "data/tasks.jsonl:2: task id 't1' already used at data/tasks.jsonl:1; task ids must be unique", tasks(task(), task()))
row("tasks: line is a list", "a line `[1, 2]`", PYTEST, 2,
    "data/tasks.jsonl:2: expected a task object, got list; write one object per task", tasks(task(), "[1, 2]"))
row("tasks: no task_input", "a task without \"task_input\"", PYTEST, 2,
    "data/tasks.jsonl:1: task 't1' has no \"input\" object; add the inputs as an object", tasks(task(drop="task_input")))
row("tasks: task_input a string", "\"task_input\": \"tomorrow\"", PYTEST, 2,
    "data/tasks.jsonl:1: task 't1' has no \"input\" object; add the inputs as an object", tasks(task(task_input="tomorrow")))
row("tasks: missing expected_choice", "a task without \"expected_choice\"", PYTEST, 2,
    "data/tasks.jsonl:1: task 't1' has no \"expected_choice\" string; add the expected room", tasks(task(drop="expected_choice")))
row("tasks: unknown room", "\"expected_choice\": \"R-999\"", PYTEST, 2,
    ("data/tasks.jsonl:1: task 't1': expected_choice 'R-999' is not a room in data/rooms.json; use one of its room "
     "ids or \"No Room\""), tasks(task(expected_choice="R-999")))
row("tasks: missing attendees", "task_input without \"attendees\"", PYTEST, 2,
    "data/tasks.jsonl:1: task 't1': \"task_input\" has no \"attendees\"; add it to the task", tasks(task(drop="attendees")))
row("tasks: attendees a word", "\"attendees\": \"six\"", PYTEST, 2,
    "data/tasks.jsonl:1: task 't1': \"attendees\" must be a whole number ≥ 1, got \"six\"; fix the task", tasks(task(attendees="six")))
row("tasks: attendees zero", "\"attendees\": 0", PYTEST, 2,
    "data/tasks.jsonl:1: task 't1': \"attendees\" must be a whole number ≥ 1, got 0; fix the task", tasks(task(attendees=0)))
row("tasks: impossible date", "\"date\": \"2026-02-30\"", PYTEST, 2,
    "data/tasks.jsonl:1: task 't1': \"date\" must be a real date YYYY-MM-DD, got \"2026-02-30\"; fix the task", tasks(task(date="2026-02-30")))
row("tasks: bad time", "\"time\": \"25:00\"", PYTEST, 2,
    "data/tasks.jsonl:1: task 't1': \"time\" must be HH:MM between 00:00 and 23:59, got \"25:00\"; fix the task", tasks(task(time="25:00")))
row("tasks: needs not a list", "\"needs\": \"projector\"", PYTEST, 2,
    ("data/tasks.jsonl:1: task 't1': \"needs\" must be a list of equipment names (may be empty), got \"projector\"; fix "
     "the task"), tasks(task(needs="projector")))
row("tasks: bad split", "\"split\": \"test\"", PYTEST, 2,
    "data/tasks.jsonl:1: task 't1' has split 'test'; use one of train, validation, holdout or leave it out", tasks(task(split="test")))
row("tasks: tags not a list", "\"tags\": \"edge\"", PYTEST, 2,
    "data/tasks.jsonl:1: task 't1' has \"tags\" that are not a list of strings; fix the list", tasks(task(tags="edge")))
row("tasks: empty file", "data/tasks.jsonl is empty", PYTEST, 2,
    "data/tasks.jsonl: no tasks; add at least one task", tasks())
row("tasks: only comments", "data/tasks.jsonl holds only # lines", PYTEST, 2,
    "data/tasks.jsonl: no tasks; add at least one task", tasks("# nothing yet"))
row("tasks: nested too deep", "a line of 100000 `[`", PYTEST, 2,
    "data/tasks.jsonl:2: not usable JSON (RecursionError); fix the JSON on this line", tasks(task(), "[" * 100_000))
row("tasks: not UTF-8", "data/tasks.jsonl in Latin-1", PYTEST, 2,
    "data/tasks.jsonl: not UTF-8 text; save the task file as UTF-8 JSONL", put("data/tasks.jsonl", task().encode() + b'\n{"id": "caf\xe9"}\n'))
row("tasks: byte-order mark", "data/tasks.jsonl starts with a UTF-8 BOM", PYTEST, 0,
    "evals room_selector: 3 cases (live), 3 passed, mean score 0.417 -> reports/scores.md",
    put("data/tasks.jsonl", "\ufeff" + "".join(json.dumps(t) + "\n" for t in TASKS)))
row("tasks: JSON array not closed", "--tasks data/tasks.json holds `[` and one task", f"{PYTEST} --tasks data/tasks.json", 2,
    "data/tasks.json: the task array is not closed; end it with ]",
    put("data/tasks.json", "[" + task() + ",\n"))
row("tasks: JSON not an array", "data/tasks.json holds one object", f"{PYTEST} --tasks data/tasks.json", 2,
    "data/tasks.json:1: a JSON task file holds one array of task objects; wrap the tasks in [ ]",
    put("data/tasks.json", task()))
row("tasks: YAML invalid", "data/tasks.yaml: `- id: [t1`", f"{PYTEST} --tasks data/tasks.yaml", 2,
    "data/tasks.yaml:2: not valid YAML (expected ',' or ']', but got '<stream end>'); fix the YAML",
    put("data/tasks.yaml", "- id: [t1\n"))
row("tasks: YAML not a list", "data/tasks.yaml holds a mapping", f"{PYTEST} --tasks data/tasks.yaml", 2,
    "data/tasks.yaml:1: a YAML task file holds one list of tasks; start each task with '- '",
    put("data/tasks.yaml", "id: t1\n"))
row("--tasks a folder", "", f"{PYTEST} --tasks data", 2,
    "data: is a folder, not a task file; point the tasks setting (or --tasks) at a file")
row("--tasks missing", "", f"{PYTEST} --tasks data/nope.jsonl", 2,
    "data/nope.jsonl: task file not found; check the tasks path in pyproject.toml or pass --tasks")
row("--tasks under a file", "", f"{PYTEST} --tasks pyproject.toml/tasks.jsonl", 2,
    ("pyproject.toml/tasks.jsonl: pyproject.toml is a file, not a folder; move that file or point the tasks setting "
     "(or --tasks) elsewhere"))
row("--set tasks= (empty)", "", f"{PYTEST} --set tasks=", 4,
    "ERROR: --set tasks=: tasks: an empty path would name the project folder itself; fix the value")
row("tasks: unreadable", "chmod 000 data/tasks.jsonl", PYTEST, 2,
    ("data/tasks.jsonl: permission denied reading the task file; make it readable (chmod u+r) or point the tasks "
     "setting (or --tasks) at another file"), chmod("data/tasks.jsonl", 0), how="unprivileged")

# Rooms file.
row("rooms: missing", "", f"{PYTEST} --set rooms=data/nope.json", 2,
    "data/nope.json: rooms file not found; check the path or create the file")
row("rooms: empty setting", "", f"{PYTEST} --set rooms=", 2,
    ("--set rooms=: an empty path would name the project folder itself; give the path of a file (default "
     "evals/rooms/data/rooms.json)"))
row("rooms: empty suite setting", "", f"{PYTEST} --set suites.room_selector.rooms=", 2,
    ("--set suites.room_selector.rooms=: an empty path would name the project folder itself; give the path of a file"
     " (default evals/rooms/data/rooms.json)"))
row("rooms: a folder", "", f"{PYTEST} --set rooms=data", 2,
    "data: is a folder, not a rooms file; point the rooms setting at a file")
row("rooms: invalid JSON", "data/rooms.json cut short", PYTEST, 2,
    "data/rooms.json: not valid JSON (Expecting value at line 1 column 12); fix the rooms file", put("data/rooms.json", '{"rooms": ['))
row("rooms: not an object", "data/rooms.json holds `[]`", PYTEST, 2,
    "data/rooms.json: expected a JSON object with a \"rooms\" list, got []; fix the rooms file", put("data/rooms.json", "[]"))
row("rooms: empty list", "`{\"rooms\": []}`", PYTEST, 2,
    "data/rooms.json: \"rooms\" is empty; add at least one room", put("data/rooms.json", '{"rooms": []}'))
row("rooms: capacity 0", "room #2 has capacity 0", PYTEST, 2,
    "data/rooms.json: room 'R-102': capacity must be a whole number ≥ 1, got 0; fix the rooms file", rooms(lambda d: d["rooms"][1].__setitem__("capacity", 0)))
row("rooms: capacity missing", "room #2 has no capacity", PYTEST, 2,
    "data/rooms.json: room 'R-102': missing \"capacity\"; add it to the room", rooms(lambda d: d["rooms"][1].pop("capacity")))
row("rooms: booking at 25:00", "room #2's first booking starts at 25:00", PYTEST, 2,
    ("data/rooms.json: room 'R-102': booking #1: start must be a time HH:MM between 00:00 and 23:59, got \"25:00\"; "
     "fix the rooms file"),
    rooms(lambda d: d["rooms"][1]["bookings"][0].__setitem__(1, "25:00")))
row("rooms: overlapping bookings", "room #2 booked twice at once", PYTEST, 2,
    "data/rooms.json: room 'R-102': bookings on 2026-03-02 at 09:00 (60 min) and 09:00 overlap; fix the rooms file",
    rooms(lambda d: d["rooms"][1]["bookings"].append(list(d["rooms"][1]["bookings"][0]))))
row("rooms: duplicate id", "room #3 has room #1's id", PYTEST, 2,
    "data/rooms.json: room 'R-101': id used by rooms #1 and #3; give every room a unique id",
    rooms(lambda d: d["rooms"][2].__setitem__("id", d["rooms"][0]["id"])))
row("rooms: ids differ only in case", "room #3's id is room #1's in lower case", PYTEST, 2,
    ("data/rooms.json: room 'r-101': id used by rooms #1 (as 'R-101'; ids are compared regardless of case) and #3; "
     "give every room a unique id"),
    rooms(lambda d: d["rooms"][2].__setitem__("id", d["rooms"][0]["id"].lower())))
row("rooms: id \"No Room\"", "room #1 is called \"no room\"", PYTEST, 2,
    "data/rooms.json: room #1: id 'no room' is reserved for the no-room answer; rename the room", rooms(lambda d: d["rooms"][0].__setitem__("id", "no room")))
row("rooms: accessible a string", "room #1 has \"accessible\": \"yes\"", PYTEST, 2,
    "data/rooms.json: room 'R-101': accessible must be true or false, got \"yes\"; fix the rooms file",
    rooms(lambda d: d["rooms"][0].__setitem__("accessible", "yes")))
row("rooms: equipment twice", "room #1 lists \"TV\" and \"tv\"", PYTEST, 2,
    "data/rooms.json: room 'R-101': equipment lists tv more than once; list each item once",
    rooms(lambda d: d["rooms"][0].__setitem__("equipment", ["TV", "tv"])))
row("rooms: byte-order mark", "data/rooms.json starts with a UTF-8 BOM", PYTEST, 0,
    "evals room_selector: 3 cases (live), 3 passed, mean score 0.417 -> reports/scores.md",
    put("data/rooms.json", "\ufeff" + ROOMS.read_text(encoding="utf-8")))

# Prompts.
row("--prompt a folder", "", f"{PYTEST} --prompt prompts", 2,
    "prompts: is a folder, not a prompt file; point the prompt setting (or --prompt) at a file")
row("--prompt missing", "", f"{PYTEST} --prompt prompts/nope.md", 2,
    ("prompts/nope.md: prompt file not found; create it or point the prompt setting (or --prompt) at an existing "
     "file"))
row("--set prompt= (empty)", "", f"{PYTEST} --set prompt=", 4,
    "ERROR: --set prompt=: prompt: an empty path would name the project folder itself; fix the value")
row("prompt: empty", "prompts/agent.md holds blank lines", PYTEST, 2,
    "prompts/agent.md: prompt file is empty; write the prompt template into it", put("prompts/agent.md", " \n\n"))
row("prompt: unknown placeholder", "prompts/agent.md line 2 uses {floor}", PYTEST, 2,
    ("prompts/agent.md:2: placeholder {floor} is not a task input; use one of {accessible_required}, {attendees}, "
     "{date}, {duration_min}, {needs}, {time} or write {{floor}} for literal braces"),
    put("prompts/agent.md", PROMPT + "On floor {floor}.\n"))
row("prompt: uses no task input", "prompts/agent.md has no placeholder", PYTEST, 2,
    ("prompts/agent.md: the prompt uses no task input, so every task would get the same prompt; add a placeholder "
     "such as {date}, {time}, {duration_min} where the task belongs"),
    put("prompts/agent.md", "Pick the best meeting room.\n"))
row("prompt: text before [system]", "a line before `[system]`", PYTEST, 2,
    "prompts/agent.md:1: text before the first [system] or [user] line would be dropped; move it into a section",
    put("prompts/agent.md", "Hello\n[system]\nBe brief.\n[user]\n" + PROMPT))
row("prompt: not UTF-8", "prompts/agent.md in Latin-1", PYTEST, 2,
    "prompts/agent.md: not UTF-8 text; save the prompt file as UTF-8", put("prompts/agent.md", PROMPT.encode() + b"caf\xe9\n"))
row("prompt: byte-order mark", "prompts/agent.md starts with a UTF-8 BOM", PYTEST, 0,
    "evals room_selector: 3 cases (live), 3 passed, mean score 0.417 -> reports/scores.md", put("prompts/agent.md", "\ufeff" + PROMPT))
row("judge prompt: missing", "prompts/judge.md deleted", f"{PYTEST} --set graders.judge=0.5", 2,
    "prompts/judge.md: prompt file not found; create it or point the judge_prompt setting at an existing file", remove("prompts/judge.md"))

# Settings and options.
row("pyproject: invalid TOML", "`max_turns = ` in [tool.replaygate]", PYTEST, 4,
    "ERROR: pyproject.toml: Invalid value (at line 14, column 13)", pyproject("max_turns = \n"))
row("pyproject: unknown key", "`roms = \"data/rooms.json\"` in [tool.replaygate]", PYTEST, 2,
    ("pyproject.toml: [tool.replaygate] roms: not a setting of the harness or of suite 'room_selector' (suite "
     "settings: rooms); did you mean rooms?"), pyproject('roms = "data/rooms.json"\n'))
row("pyproject: max_turns 0", "`max_turns = 0` in [tool.replaygate]", PYTEST, 4,
    ("ERROR: pyproject.toml: [tool.replaygate] max_turns: Input should be greater than or equal to 1; fix the "
     "setting or its --set override"), pyproject("max_turns = 0\n"))
row("pyproject: threshold 1.5", "`threshold = 1.5` in [tool.replaygate]", PYTEST, 4,
    ("ERROR: pyproject.toml: [tool.replaygate] threshold: Input should be less than or equal to 1; fix the setting "
     "or its --set override"), pyproject("threshold = 1.5\n"))
row("pyproject: negative weight", "[tool.replaygate.graders] judge = -0.5", PYTEST, 4,
    ("ERROR: pyproject.toml: [tool.replaygate] graders: weight of grader 'judge' is negative; fix the setting or its"
     " --set override"),
    pyproject("\n[tool.replaygate.graders]\nexact_choice = 1.0\njudge = -0.5\n"))
row("pyproject: suites not a table", "`suites = 3` in [tool.replaygate]", PYTEST, 4,
    ("ERROR: pyproject.toml: [tool.replaygate] suites: must be a table of suite tables; write "
     "[tool.replaygate.suites.<name>]"), pyproject("suites = 3\n"))
row("--set unknown key", "", f"{PYTEST} --set roms=data/rooms.json", 2,
    ("--set roms=data/rooms.json: not a setting of the harness or of suite 'room_selector' (suite settings: rooms); "
     "did you mean rooms?"))
row("--set without =", "", f"{PYTEST} --set noequals", 4,
    "ERROR: --set noequals: expected KEY=VALUE, e.g. --set models.agent=gpt-4.1-mini")
row("--set max_turns=0", "", f"{PYTEST} --set max_turns=0", 4,
    "ERROR: --set max_turns=0: max_turns: Input should be greater than or equal to 1; fix the value")
row("--set concurrency=0", "", f"{PYTEST} --set concurrency=0", 4,
    "ERROR: --set concurrency=0: concurrency: Input should be greater than or equal to 1; fix the value")
row("--set temperature=3", "", f"{PYTEST} --set temperature=3", 4,
    "ERROR: --set temperature=3: temperature: Input should be less than or equal to 2; fix the value")
row("--set threshold=2", "", f"{PYTEST} --set threshold=2", 4,
    "ERROR: --set threshold=2: threshold: Input should be less than or equal to 1; fix the value")
row("--set models.planner", "", f"{PYTEST} --set models.planner=x", 4,
    "ERROR: --set models.planner=x: models.planner: Extra inputs are not permitted; fix the value")
row("--set below a value", "", f"{PYTEST} --set max_turns.x=1", 4,
    "ERROR: --set max_turns.x=1: max_turns: Input should be a valid integer; fix the value")
row("--set no positive weight", "", f"{PYTEST} --set graders={{exact_choice=0}}", 4,
    "ERROR: --set graders={exact_choice=0}: graders: no grader has a positive weight; fix the value")
row("--concurrency 0", "", f"{PYTEST} --concurrency 0", 4,
    "ERROR: --concurrency 0: must be 1 or more; pass a positive whole number")
row("--concurrency -3", "", f"{PYTEST} --concurrency -3", 4,
    "ERROR: --concurrency -3: must be 1 or more; pass a positive whole number")
row("--concurrency a word", "", f"{PYTEST} --concurrency lots", 4,
    "pytest: error: argument --concurrency: invalid int value: 'lots'")
row("--max-turns 0", "", f"{PYTEST} --max-turns 0", 4,
    "ERROR: --max-turns 0: must be 1 or more; pass a positive whole number")
row("--repeat 0", "", f"{PYTEST} --repeat 0", 4,
    "ERROR: --repeat 0: must be 1 or more; pass how many times to run each case")
row("--min-passes above --repeat", "", f"{PYTEST} --repeat 2 --min-passes 3", 4,
    "ERROR: --min-passes 3: must be between 1 and --repeat (2)")
row("--shard 3/2", "", f"{PYTEST} --shard 3/2", 4,
    "ERROR: --shard 3/2: expected I/N with 1 <= I <= N, e.g. --shard 1/2")
row("--shard a word", "", f"{PYTEST} --shard half", 4,
    "ERROR: --shard half: expected I/N with 1 <= I <= N, e.g. --shard 1/2")
row("--alpha 0", "", f"{PYTEST} --alpha 0", 4,
    "ERROR: --alpha 0: the significance level must lie strictly between 0 and 1; pass e.g. --alpha 0.05")
row("--alpha 2", "", f"{PYTEST} --alpha 2", 4,
    "ERROR: --alpha 2: the significance level must lie strictly between 0 and 1; pass e.g. --alpha 0.05")
row("--max-regression -1", "", f"{PYTEST} --max-regression -1", 4,
    "ERROR: --max-regression -1: must be a mean score drop of 0 or more; pass e.g. --max-regression 0.02")
row("--max-regression nan", "", f"{PYTEST} --max-regression nan", 4,
    "ERROR: --max-regression nan: must be a mean score drop of 0 or more; pass e.g. --max-regression 0.02")
row("--eval-record-mode bogus", "", f"{PYTEST} --eval-record-mode=bogus", 4,
    ("pytest: error: argument --eval-record-mode: invalid choice: 'bogus' (choose from 'none', 'once', "
     "'new_episodes', 'all')"))
row("--llm bogus", "", "pytest --llm=bogus", 4,
    "pytest: error: argument --llm: invalid choice: 'bogus' (choose from 'auto', 'openai', 'azure', 'sim')")
row("--llm=openai without a key", "", "pytest --llm=openai", 4,
    "ERROR: --llm=openai: OPENAI_API_KEY is not set; export it, or use --llm=sim for the offline simulator")
row("--llm=azure without its variables", "", "pytest --llm=azure", 4,
    ("ERROR: --llm=azure: set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY (and AZURE_OPENAI_API_VERSION), or use "
     "--llm=sim"))
row("--llm=azure with a key only", "AZURE_OPENAI_API_KEY set", "pytest --llm=azure", 4,
    ("ERROR: --llm=azure: set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY (and AZURE_OPENAI_API_VERSION), or use "
     "--llm=sim"),
    env=(("AZURE_OPENAI_API_KEY", "k" * 32),))
row("eval_pass_threshold=2", "", f"{PYTEST} -o eval_pass_threshold=2", 4,
    ("ERROR: -o eval_pass_threshold=2: 2 is not a score between 0 and 1; set it to a score between 0 and 1, e.g. "
     "eval_pass_threshold = 0.8 in [tool.pytest.ini_options]"))
row("eval_pass_threshold a word", "", f"{PYTEST} -o eval_pass_threshold=high", 4,
    ("ERROR: -o eval_pass_threshold=high: not a number; set it to a score between 0 and 1, e.g. eval_pass_threshold "
     "= 0.8 in [tool.pytest.ini_options]"))
row("eval_pass_threshold in the ini", "`eval_pass_threshold = -0.1` in [tool.pytest.ini_options]", PYTEST, 4,
    ("ERROR: pyproject.toml: eval_pass_threshold: -0.1 is not a score between 0 and 1; set it to a score between 0 "
     "and 1, e.g. eval_pass_threshold = 0.8 in [tool.pytest.ini_options]"),
    pyproject(replace=("eval_pass_threshold = 0.0", "eval_pass_threshold = -0.1")))

# Where the session writes.
row("--results-json a folder", "reports/ exists", f"{PYTEST} --results-json reports", 4,
    "ERROR: reports: is a folder; point --results-json at a file for the results file", folder("reports"))
row("--results-json under a file", "", f"{PYTEST} --results-json pyproject.toml/r.json", 4,
    ("ERROR: pyproject.toml/r.json: pyproject.toml is a file, not a folder; move that file or point --results-json "
     "elsewhere"))
row("--results-json read-only", "chmod 444 results.json", f"{PYTEST} --results-json results.json", 4,
    ("ERROR: results.json: the results file is read-only, and the harness does not replace a read-only file; make it"
     " writable (chmod u+w results.json) or point --results-json elsewhere"),
    both(put("results.json", "{}"), chmod("results.json", 0o444)))
row("reports setting a file", "", f"{PYTEST} --set reports=pyproject.toml", 2,
    ("pyproject.toml: is a file, not a folder; point the reports setting (--set reports=pyproject.toml) at a folder "
     "for the reports, or move the file"))
row("reports setting under a file", "", f"{PYTEST} --set reports=pyproject.toml/out", 2,
    ("pyproject.toml/out: pyproject.toml is a file, not a folder; move that file or point the reports setting (--set"
     " reports=pyproject.toml/out) elsewhere"))
row("reports folder read-only", "chmod 555 reports", PYTEST, 2,
    ("reports: the folder is read-only, so the reports cannot be written there; make it writable (chmod u+w reports)"
     " or point the reports setting at another folder"), folder("reports", 0o555))
row("report read-only", "chmod 444 reports/scores.md", PYTEST, 2,
    ("reports/scores.md: the report is read-only, and the harness does not replace a read-only file; make it "
     "writable (chmod u+w reports/scores.md) or point the reports setting elsewhere"),
    both(put("reports/scores.md", "# old\n"), chmod("reports/scores.md", 0o444)))
row("cassettes setting a file, replaying", "", "pytest --set cassettes=pyproject.toml", 2,
    ("pyproject.toml: is a file, not a folder; point the cassettes setting (--set cassettes=pyproject.toml) at a "
     "folder for the cassettes, or move the file"))
row("cassettes setting a file, recording", "", f"{PYTEST} --eval-record-mode=all --set cassettes=pyproject.toml", 2,
    ("pyproject.toml: is a file, not a folder; point the cassettes setting (--set cassettes=pyproject.toml) at a "
     "folder for the cassettes, or move the file"))
row("cassettes folder read-only, recording", "chmod 555 cassettes", f"{PYTEST} --eval-record-mode=all", 2,
    ("cassettes: the folder is read-only, so the cassettes cannot be written there; make it writable (chmod u+w "
     "cassettes) or point the cassettes setting at another folder"),
    folder("cassettes", 0o555))
row("baseline read-only, updating", "chmod 444 reports/baseline.json", f"{PYTEST} --update-baseline", 4,
    ("ERROR: reports/baseline.json: the baseline is read-only, and the harness does not replace a read-only file; "
     "make it writable (chmod u+w reports/baseline.json) or point the baseline setting elsewhere"),
    both(baseline(GOOD_BASELINE), chmod("reports/baseline.json", 0o444)))
row("baseline under a file, updating", "", f"{PYTEST} --update-baseline --set baseline=pyproject.toml/b.json", 4,
    ("ERROR: pyproject.toml/b.json: pyproject.toml is a file, not a folder; move that file or point the baseline "
     "setting (or --baseline) elsewhere"))
row("baseline folder read-only, updating", "chmod 555 reports", f"{PYTEST} --update-baseline", 4,
    ("ERROR: reports/baseline.json: the folder reports is read-only, so the baseline cannot be written there; make "
     "it writable (chmod u+w reports) or point the baseline setting elsewhere"),
    folder("reports", 0o555))
row("prompt read-only, optimizing", "chmod 444 prompts/agent.md", f"{PYTEST} --optimize", 2,
    ("prompts/agent.md: the prompt is read-only, and the harness does not replace a read-only file; make it writable "
     "(chmod u+w prompts/agent.md) or point the prompt setting (or --prompt) elsewhere"), chmod("prompts/agent.md", 0o444))
row("prompts folder read-only, optimizing", "chmod 555 prompts", f"{PYTEST} --optimize", 2,
    ("prompts/agent.md: the folder prompts is read-only, so the prompt cannot be written there; make it writable "
     "(chmod u+w prompts) or point the prompt setting (or --prompt) elsewhere"), folder("prompts", 0o555))

# Baselines.
row("--baseline a folder", "reports/ exists", f"{PYTEST} --baseline reports", 4,
    "ERROR: --baseline reports: is a folder, not a baseline file; pass the baseline's JSON file", folder("reports"))
row("--baseline missing", "", f"{PYTEST} --baseline base.json", 4,
    ("ERROR: --baseline base.json: no such file; pass an existing baseline, or add --baseline-optional when there "
     "may be none yet (the gate then passes with nothing to compare)"))
row("--baseline missing, optional", "", f"{PYTEST} --baseline base.json --baseline-optional", 0,
    "evals room_selector: 3 cases (live), 3 passed, mean score 0.417 -> reports/scores.md")
row("--baseline corrupt", "base.json cut short", f"{PYTEST} --baseline base.json", 4,
    ("ERROR: base.json: not valid JSON (Expecting property name enclosed in double quotes: line 1 column 26 (char "
     "25)); restore it from git, or rewrite it with --update-baseline"), put("base.json", '{"format": 3, "suites": {'))
row("--baseline wrong format", "base.json has format 4", f"{PYTEST} --baseline base.json", 4,
    ("ERROR: base.json: not a baseline of format 3 (format 4, or no \"cases\" object); restore it from git, or rewrite"
     " it with --update-baseline"),
    put("base.json", '{"format": 4, "cases": {}}'))
row("baseline: passed a string", "reports/baseline.json: `\"passed\": \"yes\"`", PYTEST, 4,
    ("ERROR: reports/baseline.json: suite 'room_selector', case 't1': passed must be true or false, got 'yes'; "
     "restore it from git, or rewrite it with --update-baseline"),
    baseline({"t1": {"score": 0.5, "passed": "yes"}}))
row("baseline: score missing", "reports/baseline.json: a case without a score", PYTEST, 4,
    ("ERROR: reports/baseline.json: suite 'room_selector', case 't1' lacks a numeric score and a passed flag; "
     "restore it from git, or rewrite it with --update-baseline"), baseline({"t1": {"passed": True}}))
row("baseline setting a folder", "reports/ exists", f"{PYTEST} --set baseline=reports", 4,
    "ERROR: reports: is a folder, not a baseline file; point the baseline setting (or --baseline) at a file", folder("reports"))
row("baseline: byte-order mark", "reports/baseline.json starts with a UTF-8 BOM", PYTEST, 0,
    "evals room_selector: 3 cases (live), 3 passed, mean score 0.417 -> reports/scores.md",
    put("reports/baseline.json", "\ufeff" + json.dumps({"format": 3, "suites": {"room_selector": {"cases": GOOD_BASELINE}}})))
row("baseline: unreadable", "chmod 000 reports/baseline.json", PYTEST, 4,
    ("ERROR: reports/baseline.json: permission denied reading the baseline file; make it readable (chmod u+r) or "
     "point the baseline setting (or --baseline) at another file"),
    both(baseline(GOOD_BASELINE), chmod("reports/baseline.json", 0)), how="unprivileged")

# Cassettes.
row("cassette: corrupt JSON", "the cassette of t1 cut short", "pytest -k t1", 1,
    ("cassettes/room_selector/sim-standin-1/t1.r0.json: not a readable cassette (Expecting value: line 1 column 19 "
     "(char 18)); restore it from git or delete it and re-record with --eval-record-mode=once"), cassette('{"interactions": ['))
row("cassette: a JSON list", "the cassette of t1 holds `[]`", "pytest -k t1", 1,
    ("cassettes/room_selector/sim-standin-1/t1.r0.json: not a readable cassette (expected a JSON object with an "
     "\"interactions\" list, got list); restore it from git or delete it and re-record with --eval-record-mode=once"), cassette("[]"))
row("cassette: missing", "", "pytest -k t1", 1,
    ("case t1 (repeat 0): no recording in cassettes/room_selector/sim-standin-1/t1.r0.json: the cassette file does "
     "not exist; record it with: pytest 'test_rooms.py::test_room_task[t1]' --eval-record-mode=once"))
row("cassette: an answer that is not JSON", "the first recorded answer of t1 cut short", "pytest -k t1", 1,
    ("cassettes/room_selector/sim-standin-1/t1.r0.json: the recorded answer to POST /v1/chat/completions is not JSON "
     "(application/json; JSONDecodeError: Expecting value: line 1 column 36 (char 35)); re-record the case with "
     "--eval-record-mode=all, or restore the file from git"),
    recorded_answer({"string": '{"id": "chatcmpl-sim", "choices": ['}))
row("cassette: a recorded 400", "t1's first answer is a recorded 400 (context too long)", "pytest -k t1", 0,
    "evals room_selector: 1 case (replay), 1 passed, mean score 0.000 -> reports/scores.md",
    recorded_answer({"json": {"error": {"message": "This model's maximum context length is 128000 tokens.",
                                        "type": "invalid_request_error", "param": "messages",
                                        "code": "context_length_exceeded"}}}, status=400))

# The model service (points 1 and 2 of the issue).
row("model service: closed port", "OPENAI_BASE_URL=http://127.0.0.1:9/v1 OPENAI_API_KEY=sk-fake", "pytest --llm=openai", 1,
    ("infrastructure error: cannot reach http://127.0.0.1:9/v1/chat/completions (ConnectError: [Errno 111] "
     "Connection refused; not sent after 3 failures in a row to http://127.0.0.1:9); check OPENAI_BASE_URL or start "
     "the server"),
    env=(("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"), ("OPENAI_API_KEY", "sk-fake-key-for-a-closed-port-0000")))

# The audit.
AUDIT = "python -m replaygate.cassettes.audit"
row("audit: from a subfolder", "", f"cd data && {AUDIT}", 2,
    ("audit: pyproject.toml: not found, so nothing says which folders to audit; run it from the project root, or "
     "pass --pyproject or the files to audit"), folder("reports"))
row("audit: pyproject missing", "", f"{AUDIT} --pyproject nope.toml", 2,
    ("audit: nope.toml: not found, so nothing says which folders to audit; run it from the project root, or pass "
     "--pyproject or the files to audit"))
row("audit: no [tool.replaygate]", "other/pyproject.toml has no [tool.replaygate]", f"{AUDIT} --pyproject other/pyproject.toml", 2,
    ("audit: other/pyproject.toml: has no [tool.replaygate] table, so this is not a replaygate project root; run it "
     "from the project root, or pass --pyproject or the files to audit"),
    put("other/pyproject.toml", "[project]\nname = 'x'\n"))
row("audit: invalid TOML", "pyproject.toml cut short", AUDIT, 2,
    ("audit: pyproject.toml: invalid TOML (Expected ']' at the end of a table declaration (at line 1, column 17)); "
     "fix the file"), put("pyproject.toml", "[tool.replaygate\n"))
row("audit: nothing to scan", "no cassettes/ or reports/", AUDIT, 2,
    ("audit: nothing to scan: no file under cassettes, reports; run it from the project root, or pass the files to "
     "audit"))
row("audit: an empty folder", "empty/ exists", f"{AUDIT} empty", 2,
    "audit: nothing to scan: no file under empty; run it from the project root, or pass the files to audit", folder("empty"))
row("audit: a missing path", "", f"{AUDIT} nope", 2,
    "audit: nope: no such file or folder; pass existing files or folders")
row("audit: an unknown option", "", f"{AUDIT} --fast", 2,
    "python -m replaygate.cassettes.audit: unrecognized arguments: --fast; see --help")
row("audit: a key in a report", "reports/notes.md holds an OpenAI-style key", AUDIT, 1,
    "reports/notes.md:2: OpenAI-style API key (value hidden)",
    put("reports/notes.md", "# notes\nkey sk-" + "a1" * 12 + "\n"))
row("audit: unreadable file", "chmod 000 reports/scores.md", AUDIT, 2,
    ("audit: reports/scores.md: cannot read it (permission denied), and what cannot be read may hold a key; make it "
     "readable (chmod u+r) and re-run"),
    both(put("reports/scores.md", "# scores\n"), chmod("reports/scores.md", 0)), how="unprivileged")
row("audit: unreadable folder", "chmod 000 cassettes/room_selector", AUDIT, 2,
    ("audit: cassettes/room_selector: cannot read it (permission denied), and what cannot be read may hold a key; "
     "make it readable (chmod u+r) and re-run"),
    both(put("reports/scores.md", "# scores\n"), put("cassettes/room_selector/a.json", "{}"), chmod("cassettes/room_selector", 0)),
    how="unprivileged")

# The shard merge.
MERGE = "python -m replaygate.results.shards merge results.json"
row("merge: --alpha 0", "", f"{MERGE} --alpha 0", 2,
    "error: --alpha 0: the significance level must lie strictly between 0 and 1; pass e.g. --alpha 0.05", results_file)
row("merge: --alpha 2", "", f"{MERGE} --alpha 2", 2,
    "error: --alpha 2: the significance level must lie strictly between 0 and 1; pass e.g. --alpha 0.05", results_file)
row("merge: --max-regression -1", "", f"{MERGE} --max-regression -1", 2,
    "error: --max-regression -1: must be a mean score drop of 0 or more; pass e.g. --max-regression 0.02", results_file)
row("merge: --alpha a word", "", f"{MERGE} --alpha low", 2,
    "python -m replaygate.results.shards merge: argument --alpha: invalid float value: 'low'; see --help", results_file)
row("merge: --baseline missing", "", f"{MERGE} --baseline base.json", 2,
    ("error: --baseline base.json: no such file; pass an existing baseline, or add --baseline-optional when there "
     "may be none yet (the gate then passes with nothing to compare)"), results_file)
row("merge: --baseline missing, optional", "", f"{MERGE} --baseline base.json --baseline-optional", 0,
    "evals room_selector: 3 tasks merged from 1 files -> reports/scores.md", results_file)
row("merge: --baseline a folder", "reports/ exists", f"{MERGE} --baseline reports", 2,
    "error: --baseline reports: is a folder, not a baseline file; pass the baseline's JSON file", both(results_file, folder("reports")))
row("merge: --reports a file", "", f"{MERGE} --reports pyproject.toml", 2,
    "error: pyproject.toml: is a file, not a folder; point --reports at a folder for the reports, or move the file", results_file)
row("merge: --reports read-only", "chmod 555 out", f"{MERGE} --reports out", 2,
    ("error: out: the folder is read-only, so the reports cannot be written there; make it writable (chmod u+w out) "
     "or point --reports at another folder"), both(results_file, folder("out", 0o555)))
row("merge: results missing", "", MERGE, 2,
    "error: results.json: results file not found; pass the files the shards wrote with --results-json")
row("merge: results a folder", "results.json/ is a folder", MERGE, 2,
    "error: results.json: is a folder, not a results file; point the merge's RESULTS argument at a file", folder("results.json"))
row("merge: results corrupt", "results.json cut short", MERGE, 2,
    ("error: results.json: not valid JSON (Expecting value: line 1 column 15 (char 14)); write it with pytest "
     "--results-json PATH"), put("results.json", '{"threshold": '))
row("merge: the same results twice", "", f"{MERGE} results.json", 2,
    ("error: results.json: task t1 (repeat 0) also ran in results.json; shards must not overlap, use --shard i/n "
     "with one n"), results_file)
row("merge: no results named", "", "python -m replaygate.results.shards merge", 2,
    "python -m replaygate.results.shards merge: the following arguments are required: files; see --help")
row("merge: no subcommand", "", "python -m replaygate.results.shards", 2,
    ("usage: python -m replaygate.results.shards merge RESULTS.json [RESULTS.json ...] [--baseline PATH "
     "[--baseline-optional]] [--reports DIR]; see merge --help"))

# Exporting generated tasks.
EXPORT = "python -m evals.rooms export --count 3"
row("export: over an existing file", "new.jsonl exists", f"{EXPORT} --out new.jsonl", 1,
    "python -m evals.rooms export: new.jsonl: already exists; pass --force to replace it, or choose another --out", put("new.jsonl", task() + "\n"))
row("export: over the suite's tasks", "", f"{EXPORT} --out data/tasks.jsonl", 1,
    ("python -m evals.rooms export: data/tasks.jsonl: is the suite's tasks file (the tasks setting in "
     "pyproject.toml), which export never replaces; write to another --out and merge the tasks you want by hand"))
row("export: over the suite's tasks, --force", "", f"{EXPORT} --out data/tasks.jsonl --force", 1,
    ("python -m evals.rooms export: data/tasks.jsonl: is the suite's tasks file (the tasks setting in "
     "pyproject.toml), which export never replaces; write to another --out and merge the tasks you want by hand"))
row("export: --out a folder", "", f"{EXPORT} --out data", 1,
    "python -m evals.rooms export: data: cannot write (it is a folder); pick a file path as --out")
row("export: --out under a file", "", f"{EXPORT} --out pyproject.toml/new.jsonl", 1,
    "python -m evals.rooms export: pyproject.toml/new.jsonl: cannot write (pyproject.toml is a file, not a folder); "
    "pick another --out")
row("export: --rooms missing", "", f"{EXPORT} --out new.jsonl --rooms nope.json", 1,
    "python -m evals.rooms export: nope.json: rooms file not found; check the path or create the file")
row("export: --count 0", "", "python -m evals.rooms export --count 0 --out new.jsonl", 2,
    "python -m evals.rooms export: argument --count: 0 is out of range; use 1 to 100000; see --help")
row("export: --count a word", "", "python -m evals.rooms export --count many --out new.jsonl", 2,
    "python -m evals.rooms export: argument --count: 'many' is not a whole number; see --help")

# The simulator's server.
SIM = "python -m evals.sim"
row("sim: --port 99999", "", f"{SIM} --port 99999", 2,
    "python -m evals.sim: argument --port: 99999 is out of range; use 0 to 65535 (0 picks a free one); see --help")
row("sim: --port -1", "", f"{SIM} --port -1", 2,
    "python -m evals.sim: argument --port: -1 is out of range; use 0 to 65535 (0 picks a free one); see --help")
row("sim: --port a word", "", f"{SIM} --port http", 2,
    ("python -m evals.sim: argument --port: 'http' is not a port number; use 0 to 65535 (0 picks a free one); see "
     "--help"))
row("sim: an address not on this host", "", f"{SIM} --port 8000 --host 203.0.113.9", 2,
    ("evals.sim: cannot listen on 203.0.113.9:8000: Cannot assign requested address; pass another --host or --port "
     "(--port 0 picks a free one)"))
row("sim: --fault-rate 2", "", f"{SIM} --port 0 --fault-rate 2", 2,
    ("python -m evals.sim: argument --fault-rate: 2 is outside 0..1; use e.g. 0.2 for one request in five; see "
     "--help"))
row("sim: --hang-s 0", "", f"{SIM} --port 0 --hang-s 0", 2,
    "python -m evals.sim: argument --hang-s: must be more than 0 seconds; see --help")
row("sim: unknown fault kind", "", f"{SIM} --port 0 --fault-rate 0.5 --faults gremlins", 2,
    ("python -m evals.sim: argument --faults: unknown fault kind 'gremlins'; use some of "
     "429,500,503,hang,malformed_json,truncated,bad_tool_args,unknown_tool,unknown_room; see --help"))


# The network guard (docs/capture.md).
OUTSIDE = """import urllib.request


def solver(inp, client, prompt):
    with urllib.request.urlopen("http://weather.example.com/today", timeout=5) as answer:
        return answer.read().decode()
"""
GUARD_FIX = ("outside the harness; send model calls through the `client` argument or `prompt.base_url` (or set "
             "network_guard = false for suites that call other services)")
row("guard: a solver calls an outside host", "plans: the solver reads http://weather.example.com/today", "pytest", 1,
    f"replaygate: case ann tried to reach weather.example.com:80 {GUARD_FIX}", plans(plans_module(OUTSIDE)))
row("--set network_guard=maybe", "", f"{PYTEST} --set network_guard=maybe", 4,
    ("ERROR: --set network_guard=maybe: network_guard: Input should be a valid boolean, unable to interpret input; "
     "fix the value"))
row("suite: allow_hosts a URL", "plans: `allow_hosts = [\"https://api.example.com\"]` in its suite table",
    "pytest --llm=sim", 2,
    ("pyproject.toml: [tool.replaygate.suites.plans] allow_hosts: 'https://api.example.com' is not a host; write a "
     "host name or address, optionally with :port (\"api.example.com\", \"127.0.0.1:8080\"); fix the setting or its "
     "--set override"), plans(toml='allow_hosts = ["https://api.example.com"]\n'))

SYNC_IN_ASYNC = """import openai


async def solver(inp, client, prompt):
    own = openai.OpenAI(api_key="unused")  # a sync client: waiting on it would block the run's event loop
    return own.chat.completions.create(**prompt.chat()).choices[0].message.content
"""
row("capture: a sync client in an async solver", "plans: an `async def` solver calls its own openai.OpenAI()",
    "pytest --llm=sim", 1,
    ("case ann: a sync client was called from the async solver, which blocks the run's event loop; await an async "
     "client (openai.AsyncOpenAI, httpx2.AsyncClient), or write the solver as a plain def"),
    plans(plans_module(SYNC_IN_ASYNC)))

# The loopback endpoint (docs/loopback.md): an agent that posts to a URL, reading the endpoint's error as an SDK would.
BY_URL = """import json
import os
import threading
import urllib.error
import urllib.request

TOGETHER = threading.Barrier(2, timeout=10)
FIRST_URL = []


def post(url, prompt):
    request = urllib.request.Request(url + "/chat/completions", data=json.dumps(prompt.chat()).encode(),
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())["choices"][0]["message"]["content"]
    except urllib.error.HTTPError as exc:
        raise RuntimeError(json.loads(exc.read())["error"]["message"]) from None


def solver(inp, client, prompt):
    WHICH_URL
"""
SHARED_ROOT = """TOGETHER.wait()  # both cases are running
    try:
        return post(os.environ["OPENAI_BASE_URL"], prompt)
    finally:
        TOGETHER.wait()  # neither ends before both have sent"""
STALE_URL = """FIRST_URL.append(prompt.base_url)  # the bug: an agent configured once, with the first case's URL
    return post(FIRST_URL[0], prompt)"""
row("loopback: the shared root while two cases run", "plans: a solver posts to $OPENAI_BASE_URL", "pytest --llm=sim", 1,
    ("case ann: RuntimeError: replaygate loopback: 2 cases are running (ann, bob) and this request names none: give "
     "each case's client its own URL, prompt.base_url, instead of the shared OPENAI_BASE_URL at test_plans.py:21 (in "
     "post)"),
    plans(plans_module(BY_URL.replace("WHICH_URL", SHARED_ROOT))))
row("loopback: a finished case's URL", "plans: a solver keeps the first case's prompt.base_url",
    "pytest --llm=sim --concurrency 1", 1,
    ("case bob: RuntimeError: replaygate loopback: no running case has token '<token>': the URL is from a case that "
     "has finished or from another run; read prompt.base_url in the solver while its case runs at test_plans.py:21 "
     "(in post)"),
    plans(plans_module(BY_URL.replace("WHICH_URL", STALE_URL))))

# Property tests (docs/properties.md).
PROPERTY_HEAD = """from pydantic import BaseModel

from replaygate import invariant


class Who(BaseModel):
    who: str


SAME = invariant("a capital letter", lambda w: w.model_copy(update={"who": w.who.title()}))
"""
PROPERTY_TEST = """@PLANS.properties(relations=[SAME], examples=2)
def test_plans_properties(eval_property):
    eval_property.check()
"""
PROPERTIES = plans_module(head=PROPERTY_HEAD, suite=", input_model=Who", test=PROPERTY_TEST)
EXAMPLES = "cassettes/plans_properties/sim-standin-1/examples.jsonl"
RECORD_PROPERTIES = "pytest 'test_plans.py::test_plans_properties' --eval-record-mode=all"
row("properties: no examples.jsonl in replay", "plans: a property test, never recorded", "pytest", 1,
    f"{EXAMPLES}: no recorded examples for this property test; record them with: {RECORD_PROPERTIES}", plans(PROPERTIES))
row("properties: a broken examples.jsonl line", f"plans: line 2 of {EXAMPLES} cut short", "pytest", 1,
    (f"{EXAMPLES}:2: not JSON (Expecting property name enclosed in double quotes); re-record with: "
     f"{RECORD_PROPERTIES}"),
    plans(PROPERTIES, files={EXAMPLES: '{"id": "x1", "input": {"who": "ann"}, "expected": null}\n{"id": "x2", "input": {\n'}))
row("properties: a test without eval_property", "plans: `@PLANS.properties(...)` on `def test_plans_properties():`",
    "pytest --llm=sim", 2,
    ("test_plans.py::test_plans_properties: @plans.properties marks a test that takes no eval_property, so its "
     "examples would never run; add the eval_property argument and call eval_property.check()"),
    plans(PROPERTIES.replace("(eval_property):\n    eval_property.check()", "():\n    pass")))
row("properties: nothing to draw inputs from", "plans: a property test without inputs=, and the suite has no input_model",
    "pytest --llm=sim", 2,
    ("test_plans.py:21: Suite 'plans' .properties: no inputs= strategy and no pydantic input_model to draw inputs "
     "from; pass inputs=<a Hypothesis strategy>, or give the Suite an input_model"),
    plans(plans_module(head=PROPERTY_HEAD, test=PROPERTY_TEST)))
row("properties: two relations of one name", "plans: `relations=[SAME, SAME]`", "pytest --llm=sim", 2,
    "test_plans.py:21: Suite 'plans' .properties: two relations have the same name; name each relation apart",
    plans(PROPERTIES.replace("relations=[SAME]", "relations=[SAME, SAME]")))

# Misusing the suite API (tests/test_plugin_misuse.py, tests/test_config_blame.py).
row("suite: one name in two modules", "plans: test_one.py and test_two.py each declare suite plans", "pytest --llm=sim", 2,
    "suite 'plans' is declared twice, in test_one.py and in test_two.py; give each Suite its own name",
    plans("", files={"test_one.py": plans_module(), "test_two.py": plans_module()}))
row("suite: @cases without eval_case", "plans: `@PLANS.cases` on `def test_plans():`", "pytest --llm=sim", 2,
    ("test_plans.py::test_plans: @plans.cases marks a test that takes no eval_case, so suite 'plans' would never run; "
     "add the eval_case argument to the test"),
    plans(plans_module(test=CASES_TEST.replace("(eval_case):\n    eval_case.check()", "():\n    pass"))))
row("suite: a hung solver", "plans: the solver sleeps 2 s", "pytest --llm=sim --set case_timeout_s=0.3", 1,
    ("case ann: the solver did not return within 0.3 s; fix the hang, or raise case_timeout_s in [tool.replaygate] "
     "(or --set case_timeout_s=SECONDS)"),
    plans(plans_module(SOLVER.replace("    return", "    import time; time.sleep(2)\n    return"))))
row("suite: the solver raises", "plans: the solver reads a missing key", "pytest --llm=sim", 1,
    "case ann: KeyError: 'plan' at test_plans.py:5 (in solver)",
    plans(plans_module(SOLVER.replace("    return", "    {}['plan']  # the bug\n    return"))))
row("suite: an answer that is no JSON value", "plans: the solver returns object()", "pytest --llm=sim", 1,
    ("case ann: the solver returned a value of type object, which the report and baseline cannot store; return text, "
     "a number, a list, a dict, a dataclass or a pydantic model"),
    plans(plans_module(SOLVER.replace("    return", "    return object()\n    return"))))
row("suite: the double raises", "plans: the FunctionModel's function divides by zero", "pytest --llm=sim", 1,
    "case ann: ZeroDivisionError: division by zero at test_plans.py:8 (in <lambda>)",
    plans(plans_module(double="FunctionModel(lambda request: 1 / 0)")))
row("suite: every case errored", "plans: in the baseline, never recorded", "pytest", 1,
    "evals plans: gate not run: every one of its 2 cases errored (no score to compare)",
    both(plans(), put("reports/baseline.json", json.dumps(
        {"format": 3, "suites": {"plans": {"cases": {t["id"]: {"score": 1.0, "passed": True} for t in PLANS_TASKS}}}}))),
    anywhere=True)
row("pyproject: [tool] replaygate = 3", "plans: pyproject.toml holds `[tool]` `replaygate = 3`", "pytest --llm=sim", 4,
    "ERROR: pyproject.toml: [tool] replaygate = 3 must be a table; write [tool.replaygate] and its keys",
    both(plans(), put("pyproject.toml", "[tool]\nreplaygate = 3\n")))
row("suite: threshold 1.5 in code", "plans: `Suite(..., threshold=1.5)`", "pytest --llm=sim", 2,
    "Suite('plans', threshold=1.5) in code: threshold: Input should be less than or equal to 1; fix the value",
    plans(plans_module(suite=", threshold=1.5")))
row("suite: a misspelt suite table", "plans: a table [tool.replaygate.suites.plan]", "pytest --llm=sim", 0,
    ("pyproject.toml: [tool.replaygate.suites.plan] names no suite this session collected (suites: plans); fix the "
     "table's name, or it is ignored"),
    plans(toml="\n[tool.replaygate.suites.plan]\nthreshold = 0.5\n"), anywhere=True)
row("suite: ids differ only in case", "plans: tasks t00 and T00", "pytest --llm=sim", 2,
    ("plans/tasks.jsonl:2: task id 'T00' differs from 't00' (at plans/tasks.jsonl:1) only in case; task ids must be "
     "unique ignoring case: rename one"),
    plans(tasks=[{**PLANS_TASKS[0], "id": "t00"}, {**PLANS_TASKS[1], "id": "T00"}]))
row("suite: id ..", "plans: a task with id ..", "pytest --llm=sim", 2,
    "plans/tasks.jsonl:1: task id '..' starts with '.', and it names a file; start it with a letter or digit",
    plans(tasks=[{**PLANS_TASKS[0], "id": ".."}]))
row("suite: FunctionModel stream_delay_s -1", "plans: `FunctionModel(..., stream_delay_s=-1)`", "pytest --llm=sim", 2,
    "test_plans.py:8: FunctionModel stream_delay_s must be a number of seconds >= 0, got -1",
    plans(plans_module(double='FunctionModel(lambda request: "gold", stream_delay_s=-1)')))

# Optimizing.
row("--optimize: the holdout too small", "3 tasks, so 1 in the holdout split", f"{PYTEST} --optimize", 4,
    ("ERROR: --optimize: 3 tasks: the holdout split has 1 task and the smallest p over 1 is 0.5000, so no prompt can "
     "pass the write-back gate at alpha 0.05; it needs at least 5: add tasks, give tasks \"split\": \"holdout\" in "
     "the task file, or raise the holdout ratio in [tool.replaygate.optimize.splits]"))
row("--optimize: a report another suite owns", "[tool.replaygate.optimize] report without {suite}; another suite's run in it",
    f"{PYTEST} --optimize", 4,
    ("ERROR: --optimize: reports/optimization.md: holds the optimization report of suite 'triage', which suite "
     "'room_selector' would overwrite; put {suite} in [tool.replaygate.optimize] report, e.g. report = "
     "\"reports/optimization/{suite}.md\""),
    both(pyproject('\n[tool.replaygate.optimize]\nreport = "reports/optimization.md"\n'),
         put("reports/optimization/apo.json", json.dumps({"suite": "triage"}))))

# --- running a row --------------------------------------------------------------------------------------

# Lines pytest wraps around an argparse error (a bad choice or type): usage, ini file, rootdir.
ARGPARSE_FRAME = re.compile(r"ERROR: usage: .*|\s+inifile: .*|\s+rootdir: .*")
SECTION_HEADER = re.compile(r"_{3,} (\S.*\S) _{3,}")  # a collection error's or a failed test's
SUITE_SUMMARY = re.compile(r"evals [^\s:]+: ")  # a suite's line in the terminal summary
ARTIFACTS: dict[str, Path] = {}
CASE_TOKEN = re.compile(r"token '[0-9a-f]{16}'")


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    lines: list[str] = field(default_factory=list)

    @property
    def first(self) -> str:
        return self.lines[0] if self.lines else ""


def pytest_first_line(out: str, err: str) -> str:
    """The harness's message in pytest's output: a usage error, a collection error, a failure, or the summary."""
    errors = [line for line in err.splitlines() if line.strip() and not ARGPARSE_FRAME.fullmatch(line)]
    if errors:
        return errors[0]
    lines = out.splitlines()
    for index, line in enumerate(lines):
        if SECTION_HEADER.fullmatch(line):
            return next((later for later in lines[index + 1:] if later.strip()), "")
    return next((line for line in lines if SUITE_SUMMARY.match(line)), lines[-1] if lines else "")


def main_outcome(main: Callable[[list[str]], int], args: list[str]) -> Outcome:
    """A command's `main(argv)` in process, its output captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
    return Outcome(code, out.getvalue(), err.getvalue(), message_lines(code, out.getvalue(), err.getvalue()))


def message_lines(code: int, out: str, err: str) -> list[str]:
    """A command's message: what it printed to stderr when it failed, else (and for findings) its stdout."""
    lines = [line for line in err.splitlines() if line.strip()] if code else []
    return lines or [line for line in out.splitlines() if line.strip()]


MAINS = {
    ("python", "-m", "replaygate.cassettes.audit"): lambda args: audit.main(args, environ={}),
    ("python", "-m", "replaygate.results.shards"): shards.main,
    ("python", "-m", "evals.rooms"): rooms_command.main,
    ("python", "-m", "evals.sim"): sim_command.main,
}


def drop_file_access_override() -> None:
    """In the child, before exec: root loses the power to read and write past file modes, as any user is."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, dropped from the bounding set
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def subprocess_outcome(words: list[str], root: Path, env: dict[str, str], unprivileged: bool) -> Outcome:
    command = [sys.executable, "-m", "pytest", *words[1:]] if words[0] == "pytest" else [sys.executable, *words[1:]]
    preexec = drop_file_access_override if unprivileged and os.geteuid() == 0 else None
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=ROW_SECONDS,
                          preexec_fn=preexec)
    if words[0] == "pytest":
        return Outcome(done.returncode, done.stdout, done.stderr, [pytest_first_line(done.stdout, done.stderr)])
    return Outcome(done.returncode, done.stdout, done.stderr, message_lines(done.returncode, done.stdout, done.stderr))


def run_row(row: Row, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    words = shlex.split(row.command)
    cwd = pytester.path
    if words[0] == "cd" and "&&" in words:
        cwd = cwd / words[1]
        words = words[words.index("&&") + 1:]
    if row.how != "inprocess":
        env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV and not k.startswith("PYTEST_")}
        return subprocess_outcome(words, cwd, {**env, **dict(row.env)}, row.how == "unprivileged")
    monkeypatch.chdir(cwd)
    if words[0] == "pytest":
        result = pytester.runpytest_inprocess(*words[1:])
        out, err = result.stdout.str(), result.stderr.str()
        return Outcome(int(result.ret), out, err, [pytest_first_line(out, err)])
    main = next(main for prefix, main in MAINS.items() if tuple(words[:3]) == prefix)
    return main_outcome(main, words[3:])


def normalized(line: str, root: Path) -> str:
    # pytest run in process names itself pytest.main(); typed at a shell it is pytest.
    line = line.replace(f"{root}/", "").replace(str(root), "<project>").replace("pytest.main(): ", "pytest: ")
    return CASE_TOKEN.sub("token '<token>'", line)  # a loopback URL's case token is new every run


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of the project and its content, as far as root or a user can read it."""
    found = {}
    for folder_name, _, names in os.walk(root):
        for name in names:
            path = Path(folder_name) / name
            if "__pycache__" in path.parts or not path.is_file():
                continue
            try:
                found[str(path.relative_to(root))] = path.read_bytes()
            except PermissionError:
                found[str(path.relative_to(root))] = b"<unreadable>"
    return found


def restore_modes(root: Path) -> None:
    """Give back the write and read bits a row took away, so the temporary folder can be removed."""
    for folder_name, folders, names in os.walk(root):
        for name in [*folders, *names]:
            path = Path(folder_name) / name
            if not path.is_symlink():
                path.chmod(stat.S_IMODE(path.stat().st_mode) | stat.S_IRWXU)


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One real run of the project, whose --results-json the merge rows start from."""
    root = tmp_path_factory.mktemp("shared-run")
    scaffold(root)
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV and not k.startswith("PYTEST_")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "--llm=sim", "--results-json", "results.json"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    ARTIFACTS["results"] = root / "results.json"
    return ARTIFACTS


def test_the_table_has_a_hundred_distinct_rows():
    assert len(ROWS) >= 100
    assert len({row.id for row in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_a_bad_input_gets_its_exit_code_and_one_line(row: Row, pytester: pytest.Pytester, monkeypatch, request):
    if row.command.startswith(MERGE):
        request.getfixturevalue("shared_run")
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in row.env:
        monkeypatch.setenv(name, value)
    root = pytester.path
    scaffold(root)
    row.prepare(root)
    before = snapshot(root)
    started = time.monotonic()
    try:
        outcome = run_row(row, pytester, monkeypatch)
    finally:
        restore_modes(root)
    elapsed = time.monotonic() - started
    after = snapshot(root)
    everything = outcome.out + outcome.err
    assert "Traceback" not in everything and "INTERNALERROR" not in everything, everything[-3000:]
    said = [normalized(line, root) for line in everything.splitlines()] if row.anywhere else []
    first = row.first if row.first in said else normalized(outcome.first, root)
    assert (outcome.code, first) == (row.code, row.first), everything[-3000:]
    assert elapsed < ROW_SECONDS
    assert not set(before) - set(after), f"lost: {sorted(set(before) - set(after))}"
    if row.code not in (0, 1):
        # Refused before anything was written: the project is as it was.
        assert {name: after[name] for name in before} == before and set(after) == set(before), sorted(set(after) ^ set(before))


# --- the listing ----------------------------------------------------------------------------------------


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def listing() -> str:
    lines = [
        "# Bad input: what each gets",
        "",
        "Generated from `tests/test_bad_input_table.py`, which runs every row on a fresh copy of a small project",
        "(rooms, three tasks, a prompt) and checks the exit code and the first line of the message, and that no",
        "traceback is printed. Rows whose setup starts with \"plans:\" start from a second project instead: one",
        "suite `plans` in test_plans.py with a FunctionModel double and two tasks. A line marked † is one the run",
        "prints as it goes on (a warning, the gate's summary) rather than its first message.",
        "Exit codes: pytest's (1 tests failed, 2 interrupted by a collection error, 4 usage error); the audit, the",
        "merge and the simulator exit 2 on bad input (the audit 1 on a finding), export 1 (2 on a bad argument).",
        "Do not edit: after changing a row, regenerate it with `python -m tests.test_bad_input_table`.",
        "",
        "| # | case | setup | command | exit | first line |",
        "|---|---|---|---|---|---|",
    ]
    for number, row in enumerate(ROWS, start=1):
        lines.append(f"| {number} | {cell(row.id)} | {cell(row.setup) or '—'} | `{cell(row.command)}` | {row.code} | "
                     f"{'† ' if row.anywhere else ''}{cell(row.first)} |")
    return "\n".join(lines) + "\n"


REGENERATE = "python -m tests.test_bad_input_table"


def test_the_listing_in_reports_matches_the_table():
    # Compared, never written: a test run leaves the work tree as it was, and a stale listing is caught.
    committed = LISTING.read_text(encoding="utf-8") if LISTING.is_file() else ""
    assert committed == listing(), f"reports/bad-input.md differs from the table's rows; regenerate it with: {REGENERATE}"
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    assert any("reports/bad-input.md)" in page.read_text(encoding="utf-8") for page in pages), "no page links the table"


if __name__ == "__main__":
    # The one way reports/bad-input.md is written: run from the repository root after changing a row.
    write_text_atomic(LISTING, listing())
    print(f"{LISTING.relative_to(REPO)}: {len(ROWS)} rows")
