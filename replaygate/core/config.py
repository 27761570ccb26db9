"""Settings from `[tool.replaygate]` in pyproject.toml, with environment and command-line overrides.

A suite's settings, lowest first: the harness defaults, `[tool.replaygate]`, the suite's own
`[tool.replaygate.suites.<name>]`, what the suite's code sets, then `--set KEY=VALUE` (every suite)
and `--set suites.<name>.KEY=VALUE` (that suite).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from replaygate.core.errors import InputError, read_input

ROLES = ("agent", "judge", "optimizer")


class ConfigError(InputError):
    pass


class Models(BaseModel):
    """Model name per role; `EVALS_AGENT_MODEL` / `EVALS_JUDGE_MODEL` override."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)
    agent: str = "sim-standin-1"
    judge: str = "sim-standin-1"
    # The critic and editor of prompt optimization; empty means the judge's model.
    optimizer: str = ""


class Azure(BaseModel):
    """Azure deployment per role; empty means the deployment is named like the model."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)
    agent_deployment: str = ""
    judge_deployment: str = ""
    optimizer_deployment: str = ""


class EvalConfig(BaseModel):
    # Extra keys are the suite's own settings (a rooms file, say); the suite checks them.
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    tasks: str = "tasks.jsonl"
    prompt: str = "prompts/agent.md"
    judge_prompt: str = "prompts/judge.md"
    cassettes: str = "cassettes"
    reports: str = "reports"
    baseline: str = "reports/baseline.json"
    max_turns: int = Field(2, ge=1, le=20)
    concurrency: int = Field(8, ge=1, le=512)
    seed: int = 0
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    # Read timeout of one model call; the connect timeout is apart, so a dead host costs seconds.
    timeout_s: float = Field(60.0, gt=0)
    connect_timeout_s: float = Field(5.0, gt=0)
    # Wall time of one case (every model call, tool and turn of it); a solver that hangs ends as an error.
    case_timeout_s: float = Field(600.0, gt=0)
    # The SDK's own retries of a failed call (connection errors, timeouts, 408, 409, 429, 5xx).
    max_retries: int = Field(2, ge=0, le=10)
    # Record error answers (429, 5xx, unreadable bodies) too, so a fault drill replays exactly.
    record_errors: bool = False
    # While a case runs, its code reaches no host outside the harness (replaygate.capture.guard); off for suites
    # that call other services on purpose, or name those hosts (`host` or `host:port`) in allow_hosts.
    network_guard: bool = True
    allow_hosts: list[str] = Field(default_factory=list)
    secret_env: list[str] = Field(default_factory=lambda: ["OPENAI_API_KEY", "AZURE_OPENAI_API_KEY"])
    models: Models = Field(default_factory=Models)
    azure: Azure = Field(default_factory=Azure)
    # Weight per grader name; empty means every grader of the suite counts equally.
    graders: dict[str, float] = Field(default_factory=dict)
    # The score a case needs to pass; unset means the pytest ini option eval_pass_threshold (default 0.8).
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    # [tool.replaygate.optimize]: read and checked by replaygate.optimize.settings, which the core does not need.
    optimize: dict[str, Any] = Field(default_factory=dict)
    # Top-level keys an option (as typed, `--set KEY=VALUE`) or the suite's code gave, so messages blame it, not the file.
    _given: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("tasks", "prompt", "judge_prompt", "cassettes", "reports", "baseline")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("an empty path would name the project folder itself")
        return value

    @field_validator("allow_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        for entry in value:
            if not entry.strip() or "/" in entry or " " in entry.strip():
                raise ValueError(f"{entry!r} is not a host; write a host name or address, optionally with :port "
                                 "(\"api.example.com\", \"127.0.0.1:8080\")")
        return value

    @field_validator("graders")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        for name, weight in value.items():
            if weight < 0:
                raise ValueError(f"weight of grader {name!r} is negative")
        if value and not any(weight > 0 for weight in value.values()):
            raise ValueError("no grader has a positive weight")
        return value

    @property
    def extras(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})

    def path(self, root: Path, key: str, default: str = "") -> Path:
        """A suite's own path setting (a rooms file, say), resolved like the harness's paths."""
        value = self.extras.get(key, getattr(self, key, default))
        if key in self.extras and not str(value).strip():
            where = self._given.get(key, f"[tool.replaygate] {key}")
            raise ConfigError(f"{where}: an empty path would name the project folder itself; give the path of a file"
                              f"{f' (default {default})' if default else ''}")
        return self.resolve(root, str(value or default))

    def given_by(self, key: str) -> str:
        """The option that gave this top-level key, as typed (`--set KEY=VALUE`), or "" when none did."""
        return self._given.get(key, "")

    def model_for(self, role: str) -> str:
        env = os.environ.get(f"EVALS_{role.upper()}_MODEL")
        if env:
            return env
        if role == "optimizer" and not self.models.optimizer:
            return self.model_for("judge")
        return getattr(self.models, role)

    def model_named(self, role: str) -> bool:
        """Whether the settings name the role's model (not only the default): then reports and cassettes use it."""
        if os.environ.get(f"EVALS_{role.upper()}_MODEL"):
            return True
        if role == "optimizer" and not self.models.optimizer:
            return self.model_named("judge")
        return role in self.models.model_fields_set

    def resolve(self, root: Path, value: str) -> Path:
        """A setting's path; relative to the working directory when under it, so messages stay short."""
        path = Path(value)
        if not path.is_absolute():
            path = root / path
        try:
            return path.relative_to(Path.cwd())
        except ValueError:
            return path


def _coerce(raw: str) -> Any:
    """Read a --set value as TOML when it parses, else as a plain string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Set dotted keys (`models.agent`, `graders.judge`) in a copy of `data`."""
    data = {key: (dict(value) if isinstance(value, dict) else value) for key, value in data.items()}
    for dotted, value in overrides.items():
        target = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(f"--set {dotted}: {part!r} is not a table; set a leaf key such as models.agent")
        target[leaf] = _coerce(value) if isinstance(value, str) else value
    return data


def merge_settings(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """`top` over `base`, table by table; a grader-weight table is replaced whole, never mixed."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping) and key != "graders":
            merged[key] = merge_settings(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_table(pyproject: Path | None) -> dict[str, Any]:
    """`[tool.replaygate]` of a pyproject file; an absent file or table gives {}."""
    if pyproject is None or not (pyproject.is_file() or pyproject.is_dir()):
        return {}
    text = read_input(pyproject, ConfigError, "pyproject file", "run from the project root", "TOML")
    try:
        tool = tomllib.loads(text).get("tool", {})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject}: invalid TOML ({exc}); fix the file") from None
    if not isinstance(tool, dict):
        raise ConfigError(f"{pyproject}: tool = {tool!r} must be a table; write [tool.replaygate] tables")
    table = tool.get("replaygate", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool] replaygate = {table!r} must be a table; write [tool.replaygate] and its keys")
    return table


def load_config(
    pyproject: Path | None,
    overrides: Mapping[str, Any] = (),
    suite: str | None = None,
    code: Mapping[str, Any] | None = None,
    sources: Mapping[str, str] | None = None,
) -> EvalConfig:
    """The settings of one suite (or, with no suite, the project's shared ones), validated.

    `sources` says how an override was typed when not as `--set KEY=VALUE` (`{"tasks": "--tasks evals"}`), for messages.
    """
    where = str(pyproject) if pyproject else "[tool.replaygate]"
    data = read_table(pyproject)
    suites = data.pop("suites", {})
    if not isinstance(suites, dict):
        raise ConfigError(f"{where}: [tool.replaygate] suites: must be a table of suite tables; write [tool.replaygate.suites.<name>]")
    overrides = dict(overrides)
    shared = {key: value for key, value in overrides.items() if not key.startswith("suites.")}
    own_prefix = f"suites.{suite}."
    own = {key[len(own_prefix):]: value for key, value in overrides.items() if suite and key.startswith(own_prefix)}
    table = "[tool.replaygate]"
    if suite is not None:
        own_table = suites.get(suite, {})
        if not isinstance(own_table, dict):
            raise ConfigError(f"{where}: [tool.replaygate.suites] {suite}: must be a table; write [tool.replaygate.suites.{suite}]")
        data = merge_settings(merge_settings(data, own_table), code or {})
        table = f"[tool.replaygate.suites.{suite}]" if own_table else table
    data = apply_overrides(apply_overrides(data, shared), own)
    given = _given_by(suite, code or {}, shared, own, own_prefix, sources or {})
    config = _validated(data, given, f"{where}: {table}")
    config._given = given
    return config


def _given_by(suite: str | None, code: Mapping[str, Any], shared: Mapping[str, Any], own: Mapping[str, Any],
              own_prefix: str, sources: Mapping[str, str]) -> dict[str, str]:
    """The option that set each top-level key, the suite's own override winning as it does in `load_config`."""
    # What the suite's code set is blamed on the code (a Suite argument), unless an option overrode it.
    argument = {"graders": "weights"}
    given = {key: f"Suite({suite!r}, {argument.get(key, key)}={value!r}) in code" for key, value in code.items()}
    given.update({dotted.split(".")[0]: sources.get(dotted, f"--set {dotted}={value}") for dotted, value in shared.items()})
    given.update({dotted.split(".")[0]: f"--set {own_prefix}{dotted}={value}" for dotted, value in own.items()})
    return given


def _validated(data: dict[str, Any], given: Mapping[str, str], where: str) -> EvalConfig:
    """The settings as an EvalConfig; the first invalid one in one line, blamed on the option that set it, else on
    `where` (the file and table it is in)."""
    try:
        return EvalConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "(table)"
        top = str(first["loc"][0]) if first["loc"] else ""
        what = first["msg"].removeprefix("Value error, ")  # pydantic's prefix for a validator's own message
        if top in given:
            raise ConfigError(f"{given[top]}: {key}: {what}; fix the value") from None
        raise ConfigError(f"{where} {key}: {what}; fix the setting or its --set override") from None
