"""Prompt optimization over a harness suite: the shared core (splits, cache, budget, lint, gate,
history) and the strategies that propose candidates (APO, evolutionary). No rooms, no pytest."""
