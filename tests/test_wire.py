"""The wire readers (`replaygate.llm.wire`) on response bodies shaped as the service sends them, and on anything else."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

from replaygate.llm.wire import api_of, call_ids_of, text_of, tool_calls_of, tool_results_of, usage_of

CHAT_TEXT = {
    "id": "chatcmpl-AbC123",
    "object": "chat.completion",
    "created": 1735689600,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "The Blue Room fits.", "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 120,
        "completion_tokens": 6,
        "total_tokens": 126,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    },
    "service_tier": "default",
    "system_fingerprint": "fp_1234567890",
}

CHAT_TOOLS = {
    **CHAT_TEXT,
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "annotations": [],
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 80, "completion_tokens": 31, "total_tokens": 111},
}

RESPONSES_TEXT = {
    "id": "resp_67ccd2bed1ec8190",
    "object": "response",
    "created_at": 1741476542,
    "status": "completed",
    "error": None,
    "incomplete_details": None,
    "instructions": None,
    "max_output_tokens": None,
    "model": "gpt-4.1-2025-04-14",
    "output": [
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {
            "type": "message",
            "id": "msg_1",
            "status": "completed",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": "The Blue Room ", "annotations": []},
                {"type": "refusal", "refusal": "not this part"},
            ],
        },
        {
            "type": "message",
            "id": "msg_2",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "fits.", "annotations": []}],
        },
    ],
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "reasoning": {"effort": None, "summary": None},
    "store": True,
    "temperature": 1.0,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "tools": [],
    "top_p": 1.0,
    "truncation": "disabled",
    "usage": {
        "input_tokens": 36,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 87,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 123,
    },
    "user": None,
    "metadata": {},
}

RESPONSES_TOOLS = {
    **RESPONSES_TEXT,
    "output": [
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": "{\"city\":\"Paris\"}",
            "status": "completed",
        },
        {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        {"type": "function_call", "id": "fc_2", "call_id": "call_2", "name": "get_time", "arguments": "{}", "status": "completed"},
    ],
    "usage": {**RESPONSES_TEXT["usage"], "input_tokens": 50, "output_tokens": 20, "total_tokens": 70},
}


def test_chat_bodies_read_as_the_sdk_reads_them():
    for body in (CHAT_TEXT, CHAT_TOOLS):
        parsed = ChatCompletion.model_validate(body)
        message = parsed.choices[0].message
        assert text_of(body) == message.content
        assert tool_calls_of(body) == [(c.function.name, c.function.arguments) for c in message.tool_calls or []]
        assert usage_of(body) == (parsed.usage.prompt_tokens, parsed.usage.completion_tokens)
    assert tool_calls_of(CHAT_TOOLS) == [("get_weather", '{"city": "Paris"}'), ("get_time", "{}")]
    assert text_of(CHAT_TOOLS) is None
    assert usage_of(CHAT_TEXT) == (120, 6)


def test_responses_bodies_read_as_the_sdk_reads_them():
    parsed = Response.model_validate(RESPONSES_TEXT)
    assert text_of(RESPONSES_TEXT) == parsed.output_text == "The Blue Room fits."
    assert tool_calls_of(RESPONSES_TEXT) == []
    assert usage_of(RESPONSES_TEXT) == (36, 87)

    assert tool_calls_of(RESPONSES_TOOLS) == [("get_weather", '{"city":"Paris"}'), ("get_time", "{}")]
    assert text_of(RESPONSES_TOOLS) is None
    assert usage_of(RESPONSES_TOOLS) == (50, 20)


@pytest.mark.parametrize(
    "body",
    [
        None, [], "text", 3, {}, {"choices": []}, {"choices": [None]}, {"choices": [{"message": None}]},
        {"output": None}, {"output": [1, "x", None]}, {"usage": []}, {"usage": {"prompt_tokens": 3}},
        {"usage": {"prompt_tokens": True, "completion_tokens": 1}}, {"usage": {"input_tokens": -1, "output_tokens": 2}},
        {"usage": {"input_tokens": "12", "output_tokens": 2}},
    ],
)
def test_odd_bodies_read_as_nothing(body):
    assert usage_of(body) is None
    assert tool_calls_of(body) == []
    assert text_of(body) is None


def test_odd_calls_and_content_are_skipped_or_read_leniently():
    chat = {"choices": [{"message": {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "tool_calls": [
        None, {"type": "function"}, {"function": {"name": 3}}, {"function": {"name": "f"}}, {"function": {"name": "g", "arguments": {"x": 1}}},
    ]}}]}
    assert text_of(chat) == "ab"
    assert tool_calls_of(chat) == [("f", ""), ("g", '{"x":1}')]
    responses = {"output": [{"type": "message", "content": "not a list"}, {"type": "function_call", "name": None}]}
    assert text_of(responses) is None and tool_calls_of(responses) == []


@pytest.mark.parametrize(
    "path, api",
    [
        ("/v1/chat/completions", "chat"),
        ("/openai/deployments/agent/chat/completions?api-version=2024-10-21", "chat"),
        ("/v1/chat/completions/", "chat"),
        ("chat/completions", "chat"),
        ("/v1/responses", "responses"),
        ("/openai/v1/responses", "responses"),
        ("/openai/responses?api-version=2025-04-01-preview", "responses"),
        ("/v1/responses/resp_123", None),
        ("/v1/responses/resp_123/input_items", None),
        ("/v1/completions", None),
        ("/v1/embeddings", None),
        ("/v1/models", None),
        ("", None),
        ("/", None),
    ],
)
def test_api_of_paths(path, api):
    assert api_of(path) == api


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def shaped(**fields: st.SearchStrategy) -> st.SearchStrategy:
    """Objects with some of these keys, each mostly holding its value, else any JSON: near-misses of a real body."""
    return st.fixed_dictionaries({}, optional={name: st.one_of(value, value, value, JSON) for name, value in fields.items()})


COUNTS = st.integers(min_value=0, max_value=10**6) | st.integers() | st.booleans() | st.floats()
CHAT_LIKE = shaped(
    choices=st.lists(
        shaped(message=shaped(
            content=st.text() | st.lists(shaped(type=st.just("text"), text=st.text())),
            tool_calls=st.lists(shaped(type=st.just("function"), function=shaped(name=st.text(), arguments=st.text())), min_size=1),
        )),
        min_size=1,
        max_size=2,
    ),
    usage=shaped(prompt_tokens=COUNTS, completion_tokens=COUNTS),
)
RESPONSES_LIKE = shaped(
    output=st.lists(
        shaped(
            type=st.sampled_from(["message", "function_call", "reasoning"]),
            content=st.lists(shaped(type=st.sampled_from(["output_text", "refusal"]), text=st.text())),
            name=st.text(),
            arguments=st.text(),
        ),
        min_size=1,
        max_size=3,
    ),
    usage=shaped(input_tokens=COUNTS, output_tokens=COUNTS),
)


@settings(derandomize=True, database=None, deadline=None, max_examples=150)
@given(body=JSON | CHAT_LIKE | RESPONSES_LIKE, path=st.text(max_size=30) | JSON)
def test_readers_never_raise(body: Any, path: Any):
    usage = usage_of(body)
    assert usage is None or (isinstance(usage, tuple) and all(isinstance(n, int) and n >= 0 for n in usage))
    calls = tool_calls_of(body)
    assert isinstance(calls, list) and all(isinstance(n, str) and isinstance(a, str) for n, a in calls)
    text = text_of(body)
    assert text is None or isinstance(text, str)
    assert api_of(path) in (None, "chat", "responses")
    # Call ids line up with the calls; tool results a request sends back are (id, text) pairs.
    assert len(call_ids_of(body)) == len(calls)
    assert all(isinstance(i, str) and isinstance(o, str) for i, o in tool_results_of(body))


def test_tool_results_sent_back_are_read_for_both_apis():
    chat = {"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "c1", "content": "{\"plan\": 1}"}]}
    responses = {"input": [{"type": "function_call_output", "call_id": "fc1", "output": "ok"}, "stray"]}
    assert tool_results_of(chat) == [("c1", '{"plan": 1}')]
    assert tool_results_of(responses) == [("fc1", "ok")]
