"""The harness core: tasks, rollouts, scores, cassettes and reports.

Plain Python; it knows nothing about rooms and nothing about pytest.
"""
