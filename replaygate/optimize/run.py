"""One optimization run, end to end, without pytest: search, gate, write-back, history and report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

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
        changes = Changeset(root)
        try:
            run = optimize(suite, config, root, backend, settings, environ, progress, changes)
            changes.commit()
            return run
        finally:
            changes.discard()  # after an error or Ctrl-C; a no-op once committed
    report_path = config.resolve(root, settings.report_path(suite.name))
    check_report_owner(report_path, suite.name, changes)  # before any rollout is paid for
    evaluation = Evaluation(suite, config, root, backend, "none", environ)
    secrets = tuple(secrets_from_env(config.secret_env, dict(environ)))
    budget = Budget(settings.budget)
    cache = EvaluationCache(config.resolve(root, settings.cache))
    evaluator = CandidateEvaluator(evaluation, cache, budget)
    llm = OptimizerLLM(evaluation.backend, config.model_for("optimizer"), budget, timeout_s=max(config.timeout_s, 60.0),
                       concurrency=config.concurrency)
    loaded = evaluation.loaded
    incumbent = Candidate(loaded.prompt.text)
    search = Search(settings, evaluator, llm, loaded.tasks, incumbent, loaded.placeholders, progress)
    strategy = _strategy(settings, config, root)
    result = search.run(strategy)

    prompt_path = loaded.prompt.path
    facts = {
        "suite": suite.name,
        "strategy": strategy.name,
        "prompt_path": str(prompt_path.relative_to(root) if prompt_path.is_relative_to(root) else prompt_path),
        "backend": evaluation.backend.label,  # under --llm=sim, the suite's own double by its own name
        "simulator": backend.is_simulator,
        "agent_model": config.model_for("agent"),
        "optimizer_model": config.model_for("optimizer"),
        "seed": settings.seed,
        "metric": settings.metric,
    }
    document = build_document(result, facts)
    # Optional strategy hooks: data for the report (operator statistics …) and extra report files.
    if hasattr(strategy, "extra"):
        document["strategy_data"] = strategy.extra()
    json_path = report_path.with_suffix("") / f"{strategy.name}.json"
    # The other strategy's last run, as this session will leave it (it may have staged one already).
    others = [
        json.loads(text)
        for name in ("apo", "evo")
        if name != strategy.name and (text := changes.read_text(json_path.parent / f"{name}.json")) is not None
    ]
    text = render_optimization(document, others)
    payload = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    artifacts = strategy.artifacts(document) if hasattr(strategy, "artifacts") else {}
    outputs = [(json_path, payload), (report_path, text), *((json_path.parent / n, b) for n, b in artifacts.items())]
    for path, body in outputs:  # before the history stages anything
        refuse_secrets(path, body, secrets)
    history = PromptHistory(config.resolve(root, settings.history), changes, secrets)
    written = False
    if result.accepted:
        history.keep(prompt_path, incumbent.text, incumbent.version)
        history.keep(prompt_path, result.best.text, result.best.version)
    write_checked(outputs, secrets, changes)
    if result.accepted:
        history.write_back(prompt_path, result.best.text)
        written = True
    history.append({
        "prompt": facts["prompt_path"],
        "version": result.best.version if written else incumbent.version,
        "parent": incumbent.version,
        "candidate": result.best.version,
        "accepted": written,
        "optimizer": strategy.name,
        "model": facts["agent_model"],
        "optimizer_model": facts["optimizer_model"],
        "simulator": backend.is_simulator,
        "seed": settings.seed,
        "gate": document["gate"]["summary"] if document["gate"] else result.stopped,
        "scores": {"incumbent": document["incumbent"]["splits"], "candidate": document["best"]["splits"]},
        "budget": document["budget"],
    })
    return OptimizationRun(result, document, written, report_path)
