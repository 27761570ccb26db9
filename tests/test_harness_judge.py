"""The LLM judge grader (against the simulator and scripted answers) and score composition."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st

from replaygate.core.errors import InputError
from replaygate.graders import Judge
from replaygate.llm.judge_model import JUDGE_SCHEMA, MAX_REASON, LLMJudge, read_verdict
from replaygate.core.prompt import PromptFileError, PromptTemplate
from replaygate.core.rollout import Rollout
from replaygate.core.score import Score, composite, grade
from replaygate.core.task import Task
from evals.sim import MODEL_NAME, SimTransport

REPO = Path(__file__).resolve().parents[1]
# The judge prompt as committed (nothing rewrites it; --optimize changes only the agent's prompt).
JUDGE_TEXT = (REPO / "prompts" / "judge.md").read_text(encoding="utf-8")
TEMPLATE = PromptTemplate(path=Path("judge.md"), text=JUDGE_TEXT)
TASK = Task(id="room-001", input={"date": "2026-03-02"}, expected="R-101")


class Recorder(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport):
        self.inner = inner
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.bodies.append(json.loads(await request.aread()))
        self.headers.append(dict(request.headers))
        return await self.inner.handle_async_request(request)


def judge_with(inner: httpx2.AsyncBaseTransport, rollout: Rollout, task: Task = TASK, seed: int = 0):
    recorder = Recorder(inner)

    async def go():
        async with httpx2.AsyncClient(transport=recorder) as http:
            client = openai.AsyncOpenAI(api_key="k", base_url="http://judge.invalid/v1", http_client=http, max_retries=0)
            judge = LLMJudge(client, MODEL_NAME, TEMPLATE, lambda t, r: {"x-case": f"{t.id}/{r.repeat}"}, seed=seed)
            return await judge(task, rollout)

    return asyncio.run(go()), recorder


def answered(text: str, repeat: int = 0) -> Rollout:
    return Rollout(task_id=TASK.id, repeat=repeat, final_text=text)


def content_reply(content: str) -> httpx2.MockTransport:
    body = {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "j",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 9, "total_tokens": 49},
    }
    return httpx2.MockTransport(lambda request: httpx2.Response(200, json=body))


# --- LLMJudge with the simulator -------------------------------------------------------------------


def test_right_answer_scores_one_and_requests_structured_output():
    rollout = answered("R-101", repeat=2)
    score, recorder = judge_with(SimTransport(), rollout, seed=5)
    assert score.value == 1.0
    assert 0 < len(score.reason) <= MAX_REASON

    (body,) = recorder.bodies
    assert body["response_format"] == JUDGE_SCHEMA
    schema = body["response_format"]["json_schema"]
    assert body["response_format"]["type"] == "json_schema"
    assert schema["strict"] is True
    assert schema["schema"]["required"] == ["score", "reason"]
    assert schema["schema"]["additionalProperties"] is False
    assert body["model"] == MODEL_NAME
    assert body["temperature"] == 0.0 and body["seed"] == 5
    assert "tools" not in body
    # The judge sees the agent's output and the expected answer through the template.
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "R-101" in body["messages"][1]["content"] and "final_choice: R-101" in body["messages"][1]["content"]
    assert recorder.headers[0]["x-case"] == "room-001/2"
    # The judge's tokens are grading usage, not the agent's.
    assert rollout.grading_usage.calls == 1 and rollout.grading_usage.input_tokens > 0
    assert rollout.usage.calls == 0


def test_wrong_answer_scores_zero_with_a_short_reason():
    score, _ = judge_with(SimTransport(), answered("I would book R-102, it is lovely and close to the kitchen."))
    assert score.value == 0.0
    assert "R-102" in score.reason
    assert 0 < len(score.reason) <= MAX_REASON


def test_failed_or_empty_rollout_scores_zero_without_calling_the_judge():
    failed = Rollout(task_id=TASK.id, final_text="R-101", error="API error 500: boom", error_kind="api")
    score, recorder = judge_with(SimTransport(), failed)
    assert score == Score(0.0, "API error 500: boom")
    assert recorder.bodies == []

    score, recorder = judge_with(SimTransport(), Rollout(task_id=TASK.id, final_text=""))
    assert score == Score(0.0, "no final answer")
    assert recorder.bodies == []


# --- LLMJudge with scripted answers ----------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "Looks right to me!",
        "",
        '{"verdict": "yes"}',
        '{"score": "high", "reason": "x"}',
        '{"score": null, "reason": "x"}',
        "[1, 2]",
        "```json\n{oops\n```",
    ],
)
def test_judge_without_a_valid_verdict_scores_zero_with_a_reason(content):
    score, _ = judge_with(content_reply(content), answered("R-101"))
    assert score.value == 0.0
    assert score.reason.startswith("judge answer unreadable: ")
    assert len(score.reason) <= MAX_REASON


def test_judge_reason_is_cut_to_100_characters_and_score_clamped():
    score, _ = judge_with(content_reply(json.dumps({"score": 3, "reason": "y" * 300})), answered("R-101"))
    assert score.value == 1.0
    assert score.reason == "y" * MAX_REASON
    score, _ = judge_with(content_reply(json.dumps({"score": -2, "reason": ""})), answered("R-101"))
    assert score == Score(0.0, "no reason given")


def test_judge_api_error_scores_zero_and_does_not_raise():
    failing = httpx2.MockTransport(lambda request: httpx2.Response(400, json={"error": {"message": "bad schema"}}))
    score, _ = judge_with(failing, answered("R-101"))
    assert score.value == 0.0
    assert score.reason.startswith("judge call failed")
    assert len(score.reason) <= MAX_REASON


def test_an_unreachable_judge_makes_the_case_an_infrastructure_error():
    failing = httpx2.MockTransport(lambda request: httpx2.Response(500, json={"error": {"message": "down"}}))
    rollout = answered("R-101")
    score, _ = judge_with(failing, rollout)
    assert score.value == 0.0 and rollout.error_kind == "infra"
    assert score.reason == rollout.error and "answered 500 (InternalServerError: down" in rollout.error


def test_unreadable_judge_answers_are_asked_again_then_score_zero_without_raising():
    gateway_page = httpx2.MockTransport(
        lambda request: httpx2.Response(200, content=b"<html>502</html>", headers={"content-type": "application/json"})
    )
    rollout = answered("R-101")
    score, recorder = judge_with(gateway_page, rollout)
    assert score.value == 0.0 and score.reason.startswith("judge answer unreadable: ")
    assert rollout.retries == 2  # asked three times in all, each re-ask counted


def test_judge_template_may_only_use_output_and_expected():
    bad = PromptTemplate(path=Path("judge.md"), text="Output {output}, expected {expected}, room {room}")
    with pytest.raises(PromptFileError, match=r"judge\.md:1: placeholder \{room\}"):
        LLMJudge(None, "m", bad, lambda t, r: {})  # type: ignore[arg-type]


# --- One reader for both judges -----------------------------------------------------------------------


def rubric_judge_with(inner: httpx2.AsyncBaseTransport, rollout: Rollout):
    async def go():
        async with httpx2.AsyncClient(transport=inner) as http:
            client = openai.AsyncOpenAI(api_key="k", base_url="http://judge.invalid/v1", http_client=http, max_retries=0)
            return await Judge("the right room").bind(client, MODEL_NAME)(TASK, rollout)

    return asyncio.run(go())


@pytest.mark.parametrize("content", ["Looks right to me!", '{"score": null, "reason": "x"}', '{"score": 0.5, "reason": 7}'])
def test_both_judges_read_an_unreadable_verdict_alike(content):
    agent_lightning, _ = judge_with(content_reply(content), answered("R-101"))
    rubric = rubric_judge_with(content_reply(content), answered("R-101"))
    assert agent_lightning == rubric == read_verdict(content, MAX_REASON)
    assert rubric.value == 0.0 and rubric.reason.startswith("judge answer unreadable: ")


@given(st.floats(min_value=0.0, max_value=1.0), st.text(max_size=150))
def test_a_verdict_in_range_reads_the_same_clamped_or_not(value, reason):
    content = json.dumps({"score": value, "reason": reason})
    assert read_verdict(content, MAX_REASON, clamp=True) == read_verdict(content, MAX_REASON)


@given(st.one_of(st.floats(min_value=1.0, exclude_min=True), st.floats(max_value=0.0, exclude_max=True)))
def test_out_of_range_is_clamped_for_agent_lightning_and_unreadable_for_a_rubric(value):
    content = json.dumps({"score": value, "reason": "r"})
    assert read_verdict(content, MAX_REASON, clamp=True) == Score(1.0 if value > 1 else 0.0, "r")
    assert read_verdict(content, MAX_REASON).reason.startswith("judge answer unreadable: score")


# --- Score and composite -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [-0.0001, 1.0001, -1.0, 2.0, math.inf, -math.inf, math.nan])
def test_score_rejects_values_outside_0_1(value):
    with pytest.raises(ValueError, match="outside"):
        Score(value, "x")


@given(st.floats(min_value=0.0, max_value=1.0))
def test_score_accepts_every_value_in_0_1(value):
    assert Score(value, "ok").value == value


def test_composite_is_the_weighted_mean_and_names_imperfect_graders():
    scores = {"exact_choice": Score(1.0, "chose R-1"), "constraints": Score(0.5, "R-1 violates capacity"), "judge": Score(0.0, "chose R-2")}
    result = composite(scores, {"exact_choice": 0.6, "constraints": 0.2, "judge": 0.2})
    assert result.value == pytest.approx(0.7)
    assert result.reason == "constraints: R-1 violates capacity; judge: chose R-2"


def test_composite_lists_a_shared_reason_once():
    same = "no final answer within 2 turns"
    scores = {"exact_choice": Score(0.0, same), "constraints": Score(0.0, same), "judge": Score(0.0, "judge call failed")}
    result = composite(scores, {"exact_choice": 0.6, "constraints": 0.2, "judge": 0.2})
    assert result.value == 0.0
    assert result.reason == f"exact_choice, constraints: {same}; judge: judge call failed"
    assert result.reason.count(same) == 1


def test_composite_uses_only_the_weights_of_scored_graders():
    result = composite({"a": Score(1.0, "ok")}, {"a": 1.0, "b": 100.0})
    assert result == Score(1.0, "all graders satisfied")
    assert composite({"a": Score(0.0, "no"), "b": Score(1.0, "yes")}, {"a": 0.0, "b": 2.0}).value == 1.0


def test_composite_with_zero_total_weight_is_an_input_error():
    with pytest.raises(InputError, match="weights sum to 0"):
        composite({"a": Score(1.0, "ok")}, {"a": 0.0})


@given(st.dictionaries(st.sampled_from("abcde"), st.tuples(st.floats(0, 1), st.floats(0.01, 10)), min_size=1))
def test_composite_stays_within_the_range_of_its_parts(parts):
    scores = {name: Score(value, f"r{name}") for name, (value, _) in parts.items()}
    weights = {name: weight for name, (_, weight) in parts.items()}
    result = composite(scores, weights)
    values = [s.value for s in scores.values()]
    assert min(values) - 1e-9 <= result.value <= max(values) + 1e-9


def test_grade_runs_sync_and_async_graders():
    async def async_grader(task, rollout):
        return Score(0.25, "async")

    def sync_grader(task, rollout):
        return Score(0.75, "sync")

    rollout = answered("x")
    assert asyncio.run(grade(async_grader, TASK, rollout)) == Score(0.25, "async")
    assert asyncio.run(grade(sync_grader, TASK, rollout)) == Score(0.75, "sync")
