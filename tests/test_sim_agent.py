"""The simulator's agent role, driven through the real openai SDK over SimTransport."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import httpx2
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evals.sim import MODEL_NAME, SimRequestError, SimTransport, respond
from evals.sim.facts import extract_facts
from evals.sim.judge import grade

TOOL = {
    "type": "function",
    "function": {
        "name": "get_rooms_and_availability",
        "description": "List rooms with capacity, equipment, accessibility, distance and bookings for a slot.",
        "parameters": {
            "type": "object",
            "properties": {"date": {"type": "string"}, "time": {"type": "string"}, "duration_min": {"type": "integer"}},
            "required": ["date", "time", "duration_min"],
        },
    },
}

TASK = (
    "Find a room on 2026-03-02 at 10:30 for 45 minutes, 6 attendees. "
    "Needs: projector, whiteboard. Accessible required: True"
)
WEAK_PROMPT = TASK

STRONG_PROMPT = (
    "You book meeting rooms. Call the tool only once.\n"
    "Rules: the room must be free for the whole slot; capacity >= attendees; "
    "it must have all required equipment; it must be accessible when required.\n"
    "Among rooms that pass, prefer the tightest fit, then the nearest, then fewest extra equipment items, "
    "then fewest bookings that day.\n"
    'If no room fits, answer "No Room". Reply with only the room id.\n' + TASK
)


def room(rid, capacity, equipment, accessible=True, distance=10, bookings=(), free=True):
    entry = {"id": rid, "capacity": capacity, "equipment": list(equipment), "accessible": accessible,
             "distance_m": distance, "bookings": [list(b) for b in bookings]}
    if free is not None:
        entry["free"] = free
    return entry


# Every tempting room breaks exactly one rule; R-102 is the only room passing all four with
# the tightest fit, and it is listed late and far away so habits lead elsewhere.
TEMPTING_WORLD = [
    room("Atlas", 4, ["projector", "whiteboard"], distance=5),                                   # too small
    room("R-300", 6, ["projector", "whiteboard"], distance=20, bookings=[("2026-03-02", "10:00", 90)], free=False),
    room("B2.14", 10, ["projector"], distance=10),                                               # no whiteboard
    room("R-204", 12, ["projector", "whiteboard", "display"], accessible=False, distance=15),     # not accessible
    room("R-102", 6, ["projector", "whiteboard"], distance=60, bookings=[("2026-03-02", "14:00", 60)]),
    room("R-101", 8, ["projector", "whiteboard", "display"], distance=40),
]


def tool_result(world, arguments: str) -> str:
    args = json.loads(arguments)
    missing = [k for k in ("date", "time", "duration_min") if k not in args]
    if missing:
        return json.dumps({"error": f"missing {', '.join(missing)}"})
    return json.dumps({"rooms": world})


def assistant_turn(message) -> dict:
    return {
        "role": "assistant",
        "content": message.content,
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
            for c in message.tool_calls
        ],
    }


def sync_client() -> openai.OpenAI:
    return openai.OpenAI(api_key="x", base_url="http://sim.invalid/v1", http_client=httpx2.Client(transport=SimTransport()))


def converse(client: openai.OpenAI, prompt: str, world, seed: int, **extra):
    """Run the agent loop; returns (final text, number of tool calls)."""
    messages = [{"role": "user", "content": prompt}]
    calls = 0
    for _ in range(6):
        reply = client.chat.completions.create(
            model=MODEL_NAME, messages=messages, tools=[TOOL], tool_choice="auto", seed=seed, temperature=0, **extra
        )
        message = reply.choices[0].message
        if not message.tool_calls:
            assert reply.choices[0].finish_reason == "stop"
            return message.content, calls
        assert reply.choices[0].finish_reason == "tool_calls"
        calls += len(message.tool_calls)
        messages.append(assistant_turn(message))
        for call in message.tool_calls:
            messages.append({"role": "tool", "tool_call_id": call.id, "content": tool_result(world, call.function.arguments)})
    raise AssertionError("agent never answered")


def converse_direct(prompt: str, world, seed: int, tools=(TOOL,), **extra):
    """The same loop against `respond` directly, for the many-seed statistics."""
    messages = [{"role": "user", "content": prompt}]
    calls = 0
    for _ in range(6):
        message = respond({"model": MODEL_NAME, "messages": messages, "tools": list(tools), "seed": seed, **extra})["choices"][0]["message"]
        if not message.get("tool_calls"):
            return message["content"], calls
        calls += len(message["tool_calls"])
        messages.append({"role": "assistant", "content": None, "tool_calls": message["tool_calls"]})
        for call in message["tool_calls"]:
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": tool_result(world, call["function"]["arguments"])})
    raise AssertionError("agent never answered")


@pytest.fixture(scope="module")
def client():
    with sync_client() as c:
        yield c


def test_strong_prompt_gets_the_right_room_through_the_sync_sdk(client):
    for seed in range(5):
        answer, calls = converse(client, STRONG_PROMPT, TEMPTING_WORLD, seed)
        assert answer == "R-102"
        assert calls == 1


def test_first_turn_is_a_tool_call_with_extracted_arguments(client):
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL_NAME, messages=[{"role": "user", "content": WEAK_PROMPT}], tools=[TOOL], tool_choice="auto", seed=3
    )
    assert raw.headers["x-simulator"] == "evals.sim offline stand-in (not a real model)"
    reply = raw.parse()
    assert reply.model == MODEL_NAME
    assert reply.id.startswith("chatcmpl-sim-")
    assert reply.choices[0].message.content is None
    (call,) = reply.choices[0].message.tool_calls
    assert call.id.startswith("call_")
    assert call.function.name == "get_rooms_and_availability"
    assert json.loads(call.function.arguments) == {"date": "2026-03-02", "time": "10:30", "duration_min": 45}
    assert reply.usage.prompt_tokens == -(-len(WEAK_PROMPT) // 4)
    assert reply.usage.completion_tokens > 0


def test_async_sdk_full_conversation():
    async def run():
        client = openai.AsyncOpenAI(api_key="x", base_url="http://sim.invalid/v1", http_client=httpx2.AsyncClient(transport=SimTransport()))
        messages = [{"role": "user", "content": STRONG_PROMPT}]
        first = await client.chat.completions.create(model=MODEL_NAME, messages=messages, tools=[TOOL], tool_choice="auto", seed=7)
        call = first.choices[0].message.tool_calls[0]
        messages += [assistant_turn(first.choices[0].message),
                     {"role": "tool", "tool_call_id": call.id, "content": tool_result(TEMPTING_WORLD, call.function.arguments)}]
        second = await client.chat.completions.create(model=MODEL_NAME, messages=messages, tools=[TOOL], tool_choice="auto", seed=7)
        await client.close()
        return second

    second = asyncio.run(run())
    assert second.choices[0].message.content == "R-102"
    assert second.choices[0].message.tool_calls is None


def test_async_azure_client_reaches_the_simulator():
    async def run():
        client = openai.AsyncAzureOpenAI(api_key="x", azure_endpoint="https://sim.invalid", api_version="2024-10-21",
                                         http_client=httpx2.AsyncClient(transport=SimTransport()))
        reply = await client.chat.completions.create(model="my-deployment", messages=[{"role": "user", "content": STRONG_PROMPT}],
                                                     tools=[TOOL], seed=1)
        await client.close()
        return reply

    reply = asyncio.run(run())
    assert reply.choices[0].finish_reason == "tool_calls"


def test_weak_prompt_is_fallible_on_a_tempting_world(client):
    outcomes = [converse(client, WEAK_PROMPT, TEMPTING_WORLD, seed)[0] for seed in range(20)]
    wrong = [out for out in outcomes if grade(out, "R-102")[0] == 0.0]
    assert len(wrong) >= 1
    assert len(set(outcomes)) > 3  # seeds change the answer


def test_weak_prompt_is_sometimes_right_on_an_easier_world():
    easy = [room("R-101", 8, ["projector", "whiteboard"], distance=30),
            room("R-102", 4, ["projector", "whiteboard"], distance=10),
            room("R-103", 10, ["projector"], distance=50)]
    scores = [grade(converse_direct(WEAK_PROMPT, easy, seed)[0], "R-101")[0] for seed in range(20)]
    assert 0 < sum(scores) < 20


def test_same_body_gives_byte_identical_responses(client):
    body = {"model": MODEL_NAME, "messages": [{"role": "user", "content": WEAK_PROMPT}], "tools": [TOOL], "seed": 11}
    assert json.dumps(respond(body)) == json.dumps(respond(json.loads(json.dumps(body))))
    raw = [client.chat.completions.with_raw_response.create(**body).content for _ in range(2)]
    assert raw[0] == raw[1]
    reordered = dict(reversed(list(body.items())))
    assert respond(reordered) == respond(body)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**31))
def test_answer_is_a_pure_function_of_the_body(seed):
    assert converse_direct(WEAK_PROMPT, TEMPTING_WORLD, seed) == converse_direct(WEAK_PROMPT, TEMPTING_WORLD, seed)


def test_missing_seed_means_seed_zero():
    call = {"id": "call_1", "type": "function", "function": {"name": TOOL["function"]["name"], "arguments": "{}"}}
    messages = [{"role": "user", "content": WEAK_PROMPT}, {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_1", "content": json.dumps({"rooms": TEMPTING_WORLD})}]
    answers = {seed: respond({"messages": messages, "tools": [TOOL], "seed": seed})["choices"][0]["message"]["content"]
               for seed in (None, 0, 1, 2, 3)}
    assert answers[None] == answers[0]
    assert len(set(answers.values())) > 1


@pytest.mark.parametrize(
    ("order", "expected"),
    [("Prefer the tightest fit, then the nearest room.", "Snug"),
     ("Prefer the nearest room, then the tightest fit.", "Near")],
)
def test_tiebreaks_apply_in_prompt_order(order, expected):
    world = [room("Near", 10, ["projector"], distance=5), room("Snug", 6, ["projector"], distance=90)]
    prompt = f"{order} Reply with only the room id.\n{TASK.replace('projector, whiteboard', 'projector')}"
    for seed in range(6):
        assert converse_direct(prompt, world, seed)[0] == expected


@pytest.mark.parametrize(
    ("order", "expected"),
    [("Break ties by fewest extra equipment items, then fewest bookings that day.", "Lean"),
     ("Break ties by fewest bookings that day, then fewest extra equipment items.", "Quiet")],
)
def test_booking_count_only_counts_the_meeting_day(order, expected):
    # Quiet has more bookings overall but fewer on 2026-03-02, so "that day" must be honoured.
    lean = room("Lean", 6, ["projector"], bookings=[("2026-03-02", "08:00", 30), ("2026-03-02", "13:00", 30), ("2026-03-02", "16:00", 30)])
    quiet = room("Quiet", 6, ["projector", "tv", "phone"],
                 bookings=[("2026-03-02", "16:00", 30)] + [("2026-03-0%d" % d, "09:00", 60) for d in (3, 4, 5, 6, 7)])
    prompt = f"{order} Reply with only the room id.\n{TASK.replace('projector, whiteboard', 'projector')}"
    for seed in range(6):
        assert converse_direct(prompt, [lean, quiet], seed)[0] == expected


def test_availability_is_read_from_bookings_when_free_is_absent():
    world = [room("Busy", 6, ["projector"], bookings=[("2026-03-02", "10:00", 60)], free=None),
             room("Open", 6, ["projector"], distance=99, bookings=[("2026-03-02", "11:15", 30)], free=None)]
    prompt = "Only pick a room that is not already booked. Reply with only the room id.\n" + TASK.replace("projector, whiteboard", "projector")
    assert {converse_direct(prompt, world, seed)[0] for seed in range(6)} == {"Open"}


def test_repeat_tool_calls_happen_only_without_the_single_call_instruction():
    without = [converse_direct(WEAK_PROMPT, TEMPTING_WORLD, seed)[1] for seed in range(40)]
    assert 2 in without and 1 in without
    assert max(without) == 2  # it repeats at most once
    with_rule = [converse_direct("Do not repeat the tool call.\n" + WEAK_PROMPT, TEMPTING_WORLD, seed)[1] for seed in range(40)]
    assert set(with_rule) == {1}


def test_repeated_call_reuses_the_tool_name_and_arguments():
    tool = {"type": "function", "function": {**TOOL["function"], "name": "lookup_rooms"}}
    for seed in range(40):
        messages = [{"role": "user", "content": WEAK_PROMPT}]
        first = respond({"messages": messages, "tools": [tool], "seed": seed})["choices"][0]["message"]["tool_calls"][0]
        assert first["function"]["name"] == "lookup_rooms"
        messages += [{"role": "assistant", "content": None, "tool_calls": [first]},
                     {"role": "tool", "tool_call_id": first["id"], "content": json.dumps({"rooms": TEMPTING_WORLD})}]
        again = respond({"messages": messages, "tools": [tool], "seed": seed})["choices"][0]["message"].get("tool_calls")
        if again:
            assert again[0]["function"] == first["function"]
            assert again[0]["id"] != first["id"]
            return
    pytest.fail("no seed in 40 repeated the tool call")


def test_missing_fact_gives_a_bad_call_and_an_apology():
    prompt = "Find a room on 2026-03-02 for 6 attendees. Needs: none. Reply with only the room id."
    first = respond({"messages": [{"role": "user", "content": prompt}], "tools": [TOOL]})["choices"][0]["message"]["tool_calls"][0]
    assert json.loads(first["function"]["arguments"]) == {"date": "2026-03-02"}
    answer, _ = converse_direct(prompt, TEMPTING_WORLD, 0)
    assert "sorry" in answer.lower()
    assert not any(r["id"] in answer for r in TEMPTING_WORLD)


def test_no_room_answer_when_asked_and_guessing_when_not():
    hopeless = [room("R-1", 2, ["projector"]), room("R-2", 3, [], accessible=False, free=False)]
    asked = {converse_direct(STRONG_PROMPT, hopeless, seed)[0] for seed in range(10)}
    assert asked == {"No Room"}
    unasked_prompt = "Rooms must be free for the whole slot, fit all attendees, have all required equipment and be wheelchair accessible. Reply with only the room id.\n" + TASK
    unasked = {converse_direct(unasked_prompt, hopeless, seed)[0] for seed in range(20)}
    assert "No Room" in unasked and "R-1" in unasked  # sometimes admits it, sometimes forces the first free room


def test_final_choice_and_json_schema_formats():
    prompt = STRONG_PROMPT + "\nAnswer as final_choice: <id>"
    answer, _ = converse_direct(prompt, TEMPTING_WORLD, 2)
    assert answer.splitlines()[0] == "final_choice: R-102"
    assert answer.splitlines()[1].startswith("reason: ")
    schema = {"type": "json_schema", "json_schema": {"name": "pick", "strict": True, "schema": {
        "type": "object", "properties": {"room_id": {"type": "string"}, "reason": {"type": "string"}, "confidence": {"type": "number"}},
        "required": ["room_id", "reason", "confidence"], "additionalProperties": False}}}
    answer, _ = converse_direct(STRONG_PROMPT, TEMPTING_WORLD, 2, response_format=schema)
    data = json.loads(answer)
    assert data["room_id"] == "R-102" and isinstance(data["reason"], str) and data["confidence"] == 0.0


def test_free_text_answers_ramble_without_the_format_instruction():
    prompt = STRONG_PROMPT.replace("Reply with only the room id.", "")
    answers = {converse_direct(prompt, TEMPTING_WORLD, seed)[0] for seed in range(20)}
    assert all("R-102" in a for a in answers)
    assert len(answers) > 1 and "R-102" not in answers


def test_facts_survive_rewording():
    facts = extract_facts("Please book for 6 people, 2026-03-02, 9:05, for 90 min. Needs: Projector and video conferencing. accessible: yes")
    assert (facts.date, facts.time, facts.duration_min, facts.attendees) == ("2026-03-02", "09:05", 90, 6)
    assert facts.needs == ("projector", "video conferencing") and facts.accessible_required is True
    assert extract_facts(TASK.replace("projector, whiteboard", "none").replace("True", "False")).needs == ()


@settings(max_examples=60, deadline=None)
@given(
    day=st.dates(min_value=date(1000, 1, 1)).map(lambda d: d.isoformat()),
    hour=st.integers(0, 23), minute=st.integers(0, 59), duration=st.integers(1, 600), people=st.integers(1, 500),
    needs=st.lists(st.sampled_from(["projector", "whiteboard", "display", "video conferencing"]), unique=True),
    accessible=st.booleans(),
)
def test_facts_round_trip_the_committed_template(day, hour, minute, duration, people, needs, accessible):
    text = (f"Find a room on {day} at {hour}:{minute:02d} for {duration} minutes, {people} attendees. "
            f"Needs: {', '.join(needs) or 'none'}. Accessible required: {accessible}")
    facts = extract_facts(text)
    assert (facts.date, facts.time, facts.duration_min, facts.attendees) == (day, f"{hour:02d}:{minute:02d}", duration, people)
    assert facts.needs == tuple(needs) and facts.accessible_required is accessible


def test_generic_reply_for_other_requests():
    reply = respond({"messages": [{"role": "user", "content": "What is the capital of France?"}]})
    assert "simulator" in reply["choices"][0]["message"]["content"]
    assert reply["model"] == MODEL_NAME


@pytest.mark.parametrize(
    ("body", "fragment"),
    [({}, "no 'messages'"), ({"messages": "hi"}, "must be a list"), ({"messages": []}, "empty"),
     ({"messages": [{"role": "robot", "content": "x"}]}, "unknown role"), ([1, 2], "JSON object")],
)
def test_invalid_requests_raise_with_a_clear_message(body, fragment):
    with pytest.raises(SimRequestError, match=fragment):
        respond(body)


def test_transport_maps_errors_to_openai_shapes(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL_NAME, messages=[{"role": "robot", "content": "x"}])
    assert info.value.status_code == 400
    assert info.value.body["type"] == "invalid_request_error" and "unknown role" in info.value.body["message"]
    with httpx2.Client(transport=SimTransport()) as http:
        missing = http.get("http://sim.invalid/v1/embeddings")
        malformed = http.post("http://sim.invalid/v1/chat/completions", content=b"{not json")
    assert missing.status_code == 404
    assert missing.json()["error"] == {"message": missing.json()["error"]["message"], "type": "invalid_request_error", "param": None, "code": None}
    assert malformed.status_code == 400 and "not valid JSON" in malformed.json()["error"]["message"]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(prompt=st.text(max_size=200), listing=_JSON, response_format=_JSON, seed=st.integers())
def test_garbage_never_crashes_the_agent(prompt, listing, response_format, seed):
    call = {"id": "c1", "type": "function", "function": {"name": "get_rooms_and_availability", "arguments": "{}"}}
    body = {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": None, "tool_calls": [call]},
                         {"role": "tool", "tool_call_id": "c1", "content": json.dumps({"rooms": listing})}],
            "tools": [TOOL], "seed": seed, "response_format": response_format}
    try:
        reply = respond(body)
    except SimRequestError:
        return
    assert reply["choices"][0]["finish_reason"] in ("stop", "tool_calls")
    json.dumps(reply)
