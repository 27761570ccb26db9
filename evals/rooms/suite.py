"""The room-selection suite, declared through replaygate's public API like any user's suite.

Tasks and prompt come from `[tool.replaygate.suites.room_selector]`; the suite's own setting
`rooms` names the office. `setup` loads it, checks every task's expected room against it, and
binds the agent and the graders to it.
"""

from __future__ import annotations

from typing import Any

from replaygate import Prompt, Rollout, Suite, SuiteSetup, Tool, tool_loop
from evals.rooms.answer import parse_choice
from evals.rooms.errors import TaskInputError
from evals.rooms.graders import HINTS, make_constraint_grader, make_exact_choice
from evals.rooms.request import RoomRequest, prompt_values
from evals.rooms.tool import TOOL_SPEC, get_rooms_and_availability
from evals.rooms.world import NO_ROOM, World, load_world

NAME = "room_selector"
PLACEHOLDERS = ("date", "time", "duration_min", "attendees", "needs", "accessible_required")
DEFAULT_ROOMS = "evals/rooms/data/rooms.json"


class RoomAgent:
    """The agent under test: one tool round against the office, then the room it names."""

    def __init__(self, world: World):
        self.world = world
        self.tool = Tool(TOOL_SPEC, lambda **args: get_rooms_and_availability(world, **args))

    async def __call__(self, request: RoomRequest, client: Any, prompt: Prompt) -> Rollout:
        rollout = await tool_loop(client, prompt, [self.tool])
        if rollout.error is None:
            rollout.answer, why = parse_choice(rollout.final_text, self.world.ids)
            if rollout.answer is None:
                rollout.fail("no_choice", f"no room chosen ({why})", hint=HINTS.answers["format"])
        return rollout


def _unbound(request: RoomRequest, client: Any, prompt: Prompt) -> Rollout:
    raise RuntimeError("the room suite runs only after setup has loaded its rooms file")


def with_office(suite: Suite, setup: SuiteSetup) -> Suite:
    """Load the rooms file, check each task's expected answer names one of its rooms, bind agent and graders."""
    rooms_path = setup.path("rooms")
    world = load_world(rooms_path)
    known = set(world.ids)
    for task in setup.tasks:
        if not isinstance(task.expected, str) or not task.expected.strip():
            raise TaskInputError(f'{task.source}: task {task.id!r} has no "expected_choice" string; add the expected room')
        if task.expected != NO_ROOM and task.expected not in known:
            raise TaskInputError(
                f"{task.source}: task {task.id!r}: expected_choice {task.expected!r} is not a room in "
                f"{rooms_path}; use one of its room ids or \"{NO_ROOM}\""
            )
    return suite.replace(
        solver=RoomAgent(world),
        graders={"exact_choice": make_exact_choice(world), "constraints": make_constraint_grader(world)},
    )


def describe(rollout: Rollout) -> str:
    if rollout.answer is not None:
        return rollout.answer
    return f"— ({rollout.error_kind or 'no answer'})"


def room_suite(double: Any = None) -> Suite:
    """The suite; `double` is its offline model under --llm=sim (this repo passes the room simulator)."""
    return Suite(
        name=NAME,
        solver=_unbound,
        input_model=RoomRequest.from_input,
        values=prompt_values,
        settings={"rooms": DEFAULT_ROOMS},
        setup=with_office,
        describe=describe,
        double=double,
    )
