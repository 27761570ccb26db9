"""Calendar dates (YYYY-MM-DD) and wall-clock times (HH:MM, 24-hour) as rooms and tasks write them."""

from __future__ import annotations

import datetime
import re
from typing import Any

# [0-9] rather than \d: \d would also accept non-ASCII digits such as "٠٩:٠٠".
_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

MINUTES_PER_DAY = 24 * 60


def minutes_of(time: Any) -> int | None:
    """Minutes since midnight for an "HH:MM" string in 00:00-23:59, else None."""
    if not isinstance(time, str):
        return None
    match = _TIME.fullmatch(time)
    return int(match[1]) * 60 + int(match[2]) if match else None


def is_date(text: Any) -> bool:
    """True for a real calendar date written YYYY-MM-DD (so 2026-02-30 is refused)."""
    if not isinstance(text, str) or not _DATE.fullmatch(text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True

