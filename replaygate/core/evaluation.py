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
from replaygate.core.runner import CaseResult, evaluate
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

    def __post_init__(self) -> None:
        unknown = sorted(set(self.config.extras) - set(self.suite.settings))
        if unknown:
            known = ", ".join(sorted(self.suite.settings)) or "none"
            where = self.config.given_by(unknown[0]) or f"{self.config_source}: [tool.replaygate] {unknown[0]}"
            raise InputError(
                f"{where}: not a setting of the harness or of suite {self.suite.name!r} (suite settings: {known}); fix the key"
            )
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

    @property
    def uses_judge(self) -> bool:
        """The Agent Lightning-compatible judge (judge_prompt): weighted, and no grader of the suite is named judge."""
        return self.config.graders.get(JUDGE, 0) > 0 and JUDGE not in self.loaded.graders()

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
            agent_model=self.config.model_for("agent"),
            judge_model=self.config.model_for("judge") if self.uses_judge else "",
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
        return CaseKey(group or self.suite.name, self.config.model_for("agent"), task.id, repeat)

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
        import replaygate.core.solver  # noqa: F401
        import replaygate.llm.chat  # noqa: F401 - the SDK and its chat types
        import replaygate.llm.judge  # noqa: F401

        if self.mode != "live":
            import vcr.cassette  # noqa: F401

    def wire(self) -> Wiring:
        """The transports, cassette library and SDK clients a run sends through (the SDK loads here)."""
        import httpx2

        from replaygate.cassettes.cassette import CassetteLibrary, OfflineTransport
        from replaygate.cassettes.secrets import secrets_from_env
        from replaygate.llm.breaker import Breaker, BreakerTransport
        from replaygate.llm.metering import MeteredTransport
        from replaygate.llm.throttle import AdaptiveLimit, ThrottledTransport
        from replaygate.llm.trace import TracingTransport

        config = self.config
        inner = self.backend.transport(config.concurrency)
        if inner is not None:
            self.limit = AdaptiveLimit(ceiling=config.concurrency)
            if self.breaker is None:
                self.breaker = Breaker()
            # The breaker sits inside the throttle (a queued request is refused once its endpoint is dead)
            # and outside the meter (a refused request, or its HEAD probe, was never an attempt).
            probe = inner if self.backend.kind in ("openai", "azure") else None
            breaker = BreakerTransport(MeteredTransport(inner, self.meter), self.breaker, probe, config.connect_timeout_s)
            inner = ThrottledTransport(breaker, self.limit)
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
        return Wiring(
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

    async def run_async(
        self,
        tasks: Sequence[Task],
        repeats: int = 1,
        on_result: Callable[[CaseResult], None] | None = None,
        loaded: LoadedSuite | None = None,
        group: str | None = None,
    ) -> list[CaseResult]:
        from replaygate.core.solver import build_solver
        from replaygate.llm.agent import Decoding
        from replaygate.llm.judge import LLMJudge

        config = self.config
        loaded = loaded or self.loaded
        # Only runs on the kept loop share a wiring: any other loop (asyncio.run, an optimizer's) gets its own.
        kept = self._loop is not None and self._loop.loop is asyncio.get_running_loop()
        wiring = self._wiring if kept else None
        if wiring is None:
            wiring = self.wire()
            if kept:
                self._wiring = wiring
        library = wiring.library
        use_cassettes = self.mode != "live"
        keys: dict[tuple[str, int], CaseKey] = {}

        def key_of(task: Task, repeat: int) -> CaseKey:
            return keys.setdefault((task.id, repeat), self.case_key(task, repeat, group))

        def scope(task: Task, repeat: int):
            return library.case(key_of(task, repeat)) if use_cassettes else nullcontext()

        def finished(result: CaseResult) -> None:
            key = keys.get((result.task.id, result.repeat))
            if key is not None and use_cassettes:
                rollout = result.rollout
                keep = result.failure is None and rollout is not None and not rollout.infra_failed and (
                    config.record_errors or not rollout.transport_failed
                )
                library.finish(key, keep=keep)
            if on_result is not None:
                on_result(result)

        decoding = Decoding(
            model=config.model_for("agent"),
            temperature=config.temperature,
            seed=config.seed,
            max_turns=config.max_turns,
        )
        try:
            solver = build_solver(loaded, wiring.agent, wiring.sync_agent, decoding)
            weights = self.weights
            graders = {name: grader for name, grader in loaded.graders().items() if name in weights}
            for name, grader in graders.items():
                if getattr(grader, "needs_model", False):
                    graders[name] = grader.bind(wiring.judge, config.model_for(JUDGE), seed=config.seed)
            if self.uses_judge:
                graders[JUDGE] = LLMJudge(wiring.judge, config.model_for(JUDGE), self.judge_template,
                                          lambda task, rollout: {}, seed=config.seed)
            cases = [(task, repeat) for task in tasks for repeat in range(repeats)]
            return await evaluate(cases, solver, graders, weights, config.concurrency, on_result=finished, scope=scope)
        finally:
            self.simulator_seen = library.simulator_seen
            if wiring is not self._wiring:
                await wiring.aclose()

    def describe(self, rollout: Rollout | None) -> str:
        return self.loaded.describe(rollout) if rollout is not None else ""


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

    def sync_agent(self) -> Any:
        """The agent's sync client, bridged onto the run's loop, for a solver written sync."""
        if not self._sync:
            import httpx2

            from replaygate.llm.bridge import SyncBridge

            http = httpx2.Client(transport=SyncBridge(self.transport, self.loop), timeout=self.timeout_s)
            self._sync += [http, self.sync_client(http)]
        return self._sync[1]

    async def aclose(self) -> None:
        if self._sync:
            self._sync[0].close()
        await self.http.aclose()


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
