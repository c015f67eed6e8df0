"""The job queue in the database: admission under throttle limits, claiming with leases, completion.

Admission and claiming are one step: a job becomes `processing` only when a worker takes it, and only
while its account has fewer than `async_limit` jobs processing. The account row is locked while that
is decided (`FOR UPDATE SKIP LOCKED` on PostgreSQL, SQLite's single writer lock), so the limit holds
across any number of API and worker processes. Accounts are served round-robin (the account claimed
longest ago first), FIFO within an account. Everything here but `processing_count` runs on the worker
threads' own connections (`Pool.BACKGROUND`), which a flood of requests cannot exhaust (issue 19).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, exists, func, or_, select, update
from sqlalchemy.orm import Session

from server import errors
from server.clock import utcnow
from server.db.models import Account, Transcript, TranscriptStatus, Upload, WebhookDelivery
from server.db.session import Pool, changed, session_scope
from server.jobs.job_fault import JobFault
from server.jobs.result_keys import REDACTED_AUDIO_FILE, REDACTED_AUDIO_PATH
from server.transcript_request import TranscriptRequest

MAX_ATTEMPTS = 3  # a job whose worker died this many times is failed, not retried forever


@dataclass(frozen=True)
class ClaimedJob:
    id: str
    account_id: str
    audio_url: str
    upload_path: str | None
    request: TranscriptRequest
    attempt: int
    queued_s: float  # how long it waited before this claim
    fault: JobFault | None = None  # injected fault stamped at creation (docs/faults.md)


_PROCESSING = (
    select(func.count())
    .select_from(Transcript)
    .where(Transcript.account_id == bindparam("account_id"), Transcript.status == TranscriptStatus.PROCESSING)
)


def processing_count(db: Session, account_id: str) -> int:
    """Jobs of the account running now. On the transaction's connection (no ORM compile, no autoflush:
    callers count before they change any row), one statement built once (issue 19, a create's CPU)."""
    return int(db.connection().execute(_PROCESSING, {"account_id": account_id}).scalar_one())


def _claimable(now: Any) -> Any:
    """Queued and not held back by an injected `hold` fault (a held job still shows `queued`)."""
    released = or_(Transcript.hold_until.is_(None), Transcript.hold_until <= now)
    return (Transcript.status == TranscriptStatus.QUEUED) & released


def _queued_exists(now: Any) -> Any:
    return exists().where(Transcript.account_id == Account.id, _claimable(now))


def claim_next(owner: str, lease_seconds: float) -> ClaimedJob | None:
    """Take the next job this node may run, or None. Safe to call from many threads and processes."""
    now = utcnow()
    with session_scope(write_lock=False, pool=Pool.BACKGROUND) as db:  # cheap look: most polls find nothing
        if db.execute(select(Transcript.id).where(_claimable(now)).limit(1)).first() is None:
            return None
    with session_scope(write_lock=True, pool=Pool.BACKGROUND) as db:
        candidates = (
            db.execute(
                select(Account.id)
                .where(_queued_exists(now))
                .order_by(Account.last_claimed_at.asc().nulls_first(), Account.created_at.asc())
            )
            .scalars()
            .all()
        )
        for account_id in candidates:
            account = db.execute(
                select(Account).where(Account.id == account_id).with_for_update(skip_locked=True)
            ).scalar_one_or_none()
            if account is None:
                continue  # another worker is admitting for this account right now
            if processing_count(db, account.id) >= account.async_limit:
                _mark_throttled(db, account.id)
                continue
            job = db.execute(
                select(Transcript)
                .where(Transcript.account_id == account.id, _claimable(now))
                .order_by(Transcript.created_at.asc(), Transcript.id.asc())
                .limit(1)
                .with_for_update(skip_locked=True)
            ).scalar_one_or_none()
            if job is None:
                continue
            now = utcnow()
            job.status = TranscriptStatus.PROCESSING
            # held back once (true, or false after a requeue) stays false; never held back stays null
            job.throttled = None if job.throttled is None else False
            job.started_at = now
            job.lease_owner = owner
            job.lease_expires_at = now + timedelta(seconds=lease_seconds)
            job.attempts += 1
            account.last_claimed_at = now
            upload = db.get(Upload, job.upload_id) if job.upload_id else None
            return ClaimedJob(
                job.id,
                account.id,
                job.audio_url,
                upload.path if upload else None,
                job.request,
                job.attempts,
                (now - job.created_at).total_seconds(),
                JobFault.from_json(job.fault),  # the one place a job's fault is read
            )
    return None


def _mark_throttled(db: Session, account_id: str) -> None:
    db.execute(
        update(Transcript)
        .where(
            Transcript.account_id == account_id,
            Transcript.status == TranscriptStatus.QUEUED,
            Transcript.throttled.is_not(True),
        )
        .values(throttled=True)
    )


def finish(
    job_id: str,
    owner: str,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    audio_duration: int | None = None,
) -> bool:
    """Record the outcome if this worker still holds the lease; queue the webhook in the same transaction.

    Returns False when the lease was lost (the job was handed to another worker): the result is dropped,
    so every job completes exactly once.
    """
    status = TranscriptStatus.ERROR if error is not None else TranscriptStatus.COMPLETED
    # write_lock: on SQLite a deferred transaction that reads and then writes fails at once ("database is
    # locked") when another process wrote in between; BEGIN IMMEDIATE waits for the writer lock instead.
    with session_scope(write_lock=True, pool=Pool.BACKGROUND) as db:
        job = db.execute(
            select(Transcript)
            .where(
                Transcript.id == job_id,
                Transcript.lease_owner == owner,
                Transcript.status == TranscriptStatus.PROCESSING,
            )
            .with_for_update()
        ).scalar_one_or_none()
        if job is None:
            return False
        job.status = status
        job.result = result
        job.error = error
        job.audio_duration = audio_duration
        job.completed_at = utcnow()
        job.lease_owner = None
        job.lease_expires_at = None
        job.progress = 1.0
        _queue_webhook(db, job)
        return True


def _queue_webhook(db: Session, job: Transcript) -> None:
    """docs/compatibility.md#webhooks: a job that reaches `completed` or `error` notifies its webhook (same
    transaction); one whose redacted audio was written (it is, before the job completes) also sends
    `redacted_audio_ready`."""
    request = job.request
    url = request.webhook_url
    if not url:
        return
    payloads: list[dict[str, Any]] = [{"transcript_id": job.id, "status": job.status}]
    done = job.status == TranscriptStatus.COMPLETED
    file_name = (job.result or {}).get(REDACTED_AUDIO_FILE) if done else None
    base = request.base_url
    if file_name and base:
        link = base + REDACTED_AUDIO_PATH.format(transcript_id=job.id, file_name=file_name)
        payloads.append({"status": "redacted_audio_ready", "redacted_audio_url": link})
    for payload in payloads:
        db.add(
            WebhookDelivery(
                transcript_id=job.id,
                url=url,
                payload=payload,
                header_name=request.webhook_auth_header_name,
                header_value=request.webhook_auth_header_value,
            )
        )


def renew_leases(owner: str, progress: dict[str, float], lease_seconds: float) -> None:
    """Heartbeat: extend the leases of the jobs this worker runs, and record their progress."""
    if not progress:
        return
    expires = utcnow() + timedelta(seconds=lease_seconds)
    with session_scope(pool=Pool.BACKGROUND) as db:
        for job_id, fraction in progress.items():
            db.execute(
                update(Transcript)
                .where(Transcript.id == job_id, Transcript.lease_owner == owner)
                .values(lease_expires_at=expires, progress=fraction)
            )


def requeue_expired() -> int:
    """Requeue jobs whose worker vanished (lease expired); fail those that keep killing workers."""
    now = utcnow()
    with session_scope(write_lock=True, pool=Pool.BACKGROUND) as db:
        expired = (
            db.execute(
                select(Transcript)
                .where(Transcript.status == TranscriptStatus.PROCESSING, Transcript.lease_expires_at < now)
                .with_for_update(skip_locked=True)
            )
            .scalars()
            .all()
        )
        for job in expired:
            job.lease_owner = None
            job.lease_expires_at = None
            if job.attempts >= MAX_ATTEMPTS:
                job.status = TranscriptStatus.ERROR
                job.error = errors.SERVER_ERROR
                job.completed_at = now
                _queue_webhook(db, job)
            else:
                job.status = TranscriptStatus.QUEUED
        return len(expired)


def hand_back(owner: str, job_ids: list[str] | None = None) -> int:
    """On shutdown: return this worker's unfinished jobs to the queue at once (no lease wait)."""
    with session_scope(write_lock=True, pool=Pool.BACKGROUND) as db:
        stmt = update(Transcript).where(
            Transcript.lease_owner == owner, Transcript.status == TranscriptStatus.PROCESSING
        )
        if job_ids is not None:
            stmt = stmt.where(Transcript.id.in_(job_ids))
        return changed(
            db,
            stmt.values(
                status=TranscriptStatus.QUEUED,
                lease_owner=None,
                lease_expires_at=None,
                attempts=Transcript.attempts - 1,
            ),
        )
