"""One optimization run, end to end, without pytest: search, gate, write-back, history and report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from replaygate.core.changeset import Changeset
from replaygate.llm.backend import Backend
from replaygate.core.config import EvalConfig
from replaygate.core.errors import InputError
from replaygate.run.evaluation import Evaluation
from replaygate.core.prompt import load_prompt
from replaygate.cassettes.secrets import refuse_secrets, secrets_from_env, write_checked
from replaygate.core.suite import Suite
from replaygate.optimize.apo import APO
from replaygate.optimize.budget import Budget
from replaygate.optimize.cache import EvaluationCache
from replaygate.optimize.candidate import Candidate
from replaygate.optimize.document import build_document
from replaygate.optimize.evaluator import CandidateEvaluator
from replaygate.optimize.history import PromptHistory
from replaygate.optimize.optimizer_llm import OptimizerLLM
from replaygate.optimize.summary import render_optimization
from replaygate.optimize.search import Search, SearchResult
from replaygate.optimize.settings import OptimizeSettings


@dataclass
class OptimizationRun:
    result: SearchResult
    document: dict[str, Any]
    written: bool
    report_path: Path


def _strategy(settings: OptimizeSettings, config: EvalConfig, root: Path):
    if settings.strategy == "apo":
        critique = load_prompt(config.resolve(root, settings.critique_prompt), "the optimize.critique_prompt setting")
        edit = load_prompt(config.resolve(root, settings.edit_prompt), "the optimize.edit_prompt setting")
        critique.check(("prompt", "traces", "max_issues"))
        edit.check(("prompt", "critique", "placeholders", "max_chars"))
        return APO(settings.apo, critique, edit)
    from replaygate.optimize.evo import Evolution

    return Evolution(settings.evo, config, root, settings)


def check_report_owner(report_path: Path, suite: str, changes: Changeset) -> None:
    """Refuse to write over another suite's optimization report (a report setting without `{suite}`)."""
    for name in ("apo", "evo"):
        text = changes.read_text(report_path.with_suffix("") / f"{name}.json")
        try:
            owner = json.loads(text).get("suite") if text is not None else None
        except (ValueError, AttributeError):
            owner = None
        if owner is not None and owner != suite:
            raise InputError(f"{report_path}: holds the optimization report of suite {owner!r}, which suite {suite!r} "
                             "would overwrite; put {suite} in [tool.replaygate.optimize] report, e.g. "
                             "report = \"reports/optimization/{suite}.md\"")


def optimize(
    suite: Suite,
    config: EvalConfig,
    root: Path,
    backend: Backend,
    settings: OptimizeSettings,
    environ: Mapping[str, str],
    progress: Callable[[str], None] = lambda line: None,
    changes: Changeset | None = None,
) -> OptimizationRun:
    """Search from the live prompt; write it back only through the holdout gate. Ctrl-C writes nothing.

    Prompt, history and reports are staged in `changes` for its owner to commit; without one they are committed here, together.
    """
    if changes is None:
        return _in_own_changeset(Changeset(root), lambda own: optimize(
            suite, config, root, backend, settings, environ, progress, own))
    report_path = config.resolve(root, settings.report_path(suite.name))
    check_report_owner(report_path, suite.name, changes)  # before any rollout is paid for
    evaluation = Evaluation(suite, config, root, backend, "none", environ)
    secrets = tuple(secrets_from_env(config.secret_env, dict(environ)))
    strategy, result = _search(evaluation, config, root, settings, progress)
    facts = _facts(suite, strategy.name, evaluation, backend, config, settings, root)
    document = _document(result, facts, strategy)
    outputs = _report_outputs(document, strategy, report_path, changes)
    for path, body in outputs:  # before the history stages anything
        refuse_secrets(path, body, secrets)
    history = PromptHistory(config.resolve(root, settings.history), changes, secrets)
    written = _stage(history, outputs, result, evaluation.loaded.prompt.path, secrets, changes)
    history.append(_history_entry(facts, document, result, written))
    return OptimizationRun(result, document, written, report_path)


def _in_own_changeset(changes: Changeset, run: Callable[[Changeset], OptimizationRun]) -> OptimizationRun:
    """`run` staging into `changes`, committed when it returns and discarded after an error or Ctrl-C."""
    try:
        outcome = run(changes)
        changes.commit()
        return outcome
    finally:
        changes.discard()  # after an error or Ctrl-C; a no-op once committed


def _search(evaluation: Evaluation, config: EvalConfig, root: Path, settings: OptimizeSettings,
            progress: Callable[[str], None]):
    """The strategy the settings name, and what its search from the live prompt found."""
    budget = Budget(settings.budget)
    cache = EvaluationCache(config.resolve(root, settings.cache))
    evaluator = CandidateEvaluator(evaluation, cache, budget)
    llm = OptimizerLLM(evaluation.backend, config.model_for("optimizer"), budget, timeout_s=max(config.timeout_s, 60.0),
                       concurrency=config.concurrency)
    loaded = evaluation.loaded
    incumbent = Candidate(loaded.prompt.text)
    search = Search(settings, evaluator, llm, loaded.tasks, incumbent, loaded.placeholders, progress)
    strategy = _strategy(settings, config, root)
    return strategy, search.run(strategy)


def _facts(suite: Suite, strategy: str, evaluation: Evaluation, backend: Backend, config: EvalConfig,
           settings: OptimizeSettings, root: Path) -> dict[str, Any]:
    """What the report and the history record about the run's setting."""
    prompt_path = evaluation.loaded.prompt.path
    return {
        "suite": suite.name,
        "strategy": strategy,
        "prompt_path": str(prompt_path.relative_to(root) if prompt_path.is_relative_to(root) else prompt_path),
        "backend": evaluation.backend.label,  # under --llm=sim, the suite's own double by its own name
        "simulator": backend.is_simulator,
        "agent_model": config.model_for("agent"),
        "optimizer_model": config.model_for("optimizer"),
        "seed": settings.seed,
        "metric": settings.metric,
    }


def _document(result: SearchResult, facts: Mapping[str, Any], strategy) -> dict[str, Any]:
    document = build_document(result, facts)
    # Optional strategy hook: data for the report (operator statistics …).
    if hasattr(strategy, "extra"):
        document["strategy_data"] = strategy.extra()
    return document


def _report_outputs(document: dict[str, Any], strategy, report_path: Path, changes: Changeset) -> list[tuple[Path, str]]:
    """The report files to write: the run's JSON, the Markdown report and the strategy's own extra files."""
    json_path = report_path.with_suffix("") / f"{strategy.name}.json"
    # The other strategy's last run, as this session will leave it (it may have staged one already).
    others = [
        json.loads(text)
        for name in ("apo", "evo")
        if name != strategy.name and (text := changes.read_text(json_path.parent / f"{name}.json")) is not None
    ]
    text = render_optimization(document, others)
    payload = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    # Optional strategy hook: extra report files.
    artifacts = strategy.artifacts(document) if hasattr(strategy, "artifacts") else {}
    return [(json_path, payload), (report_path, text), *((json_path.parent / n, b) for n, b in artifacts.items())]


def _stage(history: PromptHistory, outputs: list[tuple[Path, str]], result: SearchResult, prompt_path: Path,
           secrets: Sequence[tuple[str, str]], changes: Changeset) -> bool:
    """Stage the reports and, past the gate, the new prompt with both versions kept: whether it was written back."""
    incumbent = result.search.incumbent
    if result.accepted:
        history.keep(prompt_path, incumbent.text, incumbent.version)
        history.keep(prompt_path, result.best.text, result.best.version)
    write_checked(outputs, secrets, changes)
    if result.accepted:
        history.write_back(prompt_path, result.best.text)
    return result.accepted


def _history_entry(facts: Mapping[str, Any], document: Mapping[str, Any], result: SearchResult,
                   written: bool) -> dict[str, Any]:
    incumbent = result.search.incumbent
    return {
        "prompt": facts["prompt_path"],
        "version": result.best.version if written else incumbent.version,
        "parent": incumbent.version,
        "candidate": result.best.version,
        "accepted": written,
        "optimizer": facts["strategy"],
        "model": facts["agent_model"],
        "optimizer_model": facts["optimizer_model"],
        "simulator": facts["simulator"],
        "seed": facts["seed"],
        "gate": document["gate"]["summary"] if document["gate"] else result.stopped,
        "scores": {"incumbent": document["incumbent"]["splits"], "candidate": document["best"]["splits"]},
        "budget": document["budget"],
    }
