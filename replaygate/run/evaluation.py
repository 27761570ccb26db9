"""One evaluation run: a loaded suite, a backend, cassettes, graders and the runner, wired together."""

from __future__ import annotations

import asyncio
import json
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from replaygate.llm.backend import Backend
from replaygate.cassettes.cassette import CaseKey
from replaygate.core.config import EvalConfig
from replaygate.core.errors import InputError
from replaygate.llm.metering import Meter
from replaygate.core.prompt import PromptTemplate, load_prompt
from replaygate.core.rollout import Rollout
from replaygate.run.runner import CaseResult, evaluate
from replaygate.core.suite import LoadedSuite, Suite
from replaygate.core.task import Task

if TYPE_CHECKING:
    import httpx2

    from replaygate.cassettes.cassette import CassetteLibrary
    from replaygate.llm.breaker import Breaker
    from replaygate.llm.throttle import AdaptiveLimit

JUDGE = "judge"


@dataclass(frozen=True)
class RunInfo:
    """What the report header says about a run."""

    suite: str
    mode: str  # replay, live or record
    backend: str
    is_simulator: bool
    agent_model: str
    judge_model: str
    prompt_path: str
    prompt_version: str
    record_mode: str
    http: str = ""  # what the service did (attempts, retries, failures); live and record runs only
    grader_weights: dict[str, float] = field(default_factory=dict)
    threshold: float | None = None  # the suite's own pass threshold; None: the session's eval_pass_threshold

    @classmethod
    def from_json(cls, text: str) -> "RunInfo":
        return cls(**json.loads(text))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class Evaluation:
    """A suite's inputs, loaded and checked once, and the way to run its cases against a backend."""

    suite: Suite
    config: EvalConfig
    root: Path
    backend: Backend
    record_mode: str = "none"
    environ: Mapping[str, str] = field(default_factory=dict)
    config_source: str = "pyproject.toml"  # the file the settings came from, for messages
    loaded: LoadedSuite = field(init=False)
    simulator_seen: bool = field(init=False, default=False)
    meter: Meter = field(init=False, default_factory=Meter)
    # Kept across runs, so an xdist worker running case by case stops trying a dead endpoint too.
    breaker: Breaker | None = field(init=False, default=None)
    limit: AdaptiveLimit | None = field(init=False, default=None)
    judge_template: PromptTemplate | None = field(init=False, default=None)
    # Runs with `reuse` share this loop (in its own thread) and this Wiring (clients, cassettes) until `close`.
    _loop: LoopThread | None = field(init=False, default=None, repr=False)
    _wiring: Wiring | None = field(init=False, default=None, repr=False)
    _labels: dict[tuple[str, str], str] = field(init=False, default_factory=dict, repr=False)  # per role and folder
    report_group: str | None = field(init=False, default=None, repr=False)  # whose recordings name the report's model

    def __post_init__(self) -> None:
        unknown = sorted(set(self.config.extras) - set(self.suite.settings))
        if unknown:
            raise InputError(self._unknown_setting(unknown[0]))
        self.backend = self.backend.with_double(self.suite.double, self.suite.name)
        self.loaded = self.suite.load(self.config, self.root)
        own = self.loaded.graders()
        available = set(own) | {JUDGE}
        for name in self.config.graders:
            if name not in available:
                raise InputError(
                    f"{self.config_source}: grader weights of suite {self.suite.name!r}: {name}: no such grader; "
                    f"use one of {', '.join(sorted(available))}"
                )
        if not own and not self.uses_judge:
            raise InputError(f"suite {self.suite.name!r} has no graders; pass graders= to its Suite")
        if self.uses_judge:
            self.judge_template = load_prompt(self.config.resolve(self.root, self.config.judge_prompt), "the judge_prompt setting")

    def _unknown_setting(self, key: str) -> str:
        """One line for a key neither the harness nor the suite knows: the table it is in, and the nearest known key."""
        import difflib

        from replaygate.core.config import EvalConfig, read_table

        table = "[tool.replaygate]"
        if self.config_source.endswith(".toml") and Path(self.config_source).is_file():
            own = read_table(Path(self.config_source)).get("suites", {}).get(self.suite.name, {})
            if isinstance(own, dict) and key in own:
                table = f"[tool.replaygate.suites.{self.suite.name}]"
        where = self.config.given_by(key) or f"{self.config_source}: {table} {key}"
        known = sorted({*EvalConfig.model_fields, *self.suite.settings, "suites"})
        near = difflib.get_close_matches(key, known, n=1)
        fix = f"did you mean {near[0]}?" if near else "fix the key"
        own_keys = ", ".join(sorted(self.suite.settings)) or "none"
        return f"{where}: not a setting of the harness or of suite {self.suite.name!r} (suite settings: {own_keys}); {fix}"

    @property
    def uses_judge(self) -> bool:
        """The Agent Lightning-compatible judge (judge_prompt): weighted, and no grader of the suite is named judge."""
        return self.config.graders.get(JUDGE, 0) > 0 and JUDGE not in self.loaded.graders()

    @property
    def model_graded(self) -> bool:
        """Whether a grader of the suite calls the judge model (graders.Judge, say)."""
        return any(getattr(grader, "needs_model", False) for name, grader in self.loaded.graders().items()
                   if name in self.weights)

    @property
    def weights(self) -> dict[str, float]:
        """Weight per grader that runs; with no weights set, every grader of the suite counts equally."""
        if self.config.graders:
            return {name: weight for name, weight in self.config.graders.items() if weight > 0 or name in self.loaded.graders()}
        return {name: 1.0 for name in self.loaded.graders()}

    @property
    def mode(self) -> str:
        if self.backend.kind == "replay":
            return "replay"
        return "record" if self.record_mode != "none" else "live"

    def info(self) -> RunInfo:
        prompt = self.loaded.prompt
        path = prompt.path.relative_to(self.root) if prompt.path.is_relative_to(self.root) else prompt.path
        return RunInfo(
            suite=self.suite.name,
            mode=self.mode,
            backend=self.backend.label,
            is_simulator=self.backend.is_simulator or self.simulator_seen,
            agent_model=self.model_label("agent", self.report_group or None),
            judge_model=self.model_label(JUDGE) if self.uses_judge or self.model_graded else "",
            prompt_path=str(path),
            prompt_version=prompt.version,
            record_mode=self.record_mode,
            http=self.service_summary(),
            grader_weights=dict(sorted(self.weights.items())),
            threshold=self.config.threshold,
        )

    def service_summary(self) -> str:
        if not self.meter.attempts:
            return ""
        cuts = f"; concurrency halved {self.limit.cuts} times on 429" if self.limit and self.limit.cuts else ""
        return self.meter.summary() + cuts

    def case_key(self, task: Task, repeat: int, group: str | None = None) -> CaseKey:
        return CaseKey(group or self.suite.name, self.model_label("agent", group), task.id, repeat)

    def model_label(self, role: str, group: str | None = None) -> str:
        """What the report and the cassette folders call a role's model (`Backend.model_labels`).

        A replay cannot tell what recorded: it takes the first label whose folder holds this suite's (or `group`'s)
        recordings, else their only recorded folder (an Azure run replayed where no Azure variable is set), else
        the configured model's."""
        key = (role, group or self.suite.name)
        if key not in self._labels:
            from replaygate.llm.backend import role_deployments

            config = self.config
            deployments = role_deployments(self.environ, {"agent": config.azure.agent_deployment,
                                                          "judge": config.azure.judge_deployment})
            labels = self.backend.model_labels(role, config.model_for(role), config.model_named(role),
                                               self.suite.double, deployments)
            if self.backend.kind == "replay" and not config.model_named(role):
                root = config.resolve(self.root, config.cassettes)
                found = [label for label in labels if (root / CaseKey(key[1], label, "-").folder).is_dir()]
                folder = (root / CaseKey(key[1], "-", "-").folder).parent
                recorded = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
                labels = found or (recorded if len(recorded) == 1 else labels[-1:])
            self._labels[key] = labels[0]
        return self._labels[key]

    def run(
        self,
        tasks: Sequence[Task],
        repeats: int = 1,
        on_result: Callable[[CaseResult], None] | None = None,
        loaded: LoadedSuite | None = None,
        group: str | None = None,
        reuse: bool = False,
    ) -> list[CaseResult]:
        """Run cases; `loaded` and `group` run tasks from elsewhere (generated ones, say) under their own cassette folder.

        `reuse`: run on this evaluation's own event loop with the clients and cassette library of its earlier
        `reuse` runs, kept until `close`; a batch of one case (a generated example) then costs what a case
        of a large batch costs.
        """
        if group is None or self.report_group is None:
            # The suite's own cases ("") name the report's model; a suite whose only test is a property, its group.
            self.report_group = "" if group is None or self.report_group == "" else group
        coroutine = self.run_async(tasks, repeats, on_result, loaded, group)
        if not reuse:
            return asyncio.run(coroutine)
        if self._loop is None:
            self._loop = LoopThread()
        return self._loop.run(coroutine)

    def close(self) -> None:
        """Close what `reuse` runs kept: the clients, then the loop and its thread."""
        loop, wiring = self._loop, self._wiring
        self._loop = self._wiring = None
        if loop is None:
            return
        try:
            if wiring is not None:
                loop.run(wiring.aclose())
        finally:
            loop.close()

    def preload(self) -> None:
        """Import what a run uses (the SDK, vcrpy when replaying or recording) now rather than at its first request."""
        import replaygate.run.solver  # noqa: F401
        import replaygate.llm.chat  # noqa: F401 - the SDK and its chat types
        import replaygate.llm.judge_model  # noqa: F401

        if self.mode != "live":
            import vcr.cassette  # noqa: F401

    def wire(self) -> Wiring:
        """The transports, cassette library and SDK clients a run sends through (the SDK loads here)."""
        import httpx2

        from replaygate.cassettes.cassette import CassetteLibrary, OfflineTransport
        from replaygate.cassettes.secrets import secrets_from_env
        from replaygate.llm.trace import TracingTransport

        config = self.config
        inner = self.backend.transport(config.concurrency)
        if inner is not None:
            inner = self._service_transport(inner)
        library = CassetteLibrary(
            config.resolve(self.root, config.cassettes),
            self.record_mode,
            inner,
            secrets=secrets_from_env(config.secret_env, dict(self.environ)),
            label=self.backend.label,
            record_errors=config.record_errors,
        )
        transport = TracingTransport(library.transport() if self.mode != "live" else inner or OfflineTransport())
        http = httpx2.AsyncClient(transport=transport, timeout=config.timeout_s)
        limits = dict(connect_timeout_s=config.connect_timeout_s, max_retries=config.max_retries)
        wiring = Wiring(
            library=library,
            transport=transport,
            http=http,
            agent=self.backend.client("agent", http, config.timeout_s, config.record_errors, **limits),
            judge=self.backend.client(JUDGE, http, config.timeout_s, config.record_errors, **limits),
            sync_client=lambda sync_http: self.backend.client("agent", sync_http, config.timeout_s, config.record_errors,
                                                              **limits),
            loop=asyncio.get_running_loop(),
            timeout_s=config.timeout_s,
        )
        wiring.capture()
        return wiring

    def _service_transport(self, inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
        """The backend's transport behind the run's meter, breaker and throttle (and, for a real service, Retarget)."""
        from replaygate.llm.breaker import Breaker, BreakerTransport
        from replaygate.llm.metering import MeteredTransport
        from replaygate.llm.throttle import AdaptiveLimit, ThrottledTransport

        config = self.config
        self.limit = AdaptiveLimit(ceiling=config.concurrency)
        if self.breaker is None:
            self.breaker = Breaker()
        # The breaker sits inside the throttle (a queued request is refused once its endpoint is dead)
        # and outside the meter (a refused request, or its HEAD probe, was never an attempt).
        probe = inner if self.backend.kind in ("openai", "azure") else None
        breaker = BreakerTransport(MeteredTransport(inner, self.meter), self.breaker, probe, config.connect_timeout_s)
        inner = ThrottledTransport(breaker, self.limit)
        if self.backend.kind in ("openai", "azure"):
            from replaygate.capture.retarget import Retarget

            # Above the breaker, which keys endpoints by URL: a captured request is the backend's from here on.
            inner = Retarget(inner, self.backend)
        return inner

    async def run_async(
        self,
        tasks: Sequence[Task],
        repeats: int = 1,
        on_result: Callable[[CaseResult], None] | None = None,
        loaded: LoadedSuite | None = None,
        group: str | None = None,
    ) -> list[CaseResult]:
        from replaygate.capture.endpoint import serving
        from replaygate.run.solver import build_solver
        from replaygate.llm.agent import Decoding

        config = self.config
        loaded = loaded or self.loaded
        wiring = self._run_wiring()
        library = wiring.library
        cassettes = CaseCassettes(library, lambda task, repeat: self.case_key(task, repeat, group),
                                  use=self.mode != "live", record_errors=config.record_errors, on_result=on_result)
        decoding = Decoding(
            model=config.model_for("agent"),
            temperature=config.temperature,
            seed=config.seed,
            max_turns=config.max_turns,
        )
        try:
            solver = build_solver(loaded, wiring.agent, wiring.sync_agent, decoding, transport=wiring.transport,
                                  network_guard=config.network_guard, allow_hosts=config.allow_hosts)
            weights = self.weights
            graders = self._graders(loaded, wiring, weights)
            cases = [(task, repeat) for task in tasks for repeat in range(repeats)]
            # The loopback endpoint serves agents configured by URL (prompt.base_url) while the cases run.
            with VENDOR_TRACING_OFF, serving():
                return await evaluate(cases, solver, graders, weights, config.concurrency, on_result=cassettes.finished,
                                      scope=cassettes.scope, timeout_s=config.case_timeout_s)
        finally:
            self.simulator_seen = library.simulator_seen
            if wiring is not self._wiring:
                await wiring.aclose()

    def _run_wiring(self) -> Wiring:
        """The kept wiring for a run on the kept loop (wired by its first run), else a wiring of the run's own."""
        # Only runs on the kept loop share a wiring: any other loop (asyncio.run, an optimizer's) gets its own.
        kept = self._loop is not None and self._loop.loop is asyncio.get_running_loop()
        wiring = self._wiring if kept else None
        if wiring is None:
            wiring = self.wire()
            if kept:
                self._wiring = wiring
        return wiring

    def _graders(self, loaded: LoadedSuite, wiring: Wiring, weights: Mapping[str, float]) -> dict[str, Any]:
        """The graders that run, by name: the suite's weighted ones (those that call a model bound to the judge's
        client) and the judge_prompt judge when it is used."""
        from replaygate.llm.judge_model import LLMJudge

        config = self.config
        graders = {name: grader for name, grader in loaded.graders().items() if name in weights}
        for name, grader in graders.items():
            if getattr(grader, "needs_model", False):
                graders[name] = grader.bind(wiring.judge, config.model_for(JUDGE), seed=config.seed)
        if self.uses_judge:
            graders[JUDGE] = LLMJudge(wiring.judge, config.model_for(JUDGE), self.judge_template,
                                      lambda task, rollout: {}, seed=config.seed)
        return graders

    def describe(self, rollout: Rollout | None) -> str:
        return self.loaded.describe(rollout) if rollout is not None else ""


@dataclass
class CaseCassettes:
    """A run's cassette per case: opened as the case starts, and at its end kept only when the case's recording
    says something reproducible (no failure, no infrastructure fault, no transport fault unless record_errors)."""

    library: CassetteLibrary
    key_for: Callable[[Task, int], CaseKey]
    use: bool  # a live run has no cassettes
    record_errors: bool
    on_result: Callable[[CaseResult], None] | None
    keys: dict[tuple[str, int], CaseKey] = field(default_factory=dict)

    def scope(self, task: Task, repeat: int):
        return self.library.case(self._key(task, repeat)) if self.use else nullcontext()

    def finished(self, result: CaseResult) -> None:
        key = self.keys.get((result.task.id, result.repeat))
        if key is not None and self.use:
            rollout = result.rollout
            keep = result.failure is None and rollout is not None and not rollout.infra_failed and (
                self.record_errors or not rollout.transport_failed
            )
            self.library.finish(key, keep=keep)
        if self.on_result is not None:
            self.on_result(result)

    def _key(self, task: Task, repeat: int) -> CaseKey:
        return self.keys.setdefault((task.id, repeat), self.key_for(task, repeat))


class VendorTracingOff:
    """While any run is active, frameworks that export their own traces to a vendor are told not to.

    The OpenAI Agents SDK sends a trace of every agent run to OpenAI unless OPENAI_AGENTS_DISABLE_TRACING is
    set: in replay that is traffic no cassette holds (and a key's use). It reads the variable once, at its
    first trace. A value the user set is kept.
    """

    VARIABLES = {"OPENAI_AGENTS_DISABLE_TRACING": "1"}

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._runs = 0
        self._set: list[str] = []

    def __enter__(self) -> None:
        import os

        with self._lock:
            if self._runs == 0:
                self._set = [name for name in self.VARIABLES if name not in os.environ]
                os.environ.update({name: self.VARIABLES[name] for name in self._set})
            self._runs += 1

    def __exit__(self, *exc: object) -> None:
        import os

        with self._lock:
            self._runs -= 1
            if self._runs == 0:
                for name in self._set:
                    os.environ.pop(name, None)
                self._set = []


VENDOR_TRACING_OFF = VendorTracingOff()


@dataclass
class Wiring:
    """What a run sends through: tracing, cassettes and the backend's transports, and the SDK clients on top."""

    library: CassetteLibrary
    transport: httpx2.AsyncBaseTransport
    http: httpx2.AsyncClient
    agent: Any
    judge: Any
    sync_client: Callable[[Any], Any]  # the agent's sync SDK client over a given sync httpx2 client
    loop: asyncio.AbstractEventLoop
    timeout_s: float
    _sync: list[Any] = field(default_factory=list)  # [httpx2.Client, SDK client], made on a sync solver's first call
    _captured: bool = False  # capture and the network guard are installed for this wiring (until aclose)

    def capture(self) -> None:
        """Capture every client's model requests and guard sockets while this wiring lives (`replaygate.capture`)."""
        from replaygate.capture import azure_core, guard, patch

        patch.install()
        azure_core.install()  # the azure-core pipeline of Azure SDKs (hosted agents), when one is loaded
        guard.install()
        self._captured = True

    def sync_agent(self) -> Any:
        """The agent's sync client, sending through the current case's route, for a solver written sync."""
        if not self._sync:
            import httpx2

            from replaygate.capture.route import RouteTransport, SyncBridge

            bridge = RouteTransport(SyncBridge(self.transport, self.loop))
            http = httpx2.Client(transport=bridge, timeout=self.timeout_s)
            self._sync += [http, self.sync_client(http)]
        return self._sync[1]

    async def aclose(self) -> None:
        try:
            if self._sync:
                self._sync[0].close()
            await self.http.aclose()
        finally:
            if self._captured:
                from replaygate.capture import azure_core, guard, patch

                self._captured = False
                guard.uninstall()
                azure_core.uninstall()
                patch.uninstall()


class LoopThread:
    """An event loop in a thread of its own, kept across runs; `run` blocks its caller until a coroutine is done.

    Its own thread, not the caller's: a Hypothesis test that has failed once line-traces every later
    example in its thread (for its explain phase), which would make each of the harness's requests
    several times dearer; the harness's work is no part of what Hypothesis explains.
    """

    def __init__(self) -> None:
        import threading

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="replaygate-runs", daemon=True)
        self.thread.start()

    def run(self, coroutine: Any) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()  # Ctrl-C reaches the waiting thread: the run's task is cancelled, as asyncio.run would
            raise

    def close(self) -> None:
        async def drain() -> None:
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_asyncgens()
            await self.loop.shutdown_default_executor()

        try:
            asyncio.run_coroutine_threadsafe(drain(), self.loop).result(timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=30)
            self.loop.close()
