"""Record and replay: one vcrpy cassette per case, its file format, matching, secret scrubbing and the audit."""
