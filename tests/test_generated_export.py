"""`python -m evals.rooms export`: a JSONL of generated edge-case tasks the suite loads, with the oracle's answers."""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from pathlib import Path

import pytest

from replaygate.core.config import load_config
from replaygate.core.task import load_tasks
from evals.rooms.__main__ import main
from evals.rooms.oracle import choose
from evals.rooms.request import RoomRequest
from evals.rooms.strategies import CATEGORIES, categories
from evals.sim import SimTransport
from evals.rooms.suite import room_suite
from evals.rooms.world import load_world

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ROOT / "evals" / "rooms" / "data" / "rooms.json"
WORLD = load_world(ROOMS)
COUNT = 2 * len(CATEGORIES) + 3  # not a multiple of the categories, so some get one more


def export(path: Path, seed: int) -> str:
    """Run the command; return what it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["export", "--count", str(COUNT), "--seed", str(seed), "--out", str(path), "--rooms", str(ROOMS)]) == 0
    return printed.getvalue()


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("export") / "generated.jsonl"
    return path, export(path, seed=7)


def test_the_file_loads_as_tasks_and_every_expected_choice_is_the_oracles(exported):
    tasks = load_tasks(exported[0])
    assert len(tasks) == COUNT
    for task in tasks:
        req = RoomRequest.from_task(task)
        assert task.expected == choose(WORLD, req), f"{task.source}: expected_choice disagrees with the oracle"
        assert task.tags == categories(WORLD, req), f"{task.source}: tags disagree with the oracle"


def test_every_category_appears_and_the_spread_is_even(exported):
    path, printed = exported
    tags = Counter(tag for task in load_tasks(path) for tag in task.tags)
    assert not [c for c in CATEGORIES if not tags[c]]
    # The summary line says how many tasks were drawn for each category: 2 or 3 each here.
    spread = dict(item.rsplit(" ", 1) for item in printed.split("(", 1)[1].rstrip(")\n").split(", "))
    assert list(spread) == list(CATEGORIES) and set(spread.values()) == {"2", "3"}


def test_the_same_seed_writes_the_same_bytes_and_another_seed_other_tasks(exported, tmp_path):
    export(tmp_path / "again.jsonl", seed=7)
    export(tmp_path / "other.jsonl", seed=8)
    assert (tmp_path / "again.jsonl").read_bytes() == exported[0].read_bytes()
    assert (tmp_path / "other.jsonl").read_bytes() != exported[0].read_bytes()


def test_the_suite_loads_the_file_as_its_tasks(exported):
    # A fixed prompt: `pytest --optimize` may rewrite the live one.
    fixed = {"tasks": str(exported[0]), "prompt": str(ROOT / "tests/data/al_baseline_prompt.md")}
    config = load_config(ROOT / "pyproject.toml", fixed, suite="room_selector")
    loaded = room_suite(double=SimTransport).load(config, ROOT)
    assert [t.id for t in loaded.tasks] == [t.id for t in load_tasks(exported[0])]


def test_rooms_default_to_the_suites_rooms_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "default.jsonl"
    assert main(["export", "--count", "3", "--out", str(out)]) == 0
    assert "against evals/rooms/data/rooms.json" in capsys.readouterr().out
    assert len(load_tasks(out)) == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (["export", "--count", "0", "--out", "x.jsonl"], "argument --count: 0 is out of range; use 1 to 100000"),
        (["export", "--count", "many", "--out", "x.jsonl"], "argument --count: 'many' is not a whole number"),
        (["export", "--count", "3", "--seed", "1.5", "--out", "x.jsonl"], "argument --seed: '1.5' is not a whole number"),
        (["export", "--count", "3"], "the following arguments are required: --out"),
        (["import"], "argument command: invalid choice: 'import'"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_status_2(args, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_unusable_rooms_file_or_output_path_give_one_line_and_exit_status_1(tmp_path, capsys):
    assert main(["export", "--count", "3", "--out", str(tmp_path / "a.jsonl"), "--rooms", str(tmp_path / "none.json")]) == 1
    err = capsys.readouterr().err
    assert "none.json: rooms file not found" in err and err.count("\n") == 1
    assert main(["export", "--count", "3", "--out", str(tmp_path), "--rooms", str(ROOMS)]) == 1
    err = capsys.readouterr().err
    assert "cannot write" in err and err.count("\n") == 1
