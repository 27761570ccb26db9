"""Recipe: a LangChain tool-calling agent, recorded and replayed through the harness's client."""

import re

from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from replaygate import FunctionModel, Suite, ToolCall, graders

TEMPERATURES = {"Lisbon": 21, "Oslo": 4, "Cairo": 30}


@tool
def get_weather(city: str) -> dict:
    """The city's temperature now."""
    return {"city": city, "temp_c": TEMPERATURES.get(city, 15)}


async def weather_agent(input, client, prompt):
    llm = ChatOpenAI(model=prompt.model, temperature=prompt.temperature,
                     root_async_client=client, async_client=client.chat.completions).bind_tools([get_weather])
    messages = list(prompt.messages)
    for _ in range(prompt.max_turns):
        reply = await llm.ainvoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            break
        messages += [await get_weather.ainvoke(call) for call in reply.tool_calls]
    return reply.content.strip()


def fake_model(request):
    """Reads the prompt and the tool's answer as a model would; never the expected answer."""
    system, question = request.messages[0]["content"], request.messages[-1]["content"]
    if not request.tool_results:
        return ToolCall("get_weather", {"city": re.search(r"in (\w+)", question)[1]})
    threshold = int(re.search(r"(\d+) °C", system)[1])
    return "warm" if request.tool_results[0].value["temp_c"] >= threshold else "cold"


LANGCHAIN = Suite("langchain_agent", solver=weather_agent, double=FunctionModel(fake_model),
                  graders=[graders.ExactMatch(), graders.ToolCalled("get_weather", times=1)])


@LANGCHAIN.cases
def test_langchain_agent(eval_case):
    eval_case.check()
