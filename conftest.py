"""Repository-wide pytest setup: Hypothesis profiles. The harness plugin loads through its pytest11 entry point."""

import os

from hypothesis import settings

# CI runs are reproducible: fixed examples, no example database carried between runs.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
