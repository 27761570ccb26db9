"""The room-selection suite: one test per task of its tasks file, scored by its graders.

Offline, the room simulator (evals/sim, a stand-in, not a real model) is the suite's double.
"""

from evals.rooms.suite import room_suite
from evals.sim import SimTransport

ROOMS = room_suite(double=SimTransport)


@ROOMS.cases
def test_room_task(eval_case):
    eval_case.check()
