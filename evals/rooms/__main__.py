"""Command line of the room domain.

`python -m evals.rooms export --count N --seed S --out FILE [--rooms FILE] [--force]`: edge-case tasks for an office;
`python -m evals.rooms office --seed S --out DIR [--count N] [--tie STYLE] [--force]`: a generated office and its tasks.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from replaygate import InputError
from evals.rooms.export import generate_tasks, write_tasks
from evals.rooms.offices import DEFAULT_TASKS, make_office, write_office
from evals.rooms.strategies import TIE_STYLES
from evals.rooms.suite import room_suite
from evals.rooms.world import load_world

MAX_COUNT = 100_000


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments end in one line naming the problem, not a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message}; see --help\n")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"{value} is out of range; use 1 to {MAX_COUNT}")
    return value


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _suite_rooms() -> Path:
    """The rooms file the suite uses: its `rooms` setting in ./pyproject.toml, else the suite's default."""
    return room_suite().path_setting("rooms", Path.cwd())


def _suite_tasks() -> Path:
    """The task file the suite runs: its tasks setting in ./pyproject.toml."""
    config = room_suite().config(Path.cwd())
    return config.resolve(Path.cwd(), config.tasks)


def _check_out(out: Path, force: bool) -> None:
    """Refuse to replace the suite's own tasks (ever) or any other existing file (without --force)."""
    if out.is_dir():
        raise InputError(f"{out}: cannot write (it is a folder); pick a file path as --out")
    existing = next((parent for parent in out.absolute().parents if parent.exists()), None)
    if existing is not None and not existing.is_dir():
        shown = os.path.relpath(existing) if existing.is_relative_to(Path.cwd()) else existing
        raise InputError(f"{out}: cannot write ({shown} is a file, not a folder); pick another --out")
    tasks = _suite_tasks()
    if os.path.abspath(out) == os.path.abspath(tasks) or (out.exists() and tasks.exists() and os.path.samefile(out, tasks)):
        raise InputError(f"{out}: is the suite's tasks file (the tasks setting in pyproject.toml), which export never "
                         "replaces; write to another --out and merge the tasks you want by hand")
    if out.exists() and not force:
        raise InputError(f"{out}: already exists; pass --force to replace it, or choose another --out")


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m evals.rooms", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    export = commands.add_parser(
        "export", help="write generated edge-case tasks with oracle answers and category tags as JSONL"
    )
    export.add_argument("--count", type=_count, required=True, help="how many tasks to write")
    export.add_argument("--seed", type=_seed, default=0, help="the same seed writes the same file (default 0)")
    export.add_argument("--out", type=Path, required=True, help="the JSONL file to write")
    export.add_argument("--rooms", type=Path, default=None, help="rooms file to draw against (default: the suite's)")
    export.add_argument("--force", action="store_true", help="replace --out if it exists (never the suite's own tasks file)")
    office = commands.add_parser(
        "office", help="write a generated office (DIR/rooms.json) and tasks against it with oracle answers (DIR/tasks.jsonl)"
    )
    office.add_argument("--seed", type=_seed, required=True, help="the same seed writes the same two files")
    office.add_argument("--out", type=Path, required=True, help="the folder to write rooms.json and tasks.jsonl into")
    office.add_argument("--count", type=_count, default=DEFAULT_TASKS, help=f"how many tasks (default {DEFAULT_TASKS})")
    office.add_argument("--tie", choices=TIE_STYLES, default=None,
                        help="what separates twin rooms (default: picked by the seed, so consecutive seeds differ)")
    office.add_argument("--force", action="store_true", help="replace rooms.json and tasks.jsonl in --out if they exist")
    args = parser.parse_args(argv)
    run = _office if args.command == "office" else _export
    try:
        return run(args)
    except InputError as exc:
        print(f"{parser.prog} {args.command}: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"{parser.prog} {args.command}: {args.out}: cannot write ({exc.strerror or exc}); pick another --out",
              file=sys.stderr)
    return 1


def _export(args: argparse.Namespace) -> int:
    _check_out(args.out, args.force)
    rooms = args.rooms or _suite_rooms()
    world = load_world(rooms)
    tasks, drawn_for = generate_tasks(world, args.count, args.seed)
    write_tasks(args.out, tasks)
    spread = ", ".join(f"{category} {n}" for category, n in drawn_for.items())
    print(f"wrote {len(tasks)} tasks against {rooms} to {args.out} ({spread})")
    if len(tasks) < args.count:
        print(f"note: this office offers only {len(tasks)} distinct edge-case tasks", file=sys.stderr)
    return 0


def _office(args: argparse.Namespace) -> int:
    if args.out.exists() and not args.out.is_dir():
        raise InputError(f"{args.out}: is a file; pick a folder as --out")
    taken = [args.out / name for name in ("rooms.json", "tasks.jsonl") if (args.out / name).exists()]
    if taken and not args.force:
        raise InputError(f"{taken[0]}: already exists; pass --force to replace it, or choose another --out")
    made = make_office(args.seed, args.count, args.tie)
    rooms, tasks = write_office(args.out, made)
    print(f"wrote {len(made.world.rooms)} rooms ({made.tie} ties, {', '.join(made.world.dates)}) to {rooms} "
          f"and {len(made.tasks)} tasks to {tasks}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
