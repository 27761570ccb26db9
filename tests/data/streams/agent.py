"""A one-tool agent written four ways (chat or Responses; `stream=True` or the SDK's `.stream()` helper), sync and
async, and its unstreamed twin: the streaming suites of tests/test_streaming_suite.py, copied into a pytester project."""

import json

from replaygate import FunctionModel, Reply, ToolCall, graders

PLANS = {"ann": "gold", "bob": "basic"}
PARAMETERS = {"type": "object", "properties": {"who": {"type": "string"}}}
TOOLS = {"chat": [{"type": "function", "function": {"name": "lookup", "parameters": PARAMETERS}}],
         "responses": [{"type": "function", "name": "lookup", "parameters": PARAMETERS}]}
TASKS = [{"id": f"{api}-{way}-{who}", "input": {"api": api, "way": way, "who": who}, "expected": PLANS[who]}
         for api in ("chat", "responses") for way in ("create", "helper") for who in PLANS]
GRADERS = [graders.ExactMatch(), graders.ToolCalled("lookup", times=1), graders.ToolCalls(min=1, max=1, allowed=["lookup"])]


def model(request):
    """Says it will look the plan up and calls the tool, then answers with the tool's result."""
    if not request.tool_results:
        return Reply("Let me look that up.", [ToolCall("lookup", {"who": request.messages[-1]["content"]})])
    return json.loads(request.tool_results[0].output)["plan"]


DOUBLE = FunctionModel(model, name="plans")


def arguments(prompt, api, history):
    """The create() keywords of a turn; `history` is the (text, calls) of the first answer, None on the first turn."""
    if history is None:
        return prompt.chat(tools=TOOLS[api]) if api == "chat" else prompt.responses(tools=TOOLS[api])
    text, calls = history
    results = [json.dumps({"plan": PLANS[json.loads(a)["who"]]}) for _, _, a in calls]
    if api == "chat":
        asked = {"role": "assistant", "content": text or None,
                 "tool_calls": [{"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in calls]}
        replies = [{"role": "tool", "tool_call_id": i, "content": r} for (i, _, _), r in zip(calls, results)]
        return prompt.chat(messages=[*prompt.messages, asked, *replies], tools=TOOLS[api])
    asked = [{"type": "function_call", "call_id": i, "name": n, "arguments": a} for i, n, a in calls]
    replies = [{"type": "function_call_output", "call_id": i, "output": r} for (i, _, _), r in zip(calls, results)]
    return prompt.responses(input=[*prompt.messages, *asked, *replies], tools=TOOLS[api])


def from_chunks(chunks):
    text, calls = "", {}
    for chunk in chunks:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for fragment in choice.delta.tool_calls or []:
                call = calls.setdefault(fragment.index, ["", "", ""])
                call[0] += fragment.id or ""
                call[1] += fragment.function.name or ""
                call[2] += fragment.function.arguments or ""
    return text, [tuple(call) for _, call in sorted(calls.items())]


def from_completion(completion):
    message = completion.choices[0].message
    return message.content or "", [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []]


def from_response(response):
    return response.output_text, [(i.call_id, i.name, i.arguments) for i in response.output if i.type == "function_call"]


def turn_sync(client, api, way, kwargs):
    if api == "chat" and way == "create":
        return from_chunks(client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}))
    if api == "chat":
        with client.chat.completions.stream(**kwargs, stream_options={"include_usage": True}) as stream:
            for _ in stream:
                pass
            return from_completion(stream.get_final_completion())
    if way == "create":
        events = list(client.responses.create(**kwargs, stream=True))
        return from_response(next(e.response for e in events if e.type == "response.completed"))
    with client.responses.stream(**kwargs) as stream:
        for _ in stream:
            pass
        return from_response(stream.get_final_response())


async def turn_async(client, api, way, kwargs):
    if api == "chat" and way == "create":
        stream = await client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True})
        return from_chunks([chunk async for chunk in stream])
    if api == "chat":
        async with client.chat.completions.stream(**kwargs, stream_options={"include_usage": True}) as stream:
            async for _ in stream:
                pass
            return from_completion(await stream.get_final_completion())
    if way == "create":
        events = [event async for event in await client.responses.create(**kwargs, stream=True)]
        return from_response(next(e.response for e in events if e.type == "response.completed"))
    async with client.responses.stream(**kwargs) as stream:
        async for _ in stream:
            pass
        return from_response(await stream.get_final_response())


async def turn_plain(client, api, way, kwargs):
    if api == "chat":
        return from_completion(await client.chat.completions.create(**kwargs))
    return from_response(await client.responses.create(**kwargs))


def streamed_sync(inp, client, prompt):
    first = turn_sync(client, inp["api"], inp["way"], arguments(prompt, inp["api"], None))
    return turn_sync(client, inp["api"], inp["way"], arguments(prompt, inp["api"], first))[0]


async def streamed_async(inp, client, prompt):
    first = await turn_async(client, inp["api"], inp["way"], arguments(prompt, inp["api"], None))
    return (await turn_async(client, inp["api"], inp["way"], arguments(prompt, inp["api"], first)))[0]


async def plain(inp, client, prompt):
    first = await turn_plain(client, inp["api"], inp["way"], arguments(prompt, inp["api"], None))
    return (await turn_plain(client, inp["api"], inp["way"], arguments(prompt, inp["api"], first)))[0]
