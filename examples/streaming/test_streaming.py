"""Recipe: streaming agents; usage, tool calls and text are read from the recorded events."""

import json
import re

from agents import Agent, ModelSettings, OpenAIResponsesModel, Runner, function_tool
from replaygate import FunctionModel, Suite, ToolCall, graders

TEMPERATURES = {"Lisbon": 21, "Oslo": 4, "Cairo": 30}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "The city's temperature now.",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def get_weather(city: str) -> dict:
    return {"city": city, "temp_c": TEMPERATURES.get(city, 15)}


async def chat_agent(input, client, prompt):
    """The handed client, streaming: print text as it comes, then act on the whole message."""
    messages = list(prompt.messages)
    for _ in range(prompt.max_turns):
        # include_usage: a chat stream carries token counts only when asked to, for the report as for the bill.
        request = prompt.chat(messages=messages, tools=TOOLS, stream_options={"include_usage": True})
        async with client.chat.completions.stream(**request) as stream:
            async for event in stream:
                if event.type == "content.delta":
                    print(event.delta, end="")
            reply = (await stream.get_final_completion()).choices[0].message
        messages.append(reply)
        if not reply.tool_calls:
            break
        for call in reply.tool_calls:
            result = get_weather(**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
    return reply.content.strip()


async def agents_sdk_agent(input, client, prompt):
    """The Agents SDK, streaming its Responses model's events."""
    agent = Agent(name="weather", instructions=prompt.messages[0]["content"], tools=[function_tool(get_weather)],
                  model=OpenAIResponsesModel(model=prompt.model, openai_client=client),
                  model_settings=ModelSettings(temperature=prompt.temperature))
    run = Runner.run_streamed(agent, prompt.messages[1]["content"])
    async for event in run.stream_events():
        pass  # a UI would render these as they arrive
    return run.final_output.strip()


def fake_model(request):
    """Reads the prompt and the tool's answer as a model would; never the expected answer."""
    system, question = request.messages[0]["content"], request.messages[-1]["content"]
    if not request.tool_results:
        return ToolCall("get_weather", {"city": re.search(r"in (\w+)", question)[1]})
    threshold = int(re.search(r"(\d+) °C", system)[1])
    return "warm" if request.tool_results[0].value["temp_c"] >= threshold else "cold"


GRADERS = [graders.ExactMatch(), graders.ToolCalled("get_weather", times=1)]
CHAT = Suite("streaming_chat", solver=chat_agent, double=FunctionModel(fake_model), graders=GRADERS)
AGENTS = Suite("streaming_agents", solver=agents_sdk_agent, double=FunctionModel(fake_model), graders=GRADERS)


@CHAT.cases
def test_streaming_chat(eval_case):
    eval_case.check()


@AGENTS.cases
def test_streaming_agents(eval_case):
    eval_case.check()
