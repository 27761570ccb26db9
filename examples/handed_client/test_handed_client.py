"""Control recipe: the agent calls the openai client it is handed, with no framework in between."""

import json
import re

from replaygate import FunctionModel, Suite, ToolCall, graders

TEMPERATURES = {"Lisbon": 21, "Oslo": 4, "Cairo": 30}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "The city's temperature now.",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def get_weather(city: str) -> dict:
    return {"city": city, "temp_c": TEMPERATURES.get(city, 15)}


async def weather_agent(input, client, prompt):
    messages = list(prompt.messages)
    for _ in range(prompt.max_turns):
        reply = (await client.chat.completions.create(**prompt.chat(messages=messages, tools=TOOLS))).choices[0].message
        messages.append(reply)
        if not reply.tool_calls:
            break
        for call in reply.tool_calls:
            result = get_weather(**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
    return reply.content.strip()


def fake_model(request):
    """Reads the prompt and the tool's answer as a model would; never the expected answer."""
    system, question = request.messages[0]["content"], request.messages[-1]["content"]
    if not request.tool_results:
        return ToolCall("get_weather", {"city": re.search(r"in (\w+)", question)[1]})
    threshold = int(re.search(r"(\d+) °C", system)[1])
    return "warm" if request.tool_results[0].value["temp_c"] >= threshold else "cold"


HANDED = Suite("handed_client", solver=weather_agent, double=FunctionModel(fake_model),
               graders=[graders.ExactMatch(), graders.ToolCalled("get_weather", times=1)])


@HANDED.cases
def test_handed_client(eval_case):
    eval_case.check()
