"""The generic graders: examples with their reasons, and the laws they keep (Hypothesis)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Literal

import httpx2
import openai
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replaygate import graders
from replaygate.core.rollout import Rollout, ToolCall, Usage
from replaygate.core.score import Score, grade
from replaygate.core.task import Task
from replaygate.graders import (
    Contains,
    ExactMatch,
    Function,
    Judge,
    Numeric,
    Regex,
    ToolCalled,
    ToolCalls,
    ValidJSON,
    read_answer,
    read_expected,
)


class Customer(pydantic.BaseModel):
    id: int
    name: str = ""


class Ticket(pydantic.BaseModel):
    priority: Literal["low", "high"]
    customer: Customer


@dataclass
class Reply:
    queue: str
    customer: Customer


def task(expected: Any = None, **inputs: Any) -> Task:
    return Task(id="t-1", input=inputs or {"question": "route this"}, expected=expected)


def rollout(answer: Any = None, final_text: str | None = None, calls: list[ToolCall] | None = None, error: str | None = None) -> Rollout:
    return Rollout(task_id="t-1", answer=answer, final_text=final_text, tool_calls=calls or [], error=error)


def call(name: str, arguments: Any = None) -> ToolCall:
    return ToolCall(name, arguments if isinstance(arguments, str) else json.dumps(arguments or {}))


def score_of(grader: Any, t: Task, r: Rollout) -> Score:
    return asyncio.run(grade(grader, t, r))


def scores_of(graders_: list[Any], t: Task, r: Rollout) -> list[Score]:
    async def go() -> list[Score]:
        return [await grade(grader, t, r) for grader in graders_]

    return asyncio.run(go())  # one event loop per example keeps the properties fast


json_leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8)
json_values = st.recursive(
    json_leaves, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids, max_size=3), max_leaves=8
)
answers = json_values.filter(lambda v: v is not None)  # a None answer means "no answer"
# Forty examples a law keep the whole file under ~2 s; CI's derandomized profile makes them the same forty.
EXAMPLES = settings(max_examples=40)


# --- reading the answer ------------------------------------------------------------------------------


def test_answer_falls_back_to_final_text_and_walks_dicts_models_objects_and_lists():
    assert read_answer(rollout(final_text="billing")) == "billing"
    assert read_answer(rollout(answer="sales", final_text="billing")) == "sales"
    assert read_answer(rollout({"customer": {"id": 7}}), "customer.id") == 7
    ticket = Ticket(priority="high", customer=Customer(id=3))
    assert read_answer(rollout(ticket), "customer.id") == 3
    assert read_answer(rollout(Reply("sales", Customer(id=4))), "customer.id") == 4
    assert read_answer(rollout({"items": [{"sku": "a"}, {"sku": "b"}]}), "items.1.sku") == "b"


@pytest.mark.parametrize(
    "answer, field",
    [({"customer": {}}, "customer.id"), (Ticket(priority="low", customer=Customer(id=1)), "model_dump"),
     ("some text", "upper"), (Reply("q", Customer(id=1)), "_private"), ({"items": [1]}, "items.5")],
)
def test_a_missing_field_scores_zero_naming_the_field(answer, field):
    score = ExactMatch(field, expected="x")(task(), rollout(answer))
    assert score == Score(0.0, f"answer has no field {field!r}")


def test_expected_is_walked_when_a_dict_or_model_and_an_explicit_expected_wins():
    assert read_expected(task({"priority": "high"}), "priority") == "high"
    assert read_expected(task("high"), "priority") == "high"  # a plain reference is the field's value
    assert read_expected(task({"priority": "high"}), "priority", expected="low") == "low"
    assert ExactMatch("priority")(task({"queue": "x"}), rollout({"priority": "high"})) == Score(
        0.0, "expected answer has no field 'priority'"
    )
    assert ExactMatch()(task(None), rollout("x")) == Score(0.0, "task has no expected answer")
    assert ExactMatch()(task("x"), rollout()) == Score(0.0, "no answer")


def test_a_field_path_with_an_empty_part_is_refused_at_construction():
    with pytest.raises(ValueError, match="not a dotted path"):
        ExactMatch("customer..id")


# --- ExactMatch, Contains, Regex ---------------------------------------------------------------------


def test_exact_match_reasons():
    assert ExactMatch()(task("billing"), rollout("sales")) == Score(0.0, "expected 'billing', got 'sales'")
    assert ExactMatch()(task("billing"), rollout(final_text=" billing\n")) == Score(1.0, "matched 'billing'")
    assert ExactMatch(strip=False)(task("billing"), rollout(" billing")).value == 0.0
    assert ExactMatch()(task("Billing"), rollout("billing")).value == 0.0
    assert ExactMatch(case_sensitive=False)(task("Billing"), rollout("BILLING")).value == 1.0
    assert ExactMatch("priority")(task({"priority": "high"}), rollout({"priority": "low"})) == Score(
        0.0, "priority: expected 'high', got 'low'"
    )


def test_exact_match_compares_json_values_models_as_their_data_and_bools_apart_from_numbers():
    assert ExactMatch()(task({"a": [1, 2.0]}), rollout({"a": [1.0, 2]})).value == 1.0
    assert ExactMatch()(task({"id": 3, "name": ""}), rollout(Customer(id=3))).value == 1.0
    assert ExactMatch()(task(1), rollout(True)).value == 0.0
    assert ExactMatch(expected=3)(task("ignored"), rollout("3")) == Score(0.0, "expected 3, got '3'")


def test_contains_and_regex_reasons():
    assert Contains()(task("Refund"), rollout("We will refund you.")) == Score(1.0, "contains 'Refund'")
    assert Contains("refund", case_sensitive=True)(task(), rollout("Refund now")) == Score(
        0.0, "'refund' not found in 'Refund now'"
    )
    assert Contains("x")(task(), rollout({"a": 1})) == Score(0.0, "answer is dict, not text")
    assert Regex(r"\bR-\d{3}\b")(task(), rollout("book R-101 please")) == Score(1.0, "matched 'R-101'")
    assert Regex(r"^\d+$", field="zip")(task(), rollout({"zip": "12a"})) == Score(0.0, "zip: no match for /^\\d+$/ in '12a'")


def test_a_bad_regex_is_a_one_line_value_error_naming_the_pattern():
    with pytest.raises(ValueError) as info:
        Regex("(unclosed")
    assert "'(unclosed'" in str(info.value) and "\n" not in str(info.value)


# --- ValidJSON and Numeric ---------------------------------------------------------------------------


def test_valid_json_parses_text_and_accepts_data():
    assert ValidJSON()(task(), rollout('{"a": [1, 2]}')) == Score(1.0, "valid JSON")
    assert ValidJSON()(task(), rollout({"a": 1})).value == 1.0
    assert ValidJSON()(task(), rollout([1])).value == 1.0
    assert ValidJSON()(task(), rollout("{'a': 1}")) == Score(
        0.0, "not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2"
    )
    assert ValidJSON()(task(), rollout("NaN")) == Score(0.0, "not valid JSON: NaN is not JSON")
    assert ValidJSON()(task(), rollout(object())).value == 0.0


def test_valid_json_with_a_model_names_the_first_error():
    good = '{"priority": "high", "customer": {"id": 3}}'
    assert ValidJSON(Ticket)(task(), rollout(good)) == Score(1.0, "valid Ticket")
    assert ValidJSON(Ticket)(task(), rollout(Ticket.model_validate_json(good))).value == 1.0
    assert ValidJSON(Ticket)(task(), rollout({"priority": "high", "customer": {}})) == Score(
        0.0, "not a valid Ticket: customer.id: Field required"
    )
    score = ValidJSON(Ticket, field="ticket")(task(), rollout({"ticket": '{"priority": "urgent", "customer": {"id": 1}}'}))
    assert score.value == 0.0 and score.reason.startswith("ticket: not a valid Ticket: priority: Input should be")
    with pytest.raises(ValueError, match="pydantic BaseModel"):
        ValidJSON(dict)  # type: ignore[arg-type]


def test_numeric_tolerances_and_reasons():
    assert Numeric()(task(42), rollout("42")) == Score(1.0, "42 is close to 42")
    assert Numeric()(task(0.3), rollout(0.1 + 0.2)).value == 0.0
    assert Numeric(rel_tol=1e-9)(task(0.3), rollout(0.1 + 0.2)).value == 1.0
    assert Numeric(abs_tol=0.5)(task(10), rollout(10.4)).value == 1.0
    assert Numeric()(task(10), rollout(11)) == Score(0.0, "expected 10, got 11")
    assert Numeric()(task(10), rollout("ten")) == Score(0.0, "answer 'ten' is not a number")
    assert Numeric()(task(10), rollout(True)) == Score(0.0, "answer True is not a number")
    assert Numeric("total", expected=5)(task(), rollout({"total": 5.0})).value == 1.0
    assert Numeric(abs_tol=1)(task(10**400), rollout(10**400 + 1)).value == 1.0  # past float range
    with pytest.raises(ValueError, match="abs_tol"):
        Numeric(abs_tol=-1)


# --- tool calls --------------------------------------------------------------------------------------


def test_tool_called_with_arguments_and_times():
    calls = [call("search", {"q": "refund", "filters": {"lang": "en", "limit": 5}}), call("book", {"room": "R-1"})]
    r = rollout("done", calls=calls)
    assert ToolCalled("search")(task(), r) == Score(1.0, "called search once")
    assert ToolCalled("search", {"filters": {"lang": "en"}})(task(), r).value == 1.0
    assert ToolCalled("search", {"q": "invoice"})(task(), r) == Score(
        0.0, "no search call had {'q': 'invoice'}; got {'q': 'refund', 'filters': {'lang': 'en', 'limit': 5}}"
    )
    assert ToolCalled("search", times=2)(task(), r) == Score(0.0, "called search once, expected 2 times")
    assert ToolCalled("cancel")(task(), r) == Score(0.0, "never called cancel (called: search, book)")
    assert ToolCalled("cancel", times=0)(task(), r) == Score(1.0, "did not call cancel")
    assert ToolCalled("search", {"q": "x"})(task(), rollout("x", calls=[call("search", "{not json")])) == Score(
        0.0, "no search call had {'q': 'x'}; got '{not json'"
    )
    assert ToolCalled("search").name == "tool_called:search"


def test_tool_calls_bounds_and_allowed_tools():
    r = rollout("done", calls=[call("search"), call("search"), call("delete")])
    assert ToolCalls(min=1, max=3)(task(), r) == Score(1.0, "made 3 tool calls")
    assert ToolCalls(min=4)(task(), r) == Score(0.0, "made 3 tool calls, expected at least 4")
    assert ToolCalls(max=2)(task(), r) == Score(0.0, "made 3 tool calls, at most 2 allowed")
    assert ToolCalls(allowed=["search", "book"])(task(), r) == Score(
        0.0, "called delete, not among the allowed tools (search, book)"
    )
    with pytest.raises(ValueError, match="max"):
        ToolCalls(min=2, max=1)


# --- Function, the decorator and Score.of --------------------------------------------------------------


def test_function_graders_return_any_supported_form():
    @graders.grader
    def polite(t: Task, r: Rollout) -> bool:
        return "please" in read_answer(r)

    @graders.grader(name="length")
    async def short(t: Task, r: Rollout) -> tuple[float, str]:
        return (0.5, "a bit long")

    assert polite.name == "polite" and short.name == "length"
    assert score_of(polite, task(), rollout("please wait")) == Score(1.0, "passed")
    assert score_of(short, task(), rollout("x")) == Score(0.5, "a bit long")
    assert score_of(Function(lambda t, r: 0.25), task(), rollout("x")) == Score(0.25, "scored 0.25")
    # Reading a missing answer inside the function is a 0 with the reason, not a crash.
    assert score_of(polite, task(), rollout()) == Score(0.0, "no answer")


def test_a_bad_return_is_a_one_line_error_naming_the_grader_and_what_to_return():
    with pytest.raises(ValueError) as info:
        score_of(Function(lambda t, r: 1.5, name="tone"), task(), rollout("x"))
    assert str(info.value).startswith("grader 'tone' returned 1.5, outside [0, 1]; return a Score")
    with pytest.raises(TypeError) as info:
        score_of(lambda t, r: "great", task(), rollout("x"))
    message = str(info.value)
    assert "'<lambda>'" in message and "a (value, reason) tuple" in message and "\n" not in message


def test_grade_reads_plain_returns_of_any_grader():
    async def async_bool(t: Task, r: Rollout) -> bool:
        return False

    assert score_of(async_bool, task(), rollout("x")) == Score(0.0, "failed")
    assert score_of(lambda t, r: (1, "ok"), task(), rollout("x")) == Score(1.0, "ok")


score_results = (
    st.booleans()
    | st.floats(0, 1)
    | st.integers(0, 1)
    | st.tuples(st.booleans() | st.floats(0, 1), st.text(max_size=10))
    | st.builds(Score, st.floats(0, 1), st.text(max_size=10))
)


@EXAMPLES
@given(score_results)
def test_score_of_is_idempotent_and_keeps_value_and_reason(result):
    score = Score.of(result)
    assert Score.of(score) is score
    if isinstance(result, Score):
        return
    value, reason = result if isinstance(result, tuple) else (result, None)
    assert score.value == float(value)
    assert (score.reason == reason) if reason is not None else (score.reason in ("passed", "failed", f"scored {score.value:g}"))


@EXAMPLES
@given(st.floats().filter(lambda v: not 0 <= v <= 1) | st.integers().filter(lambda v: v not in (0, 1)), st.text(min_size=1, max_size=8))
def test_score_of_refuses_numbers_outside_0_1_naming_the_grader(value, name):
    with pytest.raises(ValueError, match="outside \\[0, 1\\]") as info:
        Score.of(value, name)
    assert f"grader {name!r}" in str(info.value)


@EXAMPLES
@given(st.text() | st.none() | st.lists(st.floats(0, 1), max_size=2) | st.dictionaries(st.text(), st.integers(), max_size=2))
def test_score_of_refuses_unsupported_types(result):
    with pytest.raises(TypeError, match="return a Score, a float in \\[0, 1\\], a bool"):
        Score.of(result, "g")


# --- laws ----------------------------------------------------------------------------------------------


def every_grader() -> list[Any]:
    return [
        ExactMatch(), ExactMatch("a", case_sensitive=False), Contains(), Contains("a"), Regex(r"a+"),
        ValidJSON(), ValidJSON(Ticket), Numeric(abs_tol=0.5), ToolCalled("search", {"q": "x"}),
        ToolCalled("book", times=1), ToolCalls(max=2, allowed=["search"]), Function(lambda t, r: 0.5, "half"),
    ]


tool_calls = st.lists(
    st.builds(ToolCall, st.sampled_from(["search", "book", "other"]), st.text(max_size=6) | json_values.map(json.dumps)),
    max_size=4,
)
rollouts = st.builds(
    Rollout, task_id=st.just("t-1"), answer=json_values | st.text(), final_text=st.none() | st.text(max_size=8), tool_calls=tool_calls
)


@EXAMPLES
@given(json_values, rollouts)
def test_every_score_lies_in_0_1_with_a_reason_when_imperfect(expected, r):
    for grader, score in zip(every_grader(), scores_of(every_grader(), task(expected), r)):
        assert 0.0 <= score.value <= 1.0
        assert score.value == 1.0 or 0 < len(score.reason) <= 200, (grader, score)


UNUSED_CLIENT = openai.AsyncOpenAI(base_url="http://judge.invalid/v1", api_key="x")


@EXAMPLES
@given(json_values, rollouts, st.text(min_size=1, max_size=20))
def test_an_errored_rollout_scores_zero_with_its_error_for_every_grader(expected, r, error):
    r.error = error
    # Never called: an errored rollout is scored before any request.
    judge = Judge("any rubric").bind(UNUSED_CLIENT, "m")
    assert scores_of([*every_grader(), Judge("any rubric"), judge], task(expected), r) == [Score(0.0, error)] * 14


@EXAMPLES
@given(answers, st.booleans(), st.booleans())
def test_exact_match_of_any_json_value_against_itself_is_one(value, case_sensitive, strip):
    assert ExactMatch(expected=value, case_sensitive=case_sensitive, strip=strip)(task(), rollout(value)).value == 1.0


@EXAMPLES
@given(answers, answers, st.booleans(), st.booleans())
def test_exact_match_is_symmetric_in_answer_and_expected(a, b, case_sensitive, strip):
    def match(answer, expected):
        return ExactMatch(expected=expected, case_sensitive=case_sensitive, strip=strip)(task(), rollout(answer)).value

    assert match(a, b) == match(b, a)


@EXAMPLES
@given(st.text(), st.data())
def test_contains_of_a_substring_is_one(text, data):
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    assert Contains(text[start:end])(task(), rollout(text)).value == 1.0


@EXAMPLES
@given(st.text(alphabet="abcXYZ 019-"), st.data())
def test_case_insensitive_contains_ignores_case(text, data):
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    assert Contains(text[start:end].swapcase())(task(), rollout(text.upper())).value == 1.0


@EXAMPLES
@given(json_values)
def test_valid_json_of_dumped_json_is_one(value):
    assert ValidJSON()(task(), rollout(json.dumps(value))).value == 1.0


numbers_ = st.integers() | st.floats()
tolerances = st.floats(0, 1e6)


@EXAMPLES
@given(numbers_, numbers_, tolerances, tolerances)
def test_numeric_is_symmetric(a, b, abs_tol, rel_tol):
    grader = lambda expected: Numeric(abs_tol=abs_tol, rel_tol=rel_tol, expected=expected)  # noqa: E731
    assert grader(b)(task(), rollout(a)).value == grader(a)(task(), rollout(b)).value


@EXAMPLES
@given(numbers_, numbers_, tolerances, tolerances, st.booleans())
def test_a_larger_tolerance_never_lowers_the_numeric_score(a, b, t1, t2, relative):
    low, high = sorted((t1, t2))
    key = "rel_tol" if relative else "abs_tol"
    strict = Numeric(expected=b, **{key: low})(task(), rollout(a)).value
    loose = Numeric(expected=b, **{key: high})(task(), rollout(a)).value
    assert strict <= loose


@EXAMPLES
@given(st.lists(st.sampled_from(["search", "book", "other"]), max_size=6), st.integers(0, 6))
def test_tool_called_times_holds_exactly_for_that_many_calls(names, times):
    r = rollout("x", calls=[call(name, {"i": i}) for i, name in enumerate(names)])
    made = names.count("search")
    assert ToolCalled("search", times=made)(task(), r).value == 1.0
    assert ToolCalled("search", times=times)(task(), r).value == float(made == times)


# --- Judge against a fake OpenAI-compatible server ------------------------------------------------------


def chat_reply(content: str) -> dict[str, Any]:
    return {
        "id": "c", "object": "chat.completion", "created": 0, "model": "judge-m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 9, "total_tokens": 49},
    }


def judged(judge: Judge, t: Task, r: Rollout, reply: Any) -> tuple[Score, list[dict[str, Any]]]:
    """Grade through a fake server; `reply` is the verdict text, or an httpx2.Response."""
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        bodies.append(json.loads(request.content))
        return reply if isinstance(reply, httpx2.Response) else httpx2.Response(200, json=chat_reply(reply))

    async def go() -> Score:
        async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
            client = openai.AsyncOpenAI(base_url="http://judge.invalid/v1", api_key="x", http_client=http, max_retries=0)
            return await grade(judge.bind(client, "judge-m", seed=3), t, r)

    return asyncio.run(go()), bodies


RUBRIC = "The reply must apologise and offer a refund."


def test_judge_sends_input_expected_rubric_and_answer_and_adds_usage():
    r = rollout(final_text="Sorry! Here is your refund.")
    r.grading_usage = Usage(input_tokens=1, output_tokens=1, calls=1)
    score, (body,) = judged(Judge(RUBRIC), task("apology + refund", order="A-17"), r, '{"score": 0.9, "reason": "apologises, refunds"}')
    assert score == Score(0.9, "apologises, refunds")
    assert body["model"] == "judge-m" and body["seed"] == 3 and body["temperature"] == 0.0
    schema = body["response_format"]["json_schema"]
    assert body["response_format"]["type"] == "json_schema" and schema["strict"] is True
    assert schema["schema"]["required"] == ["score", "reason"] and schema["schema"]["additionalProperties"] is False
    assert schema["schema"]["properties"]["score"] == {"type": "number", "minimum": 0, "maximum": 1}
    user = body["messages"][-1]["content"]
    for part in (RUBRIC, "Sorry! Here is your refund.", "apology + refund", '"order": "A-17"'):
        assert part in user
    assert r.grading_usage == Usage(input_tokens=41, output_tokens=10, calls=2)
    assert r.usage == Usage()


def test_judge_without_expected_answer_leaves_that_part_out_and_cuts_the_reason():
    judge = Judge(RUBRIC, name="tone", pass_reason_chars=10)
    score, (body,) = judged(judge, task(None), rollout({"reply": "ok"}), json.dumps({"score": 0.2, "reason": "x" * 50}))
    assert score == Score(0.2, "x" * 10)
    assert "Expected answer" not in body["messages"][-1]["content"] and '{"reply": "ok"}' in body["messages"][-1]["content"]
    assert body["response_format"]["json_schema"]["schema"]["properties"]["reason"]["maxLength"] == 10
    assert judge.bind(None, "m").name == "tone"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "content",
    ["Looks right to me!", "", '{"verdict": "yes"}', '{"score": "high", "reason": "x"}', '{"score": 1.5, "reason": "x"}',
     '{"score": true, "reason": "x"}', '{"score": 0.5, "reason": 3}', "[1, 2]"],
)
def test_an_unreadable_verdict_scores_zero_with_a_reason_and_still_counts_usage(content):
    r = rollout("Sorry, refunded.")
    score, _ = judged(Judge(RUBRIC), task(), r, content)
    assert score.value == 0.0 and score.reason.startswith("judge answer unreadable: ")
    assert r.grading_usage.calls == 1


def test_judge_api_failure_and_unreadable_response_score_zero_without_raising():
    score, _ = judged(Judge(RUBRIC), task(), rollout("x"), httpx2.Response(400, json={"error": {"message": "bad"}}))
    assert score.value == 0.0 and score.reason.startswith("judge call failed: BadRequestError")
    unreached = rollout("x")
    score, _ = judged(Judge(RUBRIC), task(), unreached, httpx2.Response(500, json={"error": {"message": "down"}}))
    assert score.value == 0.0 and unreached.error_kind == "infra" and score.reason == unreached.error
    page = httpx2.Response(200, content=b"<html>502</html>", headers={"content-type": "application/json"})
    score, bodies = judged(Judge(RUBRIC), task(), rollout("x"), page)
    assert score.value == 0.0 and score.reason.startswith("judge answer unreadable: ")


def test_judge_needs_binding_and_skips_rollouts_without_an_answer():
    judge = Judge(RUBRIC)
    assert judge.needs_model is True and judge.name == "judge"
    with pytest.raises(RuntimeError, match="needs a model"):
        judge(task(), rollout("x"))
    score, bodies = judged(judge, task(), rollout(), "{}")
    assert score == Score(0.0, "no answer") and bodies == []
    with pytest.raises(ValueError, match="rubric"):
        Judge("  ")


def test_default_names_are_weight_keys():
    names = [g.name for g in every_grader()] + [Judge(RUBRIC).name]
    assert names == [
        "exact_match", "exact_match:a", "contains", "contains", "regex", "valid_json", "valid_json", "numeric",
        "tool_called:search", "tool_called:book", "tool_calls", "half", "judge",
    ]
