"""Pytest-native evaluation and prompt-optimization harness for LLM agents."""
