"""`python -m evals.bench.stream`: time to first token of a streamed call, through the harness and with the plain SDK.

The model is a stand-in, not a real one: a `FunctionModel` that waits `--delay-ms` before each streamed event, so
time to first token is about one delay. Both sides call it over the same in-process transport; the harness adds
its run wiring (trace, cassettes when recording, capture) and must pass the first event on as it comes, not
after the stream ends. Target: the harness's time to first token within 10% of the plain SDK's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2
import openai

from replaygate import FunctionModel, Suite, graders
from replaygate.core.config import load_config
from replaygate.run.evaluation import Evaluation
from replaygate.llm.backend import SIM_BASE_URL, Backend

TEXT = "Room four is free at ten, seats eight, has a screen and is step free; it is the best fit for you."
MESSAGES = [{"role": "user", "content": "Which room?"}]


def answer(request: Any) -> str:
    return TEXT


async def first_token_async(client: openai.AsyncOpenAI, **kwargs: Any) -> tuple[float, str]:
    """Seconds from the call to its first chunk, as the solver sees it, and the text streamed."""
    started = time.perf_counter()
    stream = await client.chat.completions.create(**kwargs, stream=True)
    first, text = None, ""
    async for chunk in stream:
        if first is None:
            first = time.perf_counter() - started
        text += "".join(choice.delta.content or "" for choice in chunk.choices)
    return first or 0.0, text


def first_token_sync(client: openai.OpenAI, **kwargs: Any) -> tuple[float, str]:
    started = time.perf_counter()
    first, text = None, ""
    for chunk in client.chat.completions.create(**kwargs, stream=True):
        if first is None:
            first = time.perf_counter() - started
        text += "".join(choice.delta.content or "" for choice in chunk.choices)
    return first or 0.0, text


async def solver_async(inp: dict, client: Any, prompt: Any) -> dict:
    ttft, text = await first_token_async(client, **prompt.chat())
    return {"ttft": ttft, "text": text}


def solver_sync(inp: dict, client: Any, prompt: Any) -> dict:
    ttft, text = first_token_sync(client, **prompt.chat())
    return {"ttft": ttft, "text": text}


def plain_sdk(double: FunctionModel, calls: int, sync: bool) -> list[float]:
    """The plain SDK over the double's own transport: nothing in between."""
    if sync:
        client = openai.OpenAI(api_key="none", base_url=SIM_BASE_URL, http_client=httpx2.Client(transport=double()))
        return [first_token_sync(client, model="m", messages=MESSAGES)[0] for _ in range(calls + 1)][1:]

    async def run() -> list[float]:
        client = openai.AsyncOpenAI(api_key="none", base_url=SIM_BASE_URL,
                                    http_client=httpx2.AsyncClient(transport=double()))
        return [(await first_token_async(client, model="m", messages=MESSAGES))[0] for _ in range(calls + 1)][1:]

    return asyncio.run(run())


def harness(double: FunctionModel, calls: int, sync: bool, record_mode: str, root: Path) -> tuple[list[float], list[float]]:
    """A suite run live (or recording) against the double: the solver's own TTFT, and the one the harness recorded."""
    (root / "prompt.md").write_text("Which room? (call {n})\n", encoding="utf-8")
    tasks = [{"id": f"call{i:03d}", "input": {"n": i}, "expected": TEXT} for i in range(calls + 1)]
    suite = Suite("stream_bench", solver=solver_sync if sync else solver_async, tasks=tasks, prompt="prompt.md",
                  double=double, graders=[graders.Function(lambda task, rollout: rollout.answer["text"] == TEXT)])
    # One case at a time, as the plain SDK calls: each arm measures the same thing.
    config = load_config(None, {"cassettes": "tapes", "concurrency": 1}, suite=suite.name, code=suite.code_settings())
    evaluation = Evaluation(suite, config, root, Backend("sim", "stand-in", base_url=SIM_BASE_URL), record_mode, {})
    results = evaluation.run(list(evaluation.loaded.tasks))
    failed = [r.task.id for r in results if r.rollout is None or r.rollout.error or r.value < 1]
    if failed:
        raise SystemExit(f"benchmark cases failed: {', '.join(failed)}")
    results = sorted(results, key=lambda r: r.task.id)[1:]  # the first call warms up, on both sides
    return [r.rollout.answer["ttft"] for r in results], [r.rollout.ttft_s for r in results]


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.bench.stream", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=12, help="streamed calls per arm (default 12)")
    parser.add_argument("--delay-ms", type=float, default=50.0, help="the stand-in's pause before each event (default 50)")
    args = parser.parse_args(argv)
    double = FunctionModel(answer, name="stream-bench", stream_delay_s=args.delay_ms / 1000)
    events = len(TEXT.split()) + 3  # role, one per word, finish, [DONE]
    print(f"stand-in model: FunctionModel (not a real model), {args.delay_ms:g} ms before each of {events} events; "
          f"{args.calls} calls per arm, one at a time; medians\n")
    rows = []
    for sync in (False, True):
        kind = "sync " if sync else "async"
        plain = plain_sdk(double, args.calls, sync)
        for mode, record_mode in (("live", "none"), ("record", "all")):
            with tempfile.TemporaryDirectory(prefix="stream-bench-") as tmp:
                seen, recorded = harness(double, args.calls, sync, record_mode, Path(tmp))
            rows.append((kind, mode, plain, seen, recorded))
    print(f"{'client':6} {'harness':8} {'plain SDK':>11} {'via harness':>12} {'ratio':>7} {'recorded':>11}  target")
    met = True
    for kind, mode, plain, seen, recorded in rows:
        ratio = statistics.median(seen) / statistics.median(plain)
        ok = ratio <= 1.10
        met &= ok
        print(f"{kind:6} {mode:8} {ms(plain):>11} {ms(seen):>12} {ratio:7.3f} {ms(recorded):>11}  "
              f"{'met' if ok else 'NOT met'}")
    print("\nplain SDK: time to the first chunk with nothing in between; via harness: the same, measured by the "
          "solver through the harness's client; recorded: the trace's time to first token (what scores.json shows).")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
