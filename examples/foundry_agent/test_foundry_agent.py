"""Recipe: a hosted agent on Azure AI Foundry Agent Service, driven through `azure-ai-agents`, over several turns.

The solver builds its own `AgentsClient`; the harness captures its azure-core traffic into the case's cassette.
A task is a conversation: each [user] section of prompt.md is one turn, posted to one thread, and the agent must
remember the first turn's city to answer the second. Under --llm=sim an `AgentsModel` double plays the service.
"""

import json
import os
import re

from azure.ai.agents import AgentsClient
from azure.ai.agents.models import FunctionTool, MessageRole, ToolSet
from azure.core.credentials import AccessToken

from replaygate import Suite, ToolCall, graders
from replaygate.double import AgentsModel

# A real project records with its own endpoint and sign-in; the double and replays need neither.
LIVE = "AZURE_AI_PROJECT_ENDPOINT" in os.environ
ENDPOINT = os.environ.get("AZURE_AI_PROJECT_ENDPOINT", "https://offline.services.ai.azure.com/api/projects/recipe")
TEMPERATURES = {"Lisbon": 21, "Oslo": 4, "Cairo": 30}


def get_weather(city: str) -> str:
    """The city's temperature now.

    :param city: The city's name.
    """
    return json.dumps({"city": city, "temp_c": TEMPERATURES.get(city, 15)})


class OfflineCredential:
    """A placeholder sign-in: nothing checks it offline, and no Authorization header ever reaches a cassette."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken("offline-placeholder", 2**31 - 1)


def credential():
    if LIVE:
        from azure.identity import DefaultAzureCredential

        return DefaultAzureCredential()
    return OfflineCredential()


def travel_agent(input, client, prompt):
    """One thread; each user turn is posted, then a run is polled until done (the agent's tool runs here)."""
    instructions, *turns = [message["content"] for message in prompt.messages]
    with AgentsClient(endpoint=ENDPOINT, credential=credential()) as agents:
        toolset = ToolSet()
        toolset.add(FunctionTool({get_weather}))
        agents.enable_auto_function_calls(toolset)
        agent = agents.create_agent(model=prompt.model, name="travel", instructions=instructions, toolset=toolset,
                                    temperature=prompt.temperature)
        thread = agents.threads.create()
        for turn in turns:
            agents.messages.create(thread_id=thread.id, role=MessageRole.USER, content=turn)
            run = agents.runs.create_and_process(thread_id=thread.id, agent_id=agent.id, polling_interval=1 if LIVE else 0)
            if run.status != "completed":
                raise RuntimeError(f"run {run.id} ended {run.status}: {run.last_error}")
        reply = agents.messages.get_last_message_text_by_role(thread_id=thread.id, role=MessageRole.AGENT)
        agents.delete_agent(agent.id)
    return reply.text.value.strip()


def fake_agent(request):
    """Reads the instructions, the thread and the tool's answer as a model would; never the expected answer."""
    system, last = request.messages[0]["content"], request.messages[-1]["content"]
    if request.tool_results:
        threshold = int(re.search(r"(\d+) °C", system)[1])
        return "warm" if json.loads(request.tool_results[0].output)["temp_c"] >= threshold else "cold"
    if not last.endswith("?"):
        return "Noted."
    # "there": the city is in an earlier turn of the thread, not in this message.
    named = [m[1] for message in request.messages if message["role"] == "user"
             for m in [re.search(r"(?:to|in) ([A-Z]\w+)", message["content"])] if m]
    return ToolCall("get_weather", {"city": named[-1]}) if named else "Which city?"


FOUNDRY = Suite("foundry_agent", solver=travel_agent, double=AgentsModel(fake_agent, polls=2),
                graders=[graders.ExactMatch(), graders.ToolCalled("get_weather", times=1)])


@FOUNDRY.cases
def test_foundry_agent(eval_case):
    eval_case.check()
