"""The simulator's fault rule as pure functions: which request fails, how, and what a bent answer looks like."""

from __future__ import annotations

import hashlib
import json

import pytest

from evals.sim.faults import (
    CONTENT_KINDS,
    KINDS,
    TRANSPORT_KINDS,
    UNKNOWN_ROOM,
    UNKNOWN_TOOL,
    FaultPlan,
    apply_content_fault,
    body_digest,
    decide,
    error_reply,
    parse_kinds,
)

DIGESTS = [body_digest(f'{{"messages":[{{"role":"user","content":"request {n}"}}]}}'.encode()) for n in range(400)]
TOOL = {"type": "function", "function": {"name": "get_rooms_and_availability", "parameters": {"type": "object"}}}


def agent_request(answering: bool, tools=(TOOL,)) -> dict:
    messages = [{"role": "user", "content": "Find a room on 2026-03-02 at 10:30 for 45 minutes, 6 attendees."}]
    if answering:
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_rooms_and_availability", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": '{"rooms": []}'},
        ]
    return {"model": "m", "messages": messages, "tools": list(tools)}


def reply(content=None, arguments=None) -> dict:
    message = {"role": "assistant", "content": content, "refusal": None}
    if arguments is not None:
        message["tool_calls"] = [{"id": "call_1", "type": "function",
                                  "function": {"name": "get_rooms_and_availability", "arguments": arguments}}]
    finish = "tool_calls" if arguments is not None else "stop"
    return {"id": "chatcmpl-sim-1", "object": "chat.completion", "choices": [
        {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}]}


# --- the decision --------------------------------------------------------------------------------


def test_the_digest_is_the_sha256_of_the_raw_body():
    assert body_digest(b"{}") == hashlib.sha256(b"{}").hexdigest()


def test_the_same_seed_body_and_attempt_always_get_the_same_decision():
    plan = FaultPlan(rate=0.5, seed=7)
    first = [decide(plan, d, a) for d in DIGESTS[:100] for a in range(3)]
    again = [decide(FaultPlan(rate=0.5, seed=7), d, a) for d in DIGESTS[:100] for a in range(3)]
    assert first == again
    assert set(first) - {None}  # some faults, some not
    assert None in first


def test_a_different_seed_gives_a_different_run():
    one = [decide(FaultPlan(rate=0.5, seed=1), d, 0) for d in DIGESTS]
    two = [decide(FaultPlan(rate=0.5, seed=2), d, 0) for d in DIGESTS]
    assert one != two


def test_rate_zero_never_faults_and_rate_one_always_does():
    assert all(decide(FaultPlan(rate=0.0), d, a) is None for d in DIGESTS for a in range(3))
    assert all(decide(FaultPlan(rate=1.0), d, a) in KINDS for d in DIGESTS for a in range(3))
    assert not FaultPlan().active and FaultPlan(rate=0.01).active


def test_the_rate_is_the_share_of_requests_that_fail():
    faulted = sum(decide(FaultPlan(rate=0.2, seed=3), d, 0) is not None for d in DIGESTS)
    assert 0.13 * len(DIGESTS) <= faulted <= 0.27 * len(DIGESTS)


def test_only_the_configured_kinds_are_drawn_and_each_of_them_is():
    plan = FaultPlan(rate=1.0, kinds=("hang", "429"))
    drawn = {decide(plan, d, 0) for d in DIGESTS}
    assert drawn == {"429", "hang"}
    assert {decide(FaultPlan(rate=1.0), d, 0) for d in DIGESTS} == set(KINDS)


def test_kind_order_and_repeats_do_not_change_the_run():
    a = FaultPlan(rate=0.5, kinds=("500", "429", "500"), seed=4)
    b = FaultPlan(rate=0.5, kinds=("429", "500"), seed=4)
    assert a.kinds == b.kinds == ("429", "500")
    assert [decide(a, d, 0) for d in DIGESTS] == [decide(b, d, 0) for d in DIGESTS]


def test_a_retry_of_the_same_body_gets_a_fresh_decision():
    plan = FaultPlan(rate=0.5, seed=0)
    # Were the attempt not part of the rule, every body would get one decision for ever.
    assert any(len({decide(plan, d, a) for a in range(6)}) > 1 for d in DIGESTS[:5])
    recovers = [d for d in DIGESTS if decide(plan, d, 0) is not None and decide(plan, d, 1) is None]
    assert recovers


# --- the plan and its kinds ----------------------------------------------------------------------


def test_kinds_split_into_transport_and_content_faults():
    assert set(TRANSPORT_KINDS) | set(CONTENT_KINDS) == set(KINDS)
    assert not set(TRANSPORT_KINDS) & set(CONTENT_KINDS)
    assert parse_kinds(" 429, hang ,unknown_room") == ("429", "hang", "unknown_room")


@pytest.mark.parametrize("text, fragment", [("429,teapot", "unknown fault kind 'teapot'"), (" , ", "no fault kinds given")])
def test_parse_kinds_names_what_is_wrong(text, fragment):
    with pytest.raises(ValueError, match=fragment) as info:
        parse_kinds(text)
    assert "429,500,503,hang" in str(info.value)


@pytest.mark.parametrize(
    "settings, fragment",
    [
        ({"rate": 1.5}, "outside 0..1"),
        ({"rate": -0.1}, "outside 0..1"),
        ({"kinds": ()}, "no fault kinds"),
        ({"kinds": ("404",)}, "unknown fault kind '404'"),
        ({"retry_after_s": -1}, "retry-after"),
        ({"hang_s": 0}, "hang time"),
    ],
)
def test_a_bad_plan_is_refused(settings, fragment):
    with pytest.raises(ValueError, match=fragment):
        FaultPlan(**settings)


# --- what a fault says ---------------------------------------------------------------------------


def test_error_replies_are_openai_shaped():
    status, headers, body = error_reply("429", FaultPlan(retry_after_s=2))
    assert (status, headers) == (429, {"retry-after": "2"})
    assert body["error"]["code"] == "rate_limit_exceeded" and body["error"]["type"] == "requests"
    for kind in ("500", "503"):
        status, headers, body = error_reply(kind, FaultPlan())
        assert status == int(kind) and headers == {}
        assert set(body["error"]) == {"message", "type", "param", "code"}
        assert body["error"]["type"] == "server_error"
    with pytest.raises(ValueError):
        error_reply("hang", FaultPlan())


@pytest.mark.parametrize("arguments", ['{"date":"2026-03-02","time":"10:30"}', "{}", '{"a": {"b": 1}} ', "not even json"])
def test_bad_tool_args_are_never_valid_json_and_the_original_is_untouched(arguments):
    original = reply(arguments=arguments)
    snapshot = json.dumps(original)
    bent = apply_content_fault("bad_tool_args", agent_request(False), original)
    broken = bent["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    with pytest.raises(ValueError):
        json.loads(broken)
    assert json.dumps(original) == snapshot


def test_unknown_tool_names_a_tool_that_was_not_offered():
    bent = apply_content_fault("unknown_tool", agent_request(False), reply(arguments="{}"))
    assert bent["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == UNKNOWN_TOOL
    decoy = {"type": "function", "function": {"name": UNKNOWN_TOOL}}
    bent = apply_content_fault("unknown_tool", agent_request(False, tools=(TOOL, decoy)), reply(arguments="{}"))
    assert bent["choices"][0]["message"]["tool_calls"][0]["function"]["name"] not in {UNKNOWN_TOOL, "get_rooms_and_availability"}


@pytest.mark.parametrize(
    "content, expected",
    [
        ("R-101", UNKNOWN_ROOM),
        ("I'd recommend R-101. It fits the request.", UNKNOWN_ROOM),
        ("final_choice: R-101\nreason: seats 6", f"final_choice: {UNKNOWN_ROOM}\nreason: seats 6"),
        ('{"choice": "R-101", "reason": "fits"}', json.dumps({"choice": UNKNOWN_ROOM, "reason": "fits"})),
        (None, UNKNOWN_ROOM),
    ],
)
def test_unknown_room_keeps_the_answers_shape(content, expected):
    bent = apply_content_fault("unknown_room", agent_request(True), reply(content=content))
    assert bent["choices"][0]["message"]["content"] == expected
    assert bent["choices"][0]["finish_reason"] == "stop"


def test_unknown_room_turns_a_second_tool_call_into_a_final_answer():
    bent = apply_content_fault("unknown_room", agent_request(True), reply(arguments="{}"))
    message = bent["choices"][0]["message"]
    assert message["content"] == UNKNOWN_ROOM and "tool_calls" not in message


@pytest.mark.parametrize(
    "kind, request_body, response",
    [
        ("unknown_room", agent_request(False), reply(arguments="{}")),  # not at the answering stage yet
        ("unknown_room", {"messages": [{"role": "user", "content": "grade this"}]}, reply(content='{"score": 1}')),
        ("bad_tool_args", agent_request(True), reply(content="R-101")),  # no tool call to break
        ("unknown_tool", agent_request(True), reply(content="R-101")),
        ("bad_tool_args", agent_request(False), {"id": "x", "choices": []}),
    ],
)
def test_a_content_fault_that_does_not_fit_passes_through(kind, request_body, response):
    assert apply_content_fault(kind, request_body, response) is None
