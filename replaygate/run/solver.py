"""From a suite author's solver (any sync or async function of input, client and prompt) to a Rollout.

The solver calls the real openai client as it would in production. What the model was
asked and answered (usage, tool calls, final text) is read off the wire by the trace
the transport fills for this case, so the solver returns only its answer.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
import time
from contextlib import nullcontext
from functools import partial
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Sequence

from replaygate.core.prompt import Prompt
from replaygate.core.rollout import Rollout
from replaygate.core.task import Task

if TYPE_CHECKING:
    import httpx2
    import openai

    from replaygate.llm.agent import Decoding

Solver = Callable[[Task, int], Any]  # (task, repeat) -> Awaitable[Rollout]


def is_async(function: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(getattr(function, "__call__", None))


def build_solver(loaded, client: openai.AsyncOpenAI, sync_client: Callable[[], openai.OpenAI], decoding: Decoding,
                 transport: httpx2.AsyncBaseTransport | None = None, network_guard: bool = True,
                 allow_hosts: Sequence[str] = ()) -> Solver:
    """The harness's solver for a loaded suite: render, call the author's function, trace, build the Rollout.

    `transport` is the run's (tracing, cassettes, backend): each case gets a route over it, so the requests of
    clients its code builds itself are captured as the handed client's are (`replaygate.capture`).
    """
    from replaygate.capture import patch
    from replaygate.llm.trace import Trace

    user = loaded.suite.solver
    run_async = is_async(user)
    allowed = tuple(allow_hosts)

    async def solve(task: Task, repeat: int) -> Rollout:
        value = loaded.inputs[task.id]
        patch.follow_imports()
        trace = Trace()
        route = None if transport is None else case_route(task, repeat, trace, transport, network_guard, allowed)
        prompt = case_prompt(loaded, value, decoding, repeat, route)
        rollout = Rollout(task_id=task.id, repeat=repeat, messages=list(prompt.messages))
        started = time.perf_counter()
        answer = await traced_answer(partial(call_solver, user, run_async, value, client, sync_client, prompt),
                                     trace, route, client, rollout)
        seen = harness_failure(route)
        if seen is not None:
            # Not scored, never recorded: a case whose code reached past the harness says nothing reproducible.
            raise seen
        calls = max(route.calls if route is not None else 0, sum(1 for is_request, _ in trace.wire if is_request))
        return case_rollout(rollout, answer, trace, calls, time.perf_counter() - started)

    return solve


def case_route(task: Task, repeat: int, trace: Any, transport: httpx2.AsyncBaseTransport, guard: bool,
               allow_hosts: tuple[str, ...]) -> Any:
    """The route a case's requests take over the run's transport, named as its reports name the case."""
    from replaygate.capture.route import CaseRoute
    from replaygate.cassettes.cassette import CURRENT_CASE

    return CaseRoute(CURRENT_CASE.get(), trace, transport, asyncio.get_running_loop(),
                     name=task.id if not repeat else f"{task.id} (repeat {repeat})", guard=guard, allow_hosts=allow_hosts)


def case_prompt(loaded: Any, value: Any, decoding: Decoding, repeat: int, route: Any) -> Prompt:
    """What the author's solver is handed: the suite's prompt rendered for this input, with the run's decoding."""
    return Prompt(
        messages=loaded.prompt.render(loaded.suite.placeholder_values(value)),
        model=decoding.model,
        temperature=decoding.temperature,
        seed=decoding.seed + repeat,
        max_turns=decoding.max_turns,
        version=loaded.prompt.version,
        base_url=route.base_url if route is not None else "",
    )


async def traced_answer(call: Callable[[], Awaitable[Any]], trace: Any, route: Any, client: Any, rollout: Rollout) -> Any:
    """The solver's answer, awaited with the case's trace and route current; None, with `rollout` failed, when
    the service failed the solver's request (an openai.APIError it let through)."""
    import openai

    from replaygate.capture.route import routing
    from replaygate.llm.infra import api_failure
    from replaygate.llm.trace import tracing

    try:
        with tracing(trace), (routing(route) if route is not None else nullcontext()):
            try:
                return await call()
            except Exception:
                seen = harness_failure(route)
                if seen is not None:
                    raise seen from None  # what the solver made of a refused connection is moot
                raise
    except openai.APIError as exc:
        if trace.double_failure is not None:
            # The suite's own double raised: the SDK saw a 500, but the bug is the user's, with their frame.
            raise trace.double_failure from None
        # The sync client comes from the same backend and role: the async one finds the hint.
        rollout.fail(*api_failure(exc, client))
        return None


def case_rollout(rollout: Rollout, answer: Any, trace: Any, calls: int, latency_s: float) -> Rollout:
    """The case's Rollout: the one the solver returned, else `rollout` filled from the answer and the trace."""
    if isinstance(answer, Rollout):
        # The solver ran its own loop and kept its own trace (the room agent does).
        answer.task_id, answer.repeat, answer.model_calls = rollout.task_id, rollout.repeat, calls
        return answer
    rollout.model_calls, rollout.latency_s, rollout.answer = calls, latency_s, answer
    rollout.usage, rollout.ttft_s, rollout.tool_calls = trace.usage, trace.ttft_s, list(trace.tool_calls)
    rollout.final_text = answer if isinstance(answer, str) else trace.final_text
    return rollout


async def call_solver(user: Callable[..., Any], run_async: bool, value: Any, client: Any,
                      sync_client: Callable[[], Any], prompt: Prompt) -> Any:
    """The author's answer: an async solver awaited on the run's loop, a sync one in a thread with a sync client."""
    if run_async:
        answer = await user(value, client, prompt)
    else:
        try:
            answer = await in_daemon_thread(user, value, sync_client(), prompt)
        except TypeError as exc:
            hint = _awaited_sync_client(exc, user)
            if hint is None:
                raise
            raise hint from exc
    return await answer if inspect.isawaitable(answer) else answer


def harness_failure(route: Any) -> Exception | None:
    """What went wrong on a case's route, if anything: a connection the guard refused (the case's one line), or a
    request the loopback endpoint relayed that the harness could not answer (a cassette miss, say)."""
    if route is None:
        return None
    if route.violation:
        from replaygate.capture.guard import NetworkEscape

        return NetworkEscape(route.violation)
    return route.failure


async def in_daemon_thread(function: Callable[..., Any], *args: Any) -> Any:
    """`asyncio.to_thread` in a daemon thread of its own: a sync solver that never returns is left behind when its
    case times out (case_timeout_s), instead of holding the loop's executor, and so the session, at its end."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()

    def settle(result: Any, error: BaseException | None) -> None:
        if not future.done():  # a timed-out case's future is already cancelled
            future.set_exception(error) if error is not None else future.set_result(result)

    def run() -> None:
        try:
            result, error = context.run(function, *args), None
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting case
            result, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:
            pass  # the run is over and its loop closed: nobody waits for this answer

    threading.Thread(target=run, name="replaygate-solver", daemon=True).start()
    return await future


def _awaited_sync_client(exc: TypeError, user: Callable[..., Any]) -> TypeError | None:
    """A framework that awaits its client (pydantic-ai, the Agents SDK) was handed a sync solver's sync client."""
    if "can't be used in 'await' expression" not in str(exc):
        return None
    name = getattr(user, "__name__", type(user).__name__)
    return TypeError(
        f"solver {name} is sync, so its client is the sync openai.OpenAI, and the code it calls awaited it ({exc}); "
        "make the solver `async def` and await the framework (`await agent.run(...)`), or give the framework "
        "prompt.base_url instead of the client"
    )
