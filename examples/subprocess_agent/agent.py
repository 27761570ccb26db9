"""An agent as its own program: the prompt's messages as JSON on stdin, the answer on stdout.

Configured by the environment only (OPENAI_BASE_URL, OPENAI_API_KEY, AGENT_MODEL), as a CLI agent is.
"""

import json
import os
import sys

import openai

TEMPERATURES = {"Lisbon": 21, "Oslo": 4, "Cairo": 30}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "The city's temperature now.",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def get_weather(city: str) -> dict:
    return {"city": city, "temp_c": TEMPERATURES.get(city, 15)}


def main() -> None:
    client, messages = openai.OpenAI(), json.load(sys.stdin)
    for _ in range(2):
        reply = client.chat.completions.create(model=os.environ["AGENT_MODEL"], messages=messages, tools=TOOLS,
                                               temperature=0).choices[0].message
        messages.append(reply.model_dump(exclude_none=True))
        if not reply.tool_calls:
            break
        for call in reply.tool_calls:
            result = get_weather(**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
    print(reply.content.strip())


if __name__ == "__main__":
    main()
