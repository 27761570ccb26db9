"""Command line: `python -m evals.sim --port P [--host H] [--latency-ms N]` serves the simulator over HTTP."""

from __future__ import annotations

import argparse
import signal
import sys

from .completion import MODEL_NAME
from .server import serve


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return number


def _announce(line: str) -> None:
    try:
        print(line, flush=True)
    except UnicodeEncodeError:
        # A non-UTF-8 console cannot show the dash; the line must still come out.
        print(line.replace("\u2014", "-"), flush=True)


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds serve_forever the same way Ctrl-C does


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evals.sim",
        description=f"Serve the offline simulator {MODEL_NAME} (not a real model) on an OpenAI-compatible HTTP API.",
    )
    parser.add_argument("--port", type=_non_negative, required=True, help="port to listen on; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--latency-ms", type=_non_negative, default=0, help="sleep this long in every request")
    args = parser.parse_args(argv)
    try:
        server = serve(args.host, args.port, args.latency_ms)
    except OSError as exc:
        print(f"evals.sim: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    _announce(f"evals.sim listening on {server.url} \u2014 offline simulator {MODEL_NAME}, not a real model")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
