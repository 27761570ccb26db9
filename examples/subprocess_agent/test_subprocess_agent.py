"""Recipe: the agent runs as a subprocess; the case's URL in its environment makes its calls the case's."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from replaygate import FunctionModel, Suite, ToolCall, graders

AGENT = Path(__file__).with_name("agent.py")


def weather_agent(input, client, prompt):  # the handed client goes unused
    env = {**os.environ, "OPENAI_BASE_URL": prompt.base_url, "OPENAI_API_KEY": "unused", "AGENT_MODEL": prompt.model}
    done = subprocess.run([sys.executable, str(AGENT)], input=json.dumps(prompt.messages), env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


def fake_model(request):
    """Reads the prompt and the tool's answer as a model would; never the expected answer."""
    system, question = request.messages[0]["content"], request.messages[-1]["content"]
    if not request.tool_results:
        return ToolCall("get_weather", {"city": re.search(r"in (\w+)", question)[1]})
    threshold = int(re.search(r"(\d+) °C", system)[1])
    return "warm" if request.tool_results[0].value["temp_c"] >= threshold else "cold"


SUBPROCESS = Suite("subprocess_agent", solver=weather_agent, double=FunctionModel(fake_model),
                   graders=[graders.ExactMatch(), graders.ToolCalled("get_weather", times=1)])


@SUBPROCESS.cases
def test_subprocess_agent(eval_case):
    eval_case.check()
