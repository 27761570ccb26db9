"""Command line: `python -m evals.sim --port P [--host H] [--latency-ms N]` serves the simulator over HTTP;
`--fault-rate R [--faults KINDS] [--fault-seed S] [--retry-after N] [--hang-s N]` injects faults."""

from __future__ import annotations

import argparse
import signal
import sys

from .completion import MODEL_NAME
from .faults import KINDS, FaultPlan, parse_kinds
from .server import SimServer, serve


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments end in one line naming the option and the fix, not a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message}; see --help\n")


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return number


def _port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number; use 0 to 65535 (0 picks a free one)") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is out of range; use 0 to 65535 (0 picks a free one)")
    return number


def _rate(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number; use e.g. 0.2") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..1; use e.g. 0.2 for one request in five")
    return number


def _kinds(value: str) -> tuple[str, ...]:
    try:
        return parse_kinds(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not number > 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return number


def _announce(line: str) -> None:
    try:
        print(line, flush=True)
    except UnicodeEncodeError:
        # A non-UTF-8 console cannot show the dash; the line must still come out.
        print(line.replace("\u2014", "-"), flush=True)


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds serve_forever the same way Ctrl-C does


def parser() -> argparse.ArgumentParser:
    out = OneLineParser(
        prog="python -m evals.sim",
        description=f"Serve the offline simulator {MODEL_NAME} (not a real model) on an OpenAI-compatible HTTP API.",
    )
    out.add_argument("--port", type=_port, required=True, help="port to listen on, 0 to 65535; 0 picks a free one")
    out.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    out.add_argument("--latency-ms", type=_non_negative, default=0, help="sleep this long in every request")
    out.add_argument("--api-key", default="", metavar="KEY",
                     help="answer requests without this key (bearer or api-key header) with OpenAI's 401 (default: any key)")
    faults = out.add_argument_group("fault injection", "decided per request from the seed, the body's sha256 "
                                    "and how often that body was sent before, so a run repeats and a retry can succeed")
    faults.add_argument("--fault-rate", type=_rate, default=0.0, metavar="R", help="share of chat requests that get a fault, 0..1 (default 0: none)")
    faults.add_argument("--faults", type=_kinds, default=KINDS, metavar="KINDS",
                        help=f"comma-separated kinds to draw from (default: all of {', '.join(KINDS)})")
    faults.add_argument("--fault-seed", type=int, default=0, metavar="S", help="seed of the fault draws (default 0)")
    faults.add_argument("--retry-after", type=_non_negative, default=1, metavar="SECONDS", help="Retry-After seconds sent with a 429 (default 1)")
    faults.add_argument("--hang-s", type=_seconds, default=30.0, metavar="SECONDS", help="how long a hang fault stalls before answering (default 30)")
    return out


def fault_plan(args: argparse.Namespace) -> FaultPlan:
    return FaultPlan(rate=args.fault_rate, kinds=args.faults, seed=args.fault_seed,
                     retry_after_s=args.retry_after, hang_s=args.hang_s)


def _fault_summary(server: SimServer) -> str:
    counts = server.fault_counts
    return "evals.sim faults injected: " + (", ".join(f"{k}={n}" for k, n in counts.items()) or "none")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    plan = fault_plan(args)
    try:
        server = serve(args.host, args.port, args.latency_ms, plan, args.api_key)
    except (OSError, OverflowError, UnicodeError) as exc:
        # A taken port, an address this host does not have, a host name that cannot be encoded: one line each.
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        print(f"evals.sim: cannot listen on {args.host}:{args.port}: {reason}; pass another --host or --port "
              "(--port 0 picks a free one)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    _announce(f"evals.sim listening on {server.url} \u2014 offline simulator {MODEL_NAME}, not a real model")
    if plan.active:
        _announce(f"evals.sim injecting faults into {plan.rate:g} of chat requests: {','.join(plan.kinds)}; "
                  f"seed {plan.seed}, retry-after {plan.retry_after_s} s, hang {plan.hang_s:g} s; "
                  f"counts at {server.url}/_faults")
    elif args.faults != KINDS:
        print("evals.sim: --faults has no effect without --fault-rate above 0", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if plan.active:
            _announce(_fault_summary(server))
    return 0


if __name__ == "__main__":
    sys.exit(main())
