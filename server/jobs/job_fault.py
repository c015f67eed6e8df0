"""What injected fault rules (server/emulator/, docs/faults.md) do to one job, read once when it is claimed.

Stamped on the transcript row at creation as JSON (`{"rules", "hold_s"?, "delay_s"?, "error"?}`); the queue
turns it into this type, and the worker and the pipeline read its attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class JobFault:
    rules: tuple[str, ...] = ()  # ids of the rules that fired
    hold_s: float | None = None  # stays `queued` this long (the queue's `hold_until`)
    delay_s: float | None = None  # this many extra seconds in `processing`
    error: str | None = None  # ends in `error` with this message, without transcribing

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> JobFault | None:
        if not data:
            return None
        return cls(
            rules=tuple(data.get("rules") or ()),
            hold_s=data.get("hold_s"),
            delay_s=data.get("delay_s"),
            error=data.get("error"),
        )
