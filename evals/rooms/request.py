"""What a room task asks for: when, how long, how many people, which equipment, and step-free access."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from replaygate import Task
from evals.rooms.clock import is_date, minutes_of
from evals.rooms.errors import TaskInputError, shown

__all__ = ["RoomRequest", "TaskInputError", "prompt_values"]

_FIX = "fix the task"


@dataclass(frozen=True)
class RoomRequest:
    date: str
    time: str
    duration_min: int
    attendees: int
    needs: tuple[str, ...]
    accessible_required: bool

    @property
    def start_min(self) -> int:
        return minutes_of(self.time)  # type: ignore[return-value]  # validated by from_input

    @classmethod
    def from_task(cls, task: Task) -> "RoomRequest":
        """Validate `task.input`; errors name the task's "path:line" and id."""
        where = f"{task.source or 'task'}: task {task.id!r}"
        return cls.from_input(task.input, where)

    @classmethod
    def from_input(cls, data: Any, where: str) -> "RoomRequest":
        """Validate a task_input mapping; keys other than the six below are ignored."""
        if not isinstance(data, Mapping):
            raise TaskInputError(f'{where}: "task_input" must be an object, got {shown(data)}; {_FIX}')

        def field(key: str) -> Any:
            if key not in data:
                raise TaskInputError(f'{where}: "task_input" has no "{key}"; add it to the task')
            return data[key]

        date = field("date")
        if not is_date(date):
            raise TaskInputError(f'{where}: "date" must be a real date YYYY-MM-DD, got {shown(date)}; {_FIX}')
        time = field("time")
        if minutes_of(time) is None:
            raise TaskInputError(
                f'{where}: "time" must be HH:MM between 00:00 and 23:59, got {shown(time)}; {_FIX}'
            )
        duration = field("duration_min")
        if not _is_whole(duration) or duration < 1:
            raise TaskInputError(
                f'{where}: "duration_min" must be a whole number of minutes ≥ 1, got {shown(duration)}; {_FIX}'
            )
        attendees = field("attendees")
        if not _is_whole(attendees) or attendees < 1:
            raise TaskInputError(f'{where}: "attendees" must be a whole number ≥ 1, got {shown(attendees)}; {_FIX}')
        needs = field("needs")
        if not isinstance(needs, list) or not all(isinstance(n, str) and n.strip() for n in needs):
            raise TaskInputError(
                f'{where}: "needs" must be a list of equipment names (may be empty), got {shown(needs)}; {_FIX}'
            )
        accessible = field("accessible_required")
        if not isinstance(accessible, bool):
            raise TaskInputError(f'{where}: "accessible_required" must be true or false, got {shown(accessible)}; {_FIX}')
        # Lower-cased like room equipment so the match is case-insensitive; duplicates add nothing.
        normalized = tuple(dict.fromkeys(n.strip().lower() for n in needs))
        return cls(
            date=date,
            time=time,
            duration_min=duration,
            attendees=attendees,
            needs=normalized,
            accessible_required=accessible,
        )


def prompt_values(req: RoomRequest) -> dict[str, str]:
    """Text for the prompt placeholders {date} {time} {duration_min} {attendees} {needs} {accessible_required}."""
    return {
        "date": req.date,
        "time": req.time,
        "duration_min": str(req.duration_min),
        "attendees": str(req.attendees),
        "needs": ", ".join(req.needs) if req.needs else "none",
        "accessible_required": str(req.accessible_required),
    }


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON true is not a count
