"""The simulator's judge role: strict exact-choice grading, Agent Lightning message format."""

from __future__ import annotations

import json

import httpx2
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from evals.sim import MODEL_NAME, SimTransport, respond
from evals.sim.judge import parse_judge_input, shape_of

SYSTEM = "Be a strict grader of exact room choice."
JUDGE_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "judge",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"score": {"type": "number"}, "reason": {"type": "string"}},
            "required": ["score", "reason"],
            "additionalProperties": False,
        },
    },
}


def judge_body(output: str, expected: str, user_template="Task output:\n{o}\n\nTask expected answer:\nfinal_choice: {e}") -> dict:
    return {
        "model": MODEL_NAME,
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user_template.format(o=output, e=expected)}],
        "response_format": JUDGE_FORMAT,
        "temperature": 0,
    }


def verdict(output: str, expected: str, **kw) -> dict:
    reply = respond(judge_body(output, expected, **kw))
    assert reply["choices"][0]["finish_reason"] == "stop"
    return json.loads(reply["choices"][0]["message"]["content"])


@pytest.mark.parametrize(
    ("output", "expected", "score"),
    [
        ("R-101", "R-101", 1.0),
        ("final_choice: R-101\nreason: fits", "R-101", 1.0),
        ('{"choice": "R-101", "reason": "fits"}', "R-101", 1.0),
        ("After checking availability, the room to book is R-101.", "R-101", 1.0),
        ("I'd recommend R-101. It fits the request. R-101 is free.", "R-101", 1.0),
        ("R-204", "R-101", 0.0),
        ("I'd recommend R-204. It fits the request.", "R-101", 0.0),
        ("R-101 looks like the best option; R-204 would also work.", "R-101", 0.0),  # ambiguous
        ("No Room", "No Room", 1.0),
        ("final_choice: no room", "No Room", 1.0),
        ("Unfortunately no room matches all the requirements.", "No Room", 1.0),
        ("Sorry, none of the rooms are available with everything you asked for.", "No Room", 1.0),
        ("No room is perfect, but R-204 could work.", "No Room", 0.0),
        ("Unfortunately no room matches all the requirements.", "R-101", 0.0),
        ("R-101", "No Room", 0.0),
        ("I'd recommend Atlas. It fits the request.", "Atlas", 1.0),
        ("Atlas looks like the best option; Borealis would also work.", "Atlas", 0.0),
        ("The room to book is B2.14.", "B2.14", 1.0),
        ("B2.14 or B3.02, both are fine.", "B2.14", 0.0),
        ("", "R-101", 0.0),
    ],
)
def test_grades(output, expected, score):
    result = verdict(output, expected)
    assert result["score"] == score, result
    assert 0 < len(result["reason"]) <= 100


def test_reasons_name_the_choice():
    assert verdict("final_choice: R-204", "R-101")["reason"] == "chose R-204, expected R-101"
    assert verdict("R-101", "R-101")["reason"].startswith("chose R-101")
    assert "ambiguous" in verdict("R-101 or R-204", "R-101")["reason"]


def test_lenient_about_whitespace_and_missing_prefix():
    template = "  task output:   {o}\n\n\n   Task expected answer:\n\n   {e}  \n"
    assert verdict("R-101", "R-101", user_template=template)["score"] == 1.0
    assert parse_judge_input("Task output:\nR-1\n\nTask expected answer:\nfinal_choice:   R-1 \n") == ("R-1", "R-1")


def test_missing_sections_score_zero():
    result = verdict("R-101", "R-101", user_template="Grade {o} against {e}.")
    assert result["score"] == 0.0 and len(result["reason"]) <= 100


def test_shape_regex_follows_the_expected_id():
    assert shape_of("R-101").fullmatch("Q-7")
    assert not shape_of("R-101").fullmatch("R101")
    assert shape_of("B2.14").fullmatch("C10.3")


@settings(max_examples=80, deadline=None)
@given(
    expected=st.from_regex(r"[A-Za-z]{1,40}-[0-9]{1,40}", fullmatch=True),
    output=st.text(max_size=300),
)
def test_reason_never_exceeds_100_chars_and_content_is_json(expected, output):
    result = verdict(output, expected)
    assert result["score"] in (0.0, 1.0)
    assert len(result["reason"]) <= 100


def test_judge_through_the_sdk_with_parse_and_with_a_raw_schema():
    class JudgeResponse(BaseModel):
        reason: str
        score: float

    with openai.OpenAI(api_key="x", base_url="http://sim.invalid/v1", http_client=httpx2.Client(transport=SimTransport())) as client:
        messages = judge_body("I'd go with R-204, although R-101 is a reasonable alternative.", "R-101")["messages"]
        parsed = client.chat.completions.parse(model=MODEL_NAME, messages=messages, response_format=JudgeResponse, temperature=0.0)
        assert parsed.choices[0].message.parsed.score == 0.0
        raw = client.chat.completions.create(model=MODEL_NAME, messages=judge_body("R-101", "R-101")["messages"], response_format=JUDGE_FORMAT)
        assert json.loads(raw.choices[0].message.content) == {"score": 1.0, "reason": "chose R-101, matches expected"}


def test_tools_take_precedence_over_a_judge_schema():
    body = judge_body("R-101", "R-101")
    body["tools"] = [{"type": "function", "function": {"name": "get_rooms_and_availability", "parameters": {"type": "object"}}}]
    assert respond(body)["choices"][0]["finish_reason"] == "tool_calls"
