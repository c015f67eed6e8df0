"""What the playground shows beside the public API: limits in use, queue positions and job timings.

Read-only queries over the same tables the API uses; nothing here changes state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.clock import iso
from server.db.models import Transcript, TranscriptStatus
from server.jobs.queue import processing_count
from server.services.accounts import AccountRef


def active_streams(db: Session, account_id: str) -> int | None:
    """Open real-time sessions of the account, or None while this server has no stream registry."""
    try:
        from server.services.stream_slots import active_count
    except ImportError:
        return None
    return active_count(db, account_id)


def _queued(db: Session, account_id: str) -> list[str]:
    """The account's queued job ids in the order they will start (FIFO by creation,
    docs/compatibility.md#throttling)."""
    return list(
        db.execute(
            select(Transcript.id)
            .where(Transcript.account_id == account_id, Transcript.status == TranscriptStatus.QUEUED)
            .order_by(Transcript.created_at.asc(), Transcript.id.asc())
        )
        .scalars()
        .all()
    )


def account_summary(db: Session, account: AccountRef) -> dict[str, Any]:
    queued = _queued(db, account.id)
    return {
        "account": {"name": account.name, "tier": account.tier},
        "async": {
            "processing": processing_count(db, account.id),
            "limit": account.async_limit,
            "queued": len(queued),
        },
        "streams": {"active": active_streams(db, account.id), "limit": account.realtime_limit},
        # `ahead`: how many of the account's queued jobs were created before this one
        "queue": [{"id": job_id, "ahead": ahead} for ahead, job_id in enumerate(queued)],
    }


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def job_timing(t: Transcript, ahead: int | None) -> dict[str, Any]:
    processing_s = _seconds(t.started_at, t.completed_at)
    return {
        "id": t.id,
        "status": t.status,
        "throttled": t.throttled,
        "ahead": ahead,
        "progress": t.progress,
        "audio_duration": t.audio_duration,
        "created": iso(t.created_at),
        "started": iso(t.started_at),
        "completed": iso(t.completed_at),
        "queued_s": _seconds(t.created_at, t.started_at),
        "processing_s": processing_s,
        "turnaround_s": _seconds(t.created_at, t.completed_at),
        "speed": round(t.audio_duration / processing_s, 1) if processing_s and t.audio_duration else None,
        "source": "upload" if t.upload_id else "url",
        "deleted": t.deleted_at is not None,
    }


def job_timings(db: Session, account: AccountRef, ids: list[str] | None, limit: int) -> list[dict[str, Any]]:
    """Timings of the account's newest jobs (or of the given ids), newest first."""
    stmt = select(Transcript).where(Transcript.account_id == account.id)
    if ids is not None:
        stmt = stmt.where(Transcript.id.in_(ids))
    rows = db.execute(
        stmt.order_by(Transcript.created_at.desc(), Transcript.id.desc()).limit(limit)
    ).scalars()
    ahead = {job_id: n for n, job_id in enumerate(_queued(db, account.id))}
    return [job_timing(t, ahead.get(t.id)) for t in rows]
