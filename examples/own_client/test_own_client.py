"""Recipe: an agent that ignores the handed client and builds its own; every request is still the case's."""

import json
import re

import openai
from replaygate import FunctionModel, Suite, ToolCall, graders

TEMPERATURES = {"Lisbon": 21, "Oslo": 4, "Cairo": 30}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "The city's temperature now.",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def get_weather(city: str) -> dict:
    return {"city": city, "temp_c": TEMPERATURES.get(city, 15)}


async def production_agent(messages: list[dict], model: str) -> str:
    """Code as it runs in production: its own client, configured from the environment (OPENAI_API_KEY, ...)."""
    async with openai.AsyncOpenAI() as client:
        messages = list(messages)
        for _ in range(2):
            reply = (await client.chat.completions.create(model=model, messages=messages, tools=TOOLS, temperature=0)
                     ).choices[0].message
            messages.append(reply)
            if not reply.tool_calls:
                break
            for call in reply.tool_calls:
                result = get_weather(**json.loads(call.function.arguments))
                messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
    return reply.content.strip()


async def weather_agent(input, client, prompt):  # the handed client goes unused
    return await production_agent(prompt.messages, prompt.model)


def fake_model(request):
    """Reads the prompt and the tool's answer as a model would; never the expected answer."""
    system, question = request.messages[0]["content"], request.messages[-1]["content"]
    if not request.tool_results:
        return ToolCall("get_weather", {"city": re.search(r"in (\w+)", question)[1]})
    threshold = int(re.search(r"(\d+) °C", system)[1])
    return "warm" if request.tool_results[0].value["temp_c"] >= threshold else "cold"


OWN_CLIENT = Suite("own_client", solver=weather_agent, double=FunctionModel(fake_model),
                   graders=[graders.ExactMatch(), graders.ToolCalled("get_weather", times=1)])


@OWN_CLIENT.cases
def test_own_client(eval_case):
    eval_case.check()
