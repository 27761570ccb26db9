"""A pytest plugin for the interrupt tests' child sessions: `-p tests.interrupt_pause --pause-at=<step>`.

It hooks the harness's fault-injection point (`replaygate.core.changeset.CHECKPOINT_HOOKS`): at the named step
the session prints `replaygate: paused at <step>` and waits (once) for the test's signal, so it lands exactly there.
"""

from __future__ import annotations

import signal
import threading
import time

from replaygate.core.changeset import CHECKPOINT_HOOKS

PAUSE_S = 60.0


def pytest_addoption(parser):
    parser.addoption("--pause-at", help="the step (gate, cassette, report, switch) to pause at for a signal")


def pytest_configure(config):
    point = config.getoption("pause_at")
    if point:
        CHECKPOINT_HOOKS.append(Pause(point))


class Pause:
    def __init__(self, point: str):
        self.point, self.done = point, False

    def __call__(self, name: str) -> None:
        if name != self.point or self.done:
            return
        self.done = True
        print(f"replaygate: paused at {name}", flush=True)
        if threading.current_thread() is not threading.main_thread():
            time.sleep(PAUSE_S)  # only the main thread gets signals: the signal lands while this one waits
            return
        received: list[int] = []
        previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
        try:
            deadline = time.monotonic() + PAUSE_S
            while not received and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            signal.signal(signal.SIGINT, previous)
        if received:
            # Handled as the code around would have (asyncio's runner cancels its task, pytest's raises KeyboardInterrupt).
            if callable(previous):
                previous(signal.SIGINT, None)
            elif previous != signal.SIG_IGN:
                raise KeyboardInterrupt
