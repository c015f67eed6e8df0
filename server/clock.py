"""Naive-UTC time, the form the API writes timestamps in (ISO-8601, microseconds, no zone)."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat(timespec="microseconds") if dt else None
