"""What an HTTP status from a model service means for a case: the model's answer, or no answer at all.

One table for the two places that must agree: what a cassette records by default, and which failures
`replaygate.llm.infra` makes an infrastructure error instead of a score.
"""

from __future__ import annotations

# The key, the permission, the model or deployment, the URL or the proxy is wrong: asking again cannot help.
REFUSALS = frozenset({401, 403, 404, 405, 407})


def retried_status(status: int) -> bool:
    """Answers the SDK retries (request timeout, lock conflict, rate limit, server error): reaching us, its retries are spent."""
    return status in (408, 409, 429) or status >= 500


def model_answer(status: int) -> bool:
    """A 2xx, or a 4xx about the request itself (400 context too long or unsupported parameter, 413, 422): the model's
    answer to what the solver sent, recorded and replayed like any other and scored as the solver's."""
    if 200 <= status < 300:
        return True
    return 400 <= status < 500 and status not in REFUSALS and not retried_status(status)
