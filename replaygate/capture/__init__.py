"""Capture: every model request a case makes, from the handed client, a client it builds, or a URL, goes through the harness."""
