"""The run: a loaded suite, its backend, cassettes, capture and graders wired together, and its cases run concurrently."""
