"""Repository-wide pytest setup: the harness plugin and Hypothesis profiles."""

import os

from hypothesis import settings

# The harness's pytest plugin: options, the eval_case fixture, baseline xfails and reports.
pytest_plugins = ["evals.plugin"]

# CI runs are reproducible: fixed examples, no example database carried between runs.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
