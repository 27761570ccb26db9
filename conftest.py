"""Repository-wide pytest setup: Hypothesis profiles. The harness plugin loads through its pytest11 entry point."""

import os

from hypothesis import HealthCheck, settings

# CI runs are reproducible: fixed examples, no example database carried between runs.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
# CI's second look at the property tests under tests/ (.ci/run): a fresh random seed each run, printed so a
# failure replays, no database, every example each test asks for (a plain run draws a share: tests/conftest.py)
# and 4x the default for a test that does not say. Built on Hypothesis's defaults, not on
# whichever profile is loaded, so a local replay draws what CI drew; too_slow is off for shared runners.
settings.register_profile(
    "explore", settings.get_profile("default"), derandomize=False, database=None, max_examples=400,
    deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
