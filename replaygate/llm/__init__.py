"""Reaching models: backends, the chat and tool-calling loops, the LLM judge, metering, throttling and prices."""
