"""The case model and the run: tasks, rollouts, scores, prompts, settings, and the concurrent runner."""
