"""CI shards: which cases a shard runs, and `python -m replaygate.results.shards merge` to report and gate them as one run.

    python -m replaygate.results.shards merge shard-1.json shard-2.json [--baseline PATH [--baseline-optional]] [--reports DIR]

writes scores.md and scores.json as a single run would, prints the gate verdict and exits
1 when the gate fails (2 on bad input, checked as pytest checks the same options).
"""

from __future__ import annotations

import os
import platform
import sys
import zlib
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Sequence

from replaygate.results.baseline import load_baseline
from replaygate.core.config import EvalConfig, load_config
from replaygate.core.errors import InputError, OneLineParser, check_file_destination, check_folder
from replaygate.results.gate import (DEFAULT_ALPHA, DEFAULT_MAX_REGRESSION, check_given_baseline, gate_settings,
                                     missing_baseline_note, older_format_note)
from replaygate.results.page import PAGE_NAME
from replaygate.results.page_data import page_sources
from replaygate.results.publish import compare_run, publish
from replaygate.results.results import merge_results, read_results
from replaygate.cassettes.secrets import secrets_from_env


def parse_shard(text: str) -> tuple[int, int]:
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = 0
    if not sep or not 1 <= i <= n:
        raise InputError(f"--shard {text}: expected I/N with 1 <= I <= N, e.g. --shard 1/2")
    return i, n


def in_shard(test_id: str, shard: tuple[int, int]) -> bool:
    """A stable split by test id: every machine and Python process puts a test in the same shard."""
    index, count = shard
    return zlib.crc32(test_id.encode("utf-8")) % count == index - 1


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("evals", "pytest", "openai", "hypothesis"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def merge(argv: Sequence[str]) -> int:
    args = _merge_parser().parse_args(argv)
    try:
        gate = gate_settings(args.max_regression, args.alpha)
        if args.baseline is not None:
            check_given_baseline(args.baseline, args.baseline_optional)
        config = load_config(Path("pyproject.toml"))
        reports = _reports_folder(args.reports, config)
        results = merge_results([(str(path), read_results(path)) for path in args.files])
        baseline_path = args.baseline or config.resolve(Path.cwd(), config.baseline)
        baseline = load_baseline(baseline_path)
        diffs = compare_run(results, baseline, gate, missing_baseline_note(baseline_path))
        publish(results, diffs, reports, secrets_from_env(config.secret_env, os.environ),
                os.environ.get("GITHUB_STEP_SUMMARY"),
                {"generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "versions": versions(),
                 "merged_from": [str(path) for path in args.files]},
                page=page_sources(Path.cwd(), config))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, diff in diffs.items():
        cases = len(results.suites[name].outcomes(results.min_passes))
        print(f"evals {name}: {cases} tasks merged from {len(args.files)} files -> {reports / 'scores.md'}")
        print(f"evals {name}: {diff.summary()}")
    if older_format_note(baseline):
        print(f"evals: {older_format_note(baseline)}")
    return 1 if any(diff.failed for diff in diffs.values()) else 0


def _merge_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m replaygate.results.shards merge",
                           description="Merge shards' --results-json files into one report and one gate verdict.")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--baseline", type=Path, help="baseline the gate compares with (default: [tool.replaygate] baseline)")
    parser.add_argument("--baseline-optional", action="store_true",
                        help="a missing --baseline file passes the gate with nothing to compare (a first PR) instead of an error")
    parser.add_argument("--reports", type=Path, help="where scores.md, scores.json and index.html go (default: [tool.replaygate] reports)")
    parser.add_argument("--max-regression", type=float, default=DEFAULT_MAX_REGRESSION)
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA)
    return parser


def _reports_folder(given: Path | None, config: EvalConfig) -> Path:
    """The folder the merged reports go to, refused at once if it or a report in it cannot be written."""
    reports = given or config.resolve(Path.cwd(), config.reports)
    source = "--reports" if given else "the reports setting (or --reports)"
    check_folder(reports, "reports", source)
    for name in ("scores.md", "scores.json", PAGE_NAME):
        check_file_destination(reports / name, "report", source)
    return reports


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "merge":
        print("usage: python -m replaygate.results.shards merge RESULTS.json [RESULTS.json ...] [--baseline PATH [--baseline-optional]] "
              "[--reports DIR]; see merge --help",
              file=sys.stderr)
        return 2
    return merge(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
