"""replaygate: pytest-native evaluation and prompt optimization for LLM agents, replayed offline."""
