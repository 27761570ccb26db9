"""`[tool.replaygate.optimize]`: the search's budget, splits, gate and each strategy's knobs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from replaygate.core.errors import InputError

STRATEGIES = ("apo", "evo")


class OptimizeConfigError(InputError):
    pass


class Splits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    train: float = Field(0.5, ge=0.0)
    validation: float = Field(0.25, gt=0.0)
    holdout: float = Field(0.25, gt=0.0)


class ApoSettings(BaseModel):
    """Agent Lightning's APO knobs, under their names."""

    model_config = ConfigDict(extra="forbid")
    beam_width: int = Field(2, ge=1, le=32)
    branch_factor: int = Field(2, ge=1, le=16)
    beam_rounds: int = Field(5, ge=1, le=50)
    gradient_batch_size: int = Field(4, ge=1, le=64)
    val_batch_size: int = Field(8, ge=1, le=512)


PACKAGED = Path(__file__).with_name("prompts")

EVO_OPERATORS = ("add_constraint", "add_example", "add_emphasis", "reorder_instructions", "simplify",
                 "reflect", "crossover")


class EvoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    children: int = Field(4, ge=1, le=64, description="children per generation, bred one after another")
    generations: int = Field(6, ge=1, le=100)
    minibatch: int = Field(6, ge=1, le=512, description="train tasks a child must beat its parent on")
    merges: int = Field(2, ge=0, le=64, description="merges of two frontier members a run may try")
    # Validation points lost per 1000 characters beyond the incumbent's length, in survival and tie-breaks.
    length_penalty: float = Field(0.05, ge=0.0, le=10.0)
    max_added: int = Field(3, ge=1, le=16, description="rules add_constraint adds at most at once")
    # Reflection and merge only, as the docs say. The benchmark's verdict: the heuristic operators rarely beat
    # their parent on a minibatch, and add_constraint's children cost rollouts a reflection spends better (it left
    # two of the room suite's seeds short of budget), so every heuristic operator is opt-in.
    operators: tuple[str, ...] = ("reflect", "crossover")
    # Off for a heuristic-only run: LLM operators (reflect, crossover) cost optimizer calls.
    llm_operators: bool = True
    # A critic reads the failing traces before each reflective rewrite (the critique_prompt; one more call).
    critic: bool = True
    reflect_prompt: str = str(PACKAGED / "reflect.md")
    crossover_prompt: str = str(PACKAGED / "crossover.md")

    @model_validator(mode="after")
    def _known_operators(self) -> "EvoSettings":
        unknown = [name for name in self.operators if name not in EVO_OPERATORS]
        if unknown or not self.operators:
            raise ValueError(f"unknown or no operators {unknown}; use some of {', '.join(EVO_OPERATORS)}")
        return self


class OptimizeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    strategy: str = "apo"
    budget: int = Field(300, ge=1, description="rollouts the search may spend, the holdout gate included")
    seed: int = 0
    splits: Splits = Field(default_factory=Splits)
    # Mixed into every task id's split hash; the search seed never is, so runs with other seeds share one holdout.
    split_salt: str = ""
    metric: str = "score"  # "score" is the weighted composite; or one grader's name
    min_gain: float = Field(0.05, ge=0.0, le=1.0)
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    max_chars: int = Field(2000, ge=50)
    patience: int = Field(2, ge=1, description="rounds without a better validation score before stopping")
    # The final pick: the top `finalists` on validation are re-run on `recheck` train tasks and the highest lower
    # bound (mean less `confidence_z` standard errors) wins; finalists = 1 keeps the best validation mean.
    finalists: int = Field(3, ge=1, le=16)
    recheck: int = Field(12, ge=0, le=512)
    confidence_z: float = Field(1.0, ge=0.0, le=5.0)
    max_issues: int = Field(4, ge=1)
    max_calls: int = Field(20, ge=0, description="optimizer calls (critic, editor, LLM operators, lint retries) a run may make")
    cache: str = ".evals/optimize-cache.jsonl"
    history: str = "prompts/history"
    # `{suite}` is the suite's name: each suite's report, and its runs' JSON beside it in a folder of the same name
    # (reports/optimization/<suite>/<strategy>.json), so no suite's run overwrites another's.
    report: str = "reports/optimization/{suite}.md"
    # The optimizer's own prompts ship with the harness; point these at files of yours to change them.
    critique_prompt: str = str(PACKAGED / "critique.md")
    edit_prompt: str = str(PACKAGED / "edit.md")
    apo: ApoSettings = Field(default_factory=ApoSettings)
    evo: EvoSettings = Field(default_factory=EvoSettings)

    @model_validator(mode="after")
    def _known_strategy(self) -> "OptimizeSettings":
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; use one of {', '.join(STRATEGIES)}")
        if not self.report.endswith(".md") or re.search(r"\{(?!suite\})", self.report):
            raise ValueError(f"report {self.report!r} must be a .md path whose only placeholder is {{suite}}")
        return self

    def report_path(self, suite: str) -> str:
        """The suite's optimization report; its runs' JSON documents go in the folder of the same name beside it."""
        return self.report.replace("{suite}", suite)


def load_settings(raw: Mapping[str, Any], where: str = "pyproject.toml") -> OptimizeSettings:
    try:
        return OptimizeSettings.model_validate(dict(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "(table)"
        raise OptimizeConfigError(
            f"{where}: [tool.replaygate.optimize] {key}: {first['msg']}; fix the setting or its --set optimize.{key}=… override"
        ) from None
