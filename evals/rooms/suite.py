"""The room-selection suite: rooms, tasks and prompt from files, the agent, and its graders."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping, Sequence

import openai

from replaygate.llm.agent import Decoding, Tool, run_tool_loop
from replaygate.core.config import EvalConfig
from replaygate.core.prompt import PromptTemplate, load_prompt
from replaygate.core.rollout import Rollout
from replaygate.core.runner import Solver
from replaygate.core.score import Grader
from replaygate.core.suite import HeadersFor
from replaygate.core.task import Task, load_tasks
from evals.rooms.answer import parse_choice
from evals.rooms.errors import TaskInputError
from evals.rooms.graders import HINTS, make_constraint_grader, make_exact_choice
from evals.rooms.request import RoomRequest, prompt_values
from evals.rooms.tool import TOOL_SPEC, get_rooms_and_availability
from evals.rooms.world import NO_ROOM, World, load_world

PLACEHOLDERS = ("date", "time", "duration_min", "attendees", "needs", "accessible_required")


@dataclass(frozen=True)
class LoadedRoomSuite:
    tasks: Sequence[Task]
    prompt: PromptTemplate
    world: World
    requests: Mapping[str, RoomRequest]
    placeholders: Sequence[str] = PLACEHOLDERS

    def with_prompt(self, prompt: PromptTemplate) -> "LoadedRoomSuite":
        prompt.check(self.placeholders)
        return replace(self, prompt=prompt)

    def solver(self, client: openai.AsyncOpenAI, decoding: Decoding, headers_for: HeadersFor) -> Solver:
        world = self.world
        tool = Tool(TOOL_SPEC, lambda **args: get_rooms_and_availability(world, **args))

        async def solve(task: Task, repeat: int) -> Rollout:
            messages = self.prompt.render(prompt_values(self.requests[task.id]))
            rollout = await run_tool_loop(
                client, decoding, messages, [tool], task_id=task.id, repeat=repeat,
                extra_headers=headers_for(task, repeat),
            )
            if rollout.error is None:
                rollout.answer, why = parse_choice(rollout.final_text, world.ids)
                if rollout.answer is None:
                    rollout.fail("no_choice", f"no room chosen ({why})", hint=HINTS.answers["format"])
            return rollout

        return solve

    def graders(self) -> Mapping[str, Grader]:
        return {"exact_choice": make_exact_choice(self.world), "constraints": make_constraint_grader(self.world)}

    def describe(self, rollout: Rollout) -> str:
        if rollout.answer is not None:
            return rollout.answer
        return f"— ({rollout.error_kind or 'no answer'})"


class RoomSuite:
    name = "room_selector"
    settings = {"rooms": "evals/rooms/data/rooms.json"}

    def __init__(self, double=None):
        # The offline model under --llm=sim: a transport factory (the room simulator, in this repo).
        self.double = double

    def load(self, config: EvalConfig, root: Path) -> LoadedRoomSuite:
        rooms_path = config.resolve(root, str(config.extras.get("rooms", self.settings["rooms"])))
        world = load_world(rooms_path)
        tasks = load_tasks(config.resolve(root, config.tasks))
        requests = {task.id: RoomRequest.from_task(task) for task in tasks}
        known = set(world.ids)
        for task in tasks:
            if task.expected != NO_ROOM and task.expected not in known:
                raise TaskInputError(
                    f"{task.source}: task {task.id!r}: expected_choice {task.expected!r} is not a room in "
                    f"{rooms_path}; use one of its room ids or \"{NO_ROOM}\""
                )
        prompt = load_prompt(config.resolve(root, config.prompt))
        prompt.check(PLACEHOLDERS)
        return LoadedRoomSuite(tasks=tasks, prompt=prompt, world=world, requests=requests)
