"""One chat-completions call through the openai SDK: a readable message and its usage, or a clear failure.

The SDK's typed `chat.completions.create` re-walks every message and tool spec
against its TypedDicts (about 1.6 ms a call, most of a replay's cost) only to
send the same JSON. `post` is the SDK's own generic entry point: same auth,
headers, retries, Azure routing and response parsing, without that walk.
"""

from __future__ import annotations

from typing import Any, Mapping

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessage

from replaygate.core.rollout import Rollout, Usage
from replaygate.llm.wire import call_usage

# The SDK retries HTTP failures itself; an unreadable 200 it does not, so the caller's call is asked again.
MALFORMED_RETRIES = 2


class MalformedResponse(Exception):
    pass


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200] if text else ''}".rstrip(": ")


async def complete(
    client: openai.AsyncOpenAI, body: Mapping[str, Any], headers: Mapping[str, str], rollout: Rollout
) -> tuple[ChatCompletionMessage, Usage]:
    """Send `body`; re-ask (boundedly, counted in `rollout.retries`) while the answer cannot be read."""
    for attempt in range(MALFORMED_RETRIES + 1):
        try:
            response = await client.post(
                "/chat/completions",
                cast_to=ChatCompletion,
                body=dict(body),
                options={"headers": dict(headers)} if headers else {},
            )
            message = response.choices[0].message
            message.tool_calls  # noqa: B018 - touch the shape callers rely on
            # Read as the wire says (cached input, reasoning, the model that answered): the trace's reader, one place.
            usage = response.usage
            used = call_usage({"model": response.model, "usage": usage.model_dump()} if usage is not None else {})
            return message, used
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            if attempt == MALFORMED_RETRIES:
                raise MalformedResponse(first_line(exc)) from exc
            rollout.retries += 1
    raise AssertionError("unreachable")
