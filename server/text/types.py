"""The API's word shape, which every function in `text/` reads and writes."""

from __future__ import annotations

from typing import TypedDict


class _WordRequired(TypedDict):
    text: str
    start: int  # ms
    end: int  # ms
    confidence: float
    speaker: str | None


class Word(_WordRequired, total=False):
    channel: str | None
