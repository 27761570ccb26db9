"""Recipe: an agent on pydantic-ai, recorded and replayed through the harness's client."""

import re

from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider
from replaygate import FunctionModel, Suite, ToolCall, graders

TEMPERATURES = {"Lisbon": 21, "Oslo": 4, "Cairo": 30}


def get_weather(city: str) -> dict:
    """The city's temperature now."""
    return {"city": city, "temp_c": TEMPERATURES.get(city, 15)}


async def weather_agent(input, client, prompt):  # async: pydantic-ai awaits its client
    model = OpenAIChatModel(prompt.model, provider=OpenAIProvider(openai_client=client))
    agent = Agent(model, instructions=prompt.messages[0]["content"], tools=[get_weather])
    result = await agent.run(prompt.messages[1]["content"], model_settings={"temperature": prompt.temperature})
    return result.output.strip()


def fake_model(request):
    """Reads the prompt and the tool's answer as a model would; never the expected answer."""
    system, question = request.messages[0]["content"], request.messages[-1]["content"]
    if not request.tool_results:
        return ToolCall("get_weather", {"city": re.search(r"in (\w+)", question)[1]})
    threshold = int(re.search(r"(\d+) °C", system)[1])
    return "warm" if request.tool_results[0].value["temp_c"] >= threshold else "cold"


PYDANTIC_AI = Suite("pydantic_ai_agent", solver=weather_agent, double=FunctionModel(fake_model),
                    graders=[graders.ExactMatch(), graders.ToolCalled("get_weather", times=1)])


@PYDANTIC_AI.cases
def test_pydantic_ai_agent(eval_case):
    eval_case.check()
