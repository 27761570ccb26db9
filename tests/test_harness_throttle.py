"""Adaptive concurrency under rate limits: the limit's laws, and a throttled run that slows but never fails."""

from __future__ import annotations

import asyncio
import json

import httpx2
import openai
from hypothesis import given
from hypothesis import strategies as st

from replaygate.llm.throttle import AdaptiveLimit, ThrottledTransport


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@given(ceiling=st.integers(1, 64), events=st.lists(st.tuples(st.booleans(), st.floats(0, 5)), max_size=200))
def test_allowed_stays_between_floor_and_ceiling_and_moves_the_right_way(ceiling, events):
    clock = FakeClock()
    limit = AdaptiveLimit(ceiling=ceiling, clock=clock)
    for rate_limited, pause in events:
        clock.now += pause
        before = limit.value
        if rate_limited:
            limit.on_rate_limit()
            assert limit.value <= before
        else:
            limit.on_success()
            assert limit.value >= before
        assert 1 <= limit.allowed <= ceiling


def test_a_burst_of_429s_is_one_signal_and_successes_recover():
    clock = FakeClock()
    limit = AdaptiveLimit(ceiling=16, clock=clock)
    for _ in range(10):  # one burst, all within the cooldown
        limit.on_rate_limit()
    assert limit.allowed == 8 and limit.cuts == 1
    clock.now += 2
    limit.on_rate_limit()
    assert limit.allowed == 4 and limit.cuts == 2
    for _ in range(200):
        limit.on_success()
    assert limit.allowed == 16


class Flaky(httpx2.AsyncBaseTransport):
    """429 with Retry-After for the first attempts, then normal answers; records peak concurrency."""

    def __init__(self, rate_limited: int):
        self.rate_limited, self.in_flight, self.peak, self.calls = rate_limited, 0, 0, 0

    async def handle_async_request(self, request):
        self.calls += 1
        attempt = self.calls
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            if attempt <= self.rate_limited:
                return httpx2.Response(429, headers={"retry-after": "0"}, json={"error": {"message": "slow down", "type": "rate_limit_exceeded"}})
            body = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}]}
            return httpx2.Response(200, content=json.dumps(body).encode(), headers={"content-type": "application/json"})
        finally:
            self.in_flight -= 1


def test_rate_limited_requests_all_succeed_with_sdk_retries_and_the_limit_drops():
    inner = Flaky(rate_limited=6)
    limit = AdaptiveLimit(ceiling=8, cooldown_s=0.0)
    transport = ThrottledTransport(inner, limit)

    async def main():
        client = openai.AsyncOpenAI(api_key="k", base_url="http://x.invalid/v1", max_retries=5,
                                    http_client=httpx2.AsyncClient(transport=transport))
        calls = [client.chat.completions.create(model="m", messages=[{"role": "user", "content": str(i)}]) for i in range(8)]
        return await asyncio.gather(*calls)

    answers = asyncio.run(main())
    assert [a.choices[0].message.content for a in answers] == ["ok"] * 8
    assert limit.cuts >= 1
    assert inner.peak <= 8


def test_throttle_never_exceeds_the_allowed_number_in_flight():
    inner = Flaky(rate_limited=0)
    limit = AdaptiveLimit(ceiling=3)
    transport = ThrottledTransport(inner, limit)

    async def main():
        request = httpx2.Request("POST", "http://x.invalid/v1/chat/completions")
        await asyncio.gather(*(transport.handle_async_request(request) for _ in range(20)))

    asyncio.run(main())
    assert inner.peak == 3
