"""The agent against the oracle on Hypothesis-generated edge-case tasks in the committed office.

Replay and recording runs are derandomized: a recording captures every task Hypothesis tries,
shrinking included, and a plain `pytest` replays them from cassettes/room_selector_generated/.
A live run (`--llm=...` without a record mode) has no cassettes to match, so it explores freely.
A failure shows the smallest failing task, here and in reports/scores.md.
"""

import pytest

from replaygate import CaseBelowThreshold, CassetteMiss, write_text_atomic
from evals.rooms.suite import room_suite
from evals.rooms.world import load_world
from evals.sim import SimTransport

# Not marked with .cases: the plugin would then parametrize this test with the suite's own tasks.
ROOMS = room_suite(double=SimTransport)
GROUP = "room_selector_generated"
REPLAY_EXAMPLES = 12
LIVE_EXAMPLES = 60
# Replay and recording draw from this seed, not from a digest of the test's source: editing the
# test's text must not move the examples away from the recorded cassettes.
REPLAY_SEED = 20261202


@pytest.mark.eval_property
def test_agent_answers_generated_edge_cases_like_the_oracle(eval_runner, request):
    # Hypothesis and the strategies load when the test runs: collecting (or deselecting) it costs nothing.
    import hypothesis
    from hypothesis import HealthCheck, given, settings

    from evals.rooms.export import task_line
    from evals.rooms.strategies import edge_tasks

    mode = eval_runner.mode(ROOMS)
    live = mode == "live"
    world = load_world(eval_runner.setup(ROOMS).path("rooms"))
    # Another Hypothesis version may derandomize to other tasks: a recording notes its version.
    note = eval_runner.cassette_folder(ROOMS, GROUP) / "hypothesis-version.txt"
    if mode == "record":
        write_text_atomic(note, hypothesis.__version__ + "\n")
    recorded_with = note.read_text(encoding="utf-8").strip() if note.is_file() else hypothesis.__version__

    @settings(
        derandomize=not live,
        database=None,
        max_examples=LIVE_EXAMPLES if live else REPLAY_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(task=edge_tasks(world))
    def agent_matches_oracle(task):
        [result] = eval_runner.run(ROOMS, [task], group=GROUP)
        if isinstance(result.failure, CassetteMiss) and recorded_with != hypothesis.__version__:
            pytest.fail(
                f"{note}: these cassettes were recorded with Hypothesis {recorded_with}, this is "
                f"{hypothesis.__version__}, which may generate other tasks; install hypothesis=={recorded_with} "
                f"or re-record with: pytest '{request.node.nodeid}' --eval-record-mode=all",
                pytrace=False,
            )
        if result.failure is None and not result.passed(eval_runner.threshold(ROOMS)):
            # Hypothesis replays the shrunk task last, so the report ends up showing the smallest one.
            eval_runner.note_failure(ROOMS, result)
        try:
            eval_runner.check(result, request.node.nodeid)
        except CaseBelowThreshold as below:
            # Only the message is shown (no traceback, so none of Hypothesis's notes): it names the task.
            raise CaseBelowThreshold(f"{below.msg}\n  task: {task_line(task)}") from None

    if not live:
        agent_matches_oracle = hypothesis.seed(REPLAY_SEED)(agent_matches_oracle)
    agent_matches_oracle()
