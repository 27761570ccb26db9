"""The agent against the oracle on Hypothesis-generated edge-case tasks in the committed office.

A recording draws the tasks (shrinking included) and stores them beside their cassettes, in
cassettes/room_selector_generated/<model>/examples.jsonl; a plain `pytest` replays exactly those, whatever
Hypothesis version is installed. A live run (`--llm=...` without a record mode) explores more examples.
A failure shows the smallest failing task, here and in reports/scores.md.
"""

from replaygate import SuiteSetup
from evals.rooms.world import load_world
from evals.test_room_selector import ROOMS  # one suite, declared once: its cases there, its properties here


def edge_cases(setup: SuiteSetup):
    """Whole tasks, each with the oracle's answer, in the office the suite's settings name."""
    # Hypothesis and the strategies load when the test runs: collecting (or deselecting) it costs nothing.
    from evals.rooms.strategies import edge_tasks

    return edge_tasks(load_world(setup.path("rooms")))


@ROOMS.properties(edge_cases, examples=12, live_examples=60, group="room_selector_generated")
def test_agent_answers_generated_edge_cases_like_the_oracle(eval_property):
    eval_property.check()
