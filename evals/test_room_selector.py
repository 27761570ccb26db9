"""The room-selection suite: one test per task in the tasks file, scored by the graders."""

from evals.sim import SimTransport
from evals.rooms.suite import RoomSuite

SUITE = RoomSuite(double=SimTransport)


def test_room_task(eval_case):
    eval_case.check()
