"""Repository-wide pytest setup: the harness plugin and Hypothesis profiles."""

import os

from hypothesis import settings

# The harness's pytest plugins: the suite (options, eval_case, baseline xfails, reports) and --optimize.
pytest_plugins = ["evals.plugin", "evals.optimize_plugin"]

# CI runs are reproducible: fixed examples, no example database carried between runs.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
