"""Recipe: an agent on the OpenAI Agents SDK, recorded and replayed through the harness's client."""

import re

from agents import Agent, ModelSettings, OpenAIChatCompletionsModel, OpenAIResponsesModel, Runner, function_tool
from replaygate import FunctionModel, Suite, ToolCall, graders

TEMPERATURES = {"Lisbon": 21, "Oslo": 4, "Cairo": 30}


@function_tool
def get_weather(city: str) -> dict:
    """The city's temperature now."""
    return {"city": city, "temp_c": TEMPERATURES.get(city, 15)}


def weather_agent(model):
    async def solve(input, client, prompt):
        agent = Agent(name="weather", instructions=prompt.messages[0]["content"], tools=[get_weather],
                      model=model(model=prompt.model, openai_client=client),
                      model_settings=ModelSettings(temperature=prompt.temperature))
        result = await Runner.run(agent, prompt.messages[1]["content"])
        return result.final_output.strip()
    return solve


def fake_model(request):
    """Reads the prompt and the tool's answer as a model would; never the expected answer."""
    system, question = request.messages[0]["content"], request.messages[-1]["content"]
    if not request.tool_results:
        return ToolCall("get_weather", {"city": re.search(r"in (\w+)", question)[1]})
    threshold = int(re.search(r"(\d+) °C", system)[1])
    return "warm" if request.tool_results[0].value["temp_c"] >= threshold else "cold"


GRADERS = [graders.ExactMatch(), graders.ToolCalled("get_weather", times=1)]
CHAT = Suite("agents_chat", solver=weather_agent(OpenAIChatCompletionsModel), double=FunctionModel(fake_model),
             graders=GRADERS)
RESPONSES = Suite("agents_responses", solver=weather_agent(OpenAIResponsesModel), double=FunctionModel(fake_model),
                  graders=GRADERS)


@CHAT.cases
def test_agents_chat(eval_case):
    eval_case.check()


@RESPONSES.cases
def test_agents_responses(eval_case):
    eval_case.check()
