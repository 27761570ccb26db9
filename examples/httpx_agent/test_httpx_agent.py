"""Recipe: no SDK at all: plain httpx posts chat completions to the case's URL on the harness's loopback endpoint."""

import json
import re

import httpx
from replaygate import FunctionModel, Suite, ToolCall, graders

TEMPERATURES = {"Lisbon": 21, "Oslo": 4, "Cairo": 30}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "The city's temperature now.",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def get_weather(city: str) -> dict:
    return {"city": city, "temp_c": TEMPERATURES.get(city, 15)}


def weather_agent(input, client, prompt):  # the handed client goes unused: the URL is all httpx needs
    messages = list(prompt.messages)
    with httpx.Client(base_url=prompt.base_url, headers={"authorization": "Bearer unused"}) as http:
        for _ in range(prompt.max_turns):
            answer = http.post("/chat/completions", json=prompt.chat(messages=messages, tools=TOOLS))
            reply = answer.raise_for_status().json()["choices"][0]["message"]
            messages.append(reply)
            for call in reply.get("tool_calls") or []:
                result = get_weather(**json.loads(call["function"]["arguments"]))
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result)})
            if not reply.get("tool_calls"):
                break
    return reply["content"].strip()


def fake_model(request):
    """Reads the prompt and the tool's answer as a model would; never the expected answer."""
    system, question = request.messages[0]["content"], request.messages[-1]["content"]
    if not request.tool_results:
        return ToolCall("get_weather", {"city": re.search(r"in (\w+)", question)[1]})
    threshold = int(re.search(r"(\d+) °C", system)[1])
    return "warm" if request.tool_results[0].value["temp_c"] >= threshold else "cold"


HTTPX = Suite("httpx_agent", solver=weather_agent, double=FunctionModel(fake_model),
              graders=[graders.ExactMatch(), graders.ToolCalled("get_weather", times=1)])


@HTTPX.cases
def test_httpx_agent(eval_case):
    eval_case.check()
