"""A pytest session's settings, read once from plain values: its options, its ini value, pyproject and the environment.

No pytest here: the plugin turns pytest's config into a mapping of option values and calls `read_session_settings`.
It lives in `results/` because checking the gate's options and a given baseline is the results layer's work.
A bad value raises InputError with its one line; the plugin shows it as a usage error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from replaygate.core.config import EvalConfig, load_config
from replaygate.core.errors import InputError
from replaygate.llm.backend import Backend, resolve_backend
from replaygate.results.gate import DEFAULT_ALPHA, DEFAULT_MAX_REGRESSION, GateSettings, check_given_baseline, gate_settings

PASS_THRESHOLD_FIX = "set it to a score between 0 and 1, e.g. eval_pass_threshold = 0.8 in [tool.pytest.ini_options]"


@dataclass(frozen=True)
class SessionSettings:
    """What a session was asked to do; it never changes once read (--optimize derives a new one with `replace`)."""

    root: Path
    pyproject: Path
    environ: Mapping[str, str]
    overrides: Mapping[str, object]  # --set and the options of their own, as load_config takes them
    override_sources: Mapping[str, str]  # how each option of its own was typed, for messages
    config: EvalConfig  # the project's shared settings; each suite layers its own on top
    llm: str | None
    record_mode: str
    update_baseline: bool
    repeats: int
    min_passes: int | None
    gate: GateSettings
    shard: tuple[int, int] | None
    threshold: float
    results_json: str | None
    tasks_given: bool  # --tasks or --prompt name one suite's files
    prompt_given: bool
    baseline_path: Path
    gate_baseline_path: Path  # --baseline, or the committed baseline
    baseline_given: bool
    optimizing: bool  # --optimize: the search may write back the prompt, cassettes and its history
    started: float = field(default_factory=time.time)


def read_session_settings(options: Mapping[str, Any], pass_threshold: Any, inipath: Path | str | None, root: Path,
                          environ: Mapping[str, str]) -> SessionSettings:
    """Check and resolve the session's settings; `options` maps pytest's option names (dest) to their values.

    `pass_threshold` is the ini value eval_pass_threshold as pytest read it (None: pytest could not convert it).
    """
    overrides, sources = _overrides(options)
    repeats, min_passes = options.get("eval_repeat", 1), options.get("eval_min_passes")
    if repeats < 1:
        raise InputError(f"--repeat {repeats}: must be 1 or more; pass how many times to run each case")
    if min_passes is not None and not 1 <= min_passes <= repeats:
        raise InputError(f"--min-passes {min_passes}: must be between 1 and --repeat ({repeats})")
    gate = gate_settings(options.get("eval_max_regression", DEFAULT_MAX_REGRESSION), options.get("eval_alpha", DEFAULT_ALPHA))
    shard = None
    if options.get("eval_shard"):
        from replaygate.results.shards import parse_shard  # shards load the report writer: only when sharding

        shard = parse_shard(options["eval_shard"])
    threshold = _pass_threshold(pass_threshold, options.get("override_ini") or [], inipath)
    pyproject = root / "pyproject.toml"
    config = load_config(pyproject, overrides, sources=sources)
    baseline_path = config.resolve(root, config.baseline)
    given = options.get("eval_baseline")
    if given is not None:
        check_given_baseline(Path(given), bool(options.get("eval_baseline_optional")))
    return SessionSettings(
        root=root, pyproject=pyproject, environ=dict(environ), overrides=overrides, override_sources=sources,
        config=config, llm=options.get("llm"), record_mode=options.get("eval_record_mode") or "none",
        update_baseline=bool(options.get("update_baseline")), repeats=repeats, min_passes=min_passes, gate=gate,
        shard=shard, threshold=threshold, results_json=options.get("eval_results_json"),
        tasks_given=options.get("eval_tasks") is not None, prompt_given=options.get("eval_prompt") is not None,
        baseline_path=baseline_path, gate_baseline_path=Path(given) if given else baseline_path,
        baseline_given=given is not None, optimizing=bool(options.get("optimize")),
    )


def session_backend(settings: SessionSettings, recording: bool, optimizer: bool = False) -> Backend:
    """The backend a run (or, with `optimizer`, the prompt search and its re-record) answers from; the one resolution."""
    deployments = {"agent": settings.config.azure.agent_deployment, "judge": settings.config.azure.judge_deployment}
    if optimizer:
        deployments["optimizer"] = settings.config.azure.optimizer_deployment
    # The search always runs live: `auto` when no --llm is given.
    llm = (settings.llm or "auto") if optimizer else settings.llm
    return resolve_backend(llm, recording, settings.environ, deployments)


def _overrides(options: Mapping[str, Any]) -> tuple[dict[str, object], dict[str, str]]:
    """--set KEY=VALUE and the options of their own (--tasks, --prompt, ...), and how each of the latter was typed."""
    overrides: dict[str, object] = {}
    for item in options.get("eval_set") or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--set {item}: expected KEY=VALUE, e.g. --set models.agent=gpt-4.1-mini")
        overrides[key.strip()] = value
    for flag, option in (("--concurrency", "eval_concurrency"), ("--max-turns", "eval_max_turns")):
        value = options.get(option)
        if value is not None and value < 1:
            raise InputError(f"{flag} {value}: must be 1 or more; pass a positive whole number")
    sources: dict[str, str] = {}  # for messages
    for option, key in (("eval_tasks", "tasks"), ("eval_prompt", "prompt"), ("eval_concurrency", "concurrency"), ("eval_max_turns", "max_turns")):
        value = options.get(option)
        if value is not None:
            overrides[key] = value
            sources[key] = f"--{key.replace('_', '-')} {value}"
    return overrides, sources


def _pass_threshold(value: Any, override_ini: list[str], inipath: Path | str | None) -> float:
    """The ini option eval_pass_threshold: a score between 0 and 1."""
    typed = next((f"-o {o}" for o in override_ini if o.startswith("eval_pass_threshold=")), "")
    where = typed or f"{inipath or 'the pytest ini file'}: eval_pass_threshold"
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: not a number; {PASS_THRESHOLD_FIX}") from None
    if not 0.0 <= number <= 1.0:
        raise InputError(f"{where}: {number:g} is not a score between 0 and 1; {PASS_THRESHOLD_FIX}")
    return number
