"""One chat-completions call through the openai SDK, with a body the caller has already built.

The SDK's typed `chat.completions.create` re-walks every message and tool spec
against its TypedDicts (about 1.6 ms a call, most of a replay's cost) only to
send the same JSON. `post` is the SDK's own generic entry point: same auth,
headers, retries, Azure routing and response parsing, without that walk.
"""

from __future__ import annotations

from typing import Any, Mapping

import openai
from openai.types.chat import ChatCompletion


async def complete(client: openai.AsyncOpenAI, body: Mapping[str, Any], headers: Mapping[str, str]) -> ChatCompletion:
    return await client.post(
        "/chat/completions",
        cast_to=ChatCompletion,
        body=dict(body),
        options={"headers": dict(headers)} if headers else {},
    )
