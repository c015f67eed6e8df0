"""What a transcript request means: create (queue), get, list with pagination, delete."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy import Connection, and_, bindparam, insert, or_, select
from sqlalchemy.orm import Session

from server import errors
from server.clock import utcnow
from server.db.models import Transcript, TranscriptStatus, Upload, new_id
from server.db.reads import transcript_stamp
from server.jobs.queue import processing_count
from server.services.accounts import AccountRef
from server.services.list_params import UUID_RE
from server.services.redacted_audio import delete_redacted_audio
from server.services.rendered_cache import FINISHED, dumps
from server.services.transcript_view import render_list_item, render_transcript
from server.services.uploads import release_upload
from server.transcript_request import BASE_URL_KEY, TranscriptRequest

_UPLOAD_PATH = re.compile(r"^/v2/upload/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


def create_transcript(
    db: Session,
    account: AccountRef,
    request: TranscriptRequest,
    base_url: str | None = None,
    stamp: Callable[[Session, Transcript], None] | None = None,
) -> Transcript:
    """Store a validated request as a `queued` job; the scheduler admits it when a slot is free.

    `base_url` (the server as the client reached it) is kept, never echoed, for the `redacted_audio_ready`
    webhook's URL. `stamp` (the injected faults and scripts, server/emulator/) fills in the new job's fault
    columns in the same transaction, before the row is written.

    The row is written by one Core INSERT of a transient object, not the ORM's unit of work, and the two
    reads go through the transaction's connection: the ORM's flush and identity-map loads were a third of
    a create's database CPU (issue 19). The returned object is detached, with every column set.
    """
    params = request.to_json()
    if base_url is not None:
        params[BASE_URL_KEY] = base_url
    audio_url = request.audio_url
    conn = db.connection()
    upload_id = _own_upload(conn, account, audio_url)
    throttled = True if processing_count(db, account.id) >= account.async_limit else None
    t = Transcript(
        id=new_id(),
        account_id=account.id,
        status=TranscriptStatus.QUEUED,
        throttled=throttled,
        audio_url=audio_url,
        upload_id=upload_id,
        params=params,
        created_at=utcnow(),
        attempts=0,
    )
    if stamp is not None:
        stamp(db, t)
    conn.execute(_INSERT, {c: getattr(t, c) for c in _INSERTED})
    return t


_INSERT = insert(Transcript)
_INSERTED = (
    "id", "account_id", "status", "throttled", "audio_url", "upload_id", "params", "created_at", "attempts",
    "fault", "hold_until",
)  # fmt: skip
_UPLOAD_OWNER = select(Upload.account_id).where(Upload.id == bindparam("upload_id"))


def _own_upload(conn: Connection, account: AccountRef, audio_url: str) -> str | None:
    """The id of our upload that `audio_url` names, if any; it must belong to the same account
    (docs/compatibility.md#auth: 403 otherwise)."""
    match = _UPLOAD_PATH.match(urlsplit(audio_url).path)
    if not match:
        return None
    owner = conn.execute(_UPLOAD_OWNER, {"upload_id": match.group(1)}).scalar_one_or_none()
    if owner is None:
        return None  # not one of ours after all (e.g. another server's URL): download it
    if owner != account.id:
        raise errors.ApiError(403, errors.CANNOT_ACCESS_UPLOAD)
    return match.group(1)


def get_transcript(db: Session, account: AccountRef, transcript_id: str) -> Transcript:
    """Unknown ids and other accounts' ids look the same: 400 lookup error
    (docs/compatibility.md#http-errors)."""
    t = db.get(Transcript, transcript_id) if UUID_RE.match(transcript_id) else None
    if t is None or t.account_id != account.id:
        raise errors.ApiError(400, errors.TRANSCRIPT_NOT_FOUND)
    return t


def stamp_key(t: Transcript) -> tuple[str, datetime | None, datetime | None, int | None]:
    """`TranscriptStamp.key()` of a loaded row: the state its rendered JSON is valid for."""
    return (t.status, t.completed_at, t.deleted_at, t.webhook_status_code)


def cached_transcript_json(account: AccountRef, transcript_id: str) -> bytes | None:
    """A finished transcript's JSON as rendered last time, if its row has not changed since (one read of
    five columns, no session); None when it must be rendered (`transcript_json`). Unknown ids and other
    accounts' ids answer the same 400 as `get_transcript`."""
    stamp = transcript_stamp(transcript_id) if UUID_RE.match(transcript_id) else None
    if stamp is None or stamp.account_id != account.id:
        raise errors.ApiError(400, errors.TRANSCRIPT_NOT_FOUND)
    if stamp.status not in (TranscriptStatus.COMPLETED, TranscriptStatus.ERROR):
        return None
    return FINISHED.get(transcript_id, stamp.key())


def transcript_json(db: Session, account: AccountRef, transcript_id: str) -> bytes:
    """The Transcript object as JSON, rendered; a finished one is kept in `FINISHED` for the next poll."""
    t = get_transcript(db, account, transcript_id)
    body = dumps(render_transcript(t))
    if t.status in (TranscriptStatus.COMPLETED, TranscriptStatus.ERROR):
        FINISHED.put(transcript_id, stamp_key(t), body)  # the row as rendered (it may have moved on)
    return body


def delete_transcript(db: Session, account: AccountRef, transcript_id: str, data_dir: Path) -> Transcript:
    t = get_transcript(db, account, transcript_id)
    if t.status in (TranscriptStatus.QUEUED, TranscriptStatus.PROCESSING):
        raise errors.ApiError(400, errors.STILL_PROCESSING)
    if t.deleted_at is None:
        t.deleted_at = utcnow()
        delete_redacted_audio(t, data_dir)
        t.result = None
        if t.upload_id:
            release_upload(db, t.upload_id, t.id)
        for path in (data_dir / "downloads").glob(f"{t.id}*"):
            path.unlink(missing_ok=True)
    return t


def list_transcripts(
    db: Session, account: AccountRef, query: dict[str, Any], base_url: str
) -> dict[str, Any]:
    """Newest first; `prev_url` pages to older items, `next_url` to newer (docs/compatibility.md#list)."""
    limit: int = query["limit"]
    stmt = select(Transcript).where(Transcript.account_id == account.id)
    if query.get("throttled_only"):
        stmt = stmt.where(Transcript.throttled.is_(True), Transcript.status == TranscriptStatus.QUEUED)
    elif query.get("status"):
        stmt = stmt.where(Transcript.status == query["status"])
    if query.get("created_on"):
        day = datetime.combine(query["created_on"], datetime.min.time())
        stmt = stmt.where(Transcript.created_at >= day, Transcript.created_at < day + timedelta(days=1))
    stmt = stmt.where(Transcript.created_at >= utcnow() - timedelta(days=90))

    before = _anchor(db, account, query.get("before_id"))
    after = _anchor(db, account, query.get("after_id"))
    if (
        before is not None
        and after is not None
        and (after.created_at, after.id) >= (before.created_at, before.id)
    ):
        raise errors.ApiError(400, errors.LIST_BOUNDS_INVERTED)
    if before is not None:
        stmt = stmt.where(_older_than(before))
    if after is not None:
        # the page of newer items that sits right after the anchor, shown newest first like every page
        rows = (
            db.execute(
                stmt.where(_newer_than(after))
                .order_by(Transcript.created_at.asc(), Transcript.id.asc())
                .limit(limit)
            )
            .scalars()
            .all()
        )
        items = list(reversed(rows))
    else:
        items = list(
            db.execute(stmt.order_by(Transcript.created_at.desc(), Transcript.id.desc()).limit(limit))
            .scalars()
            .all()
        )

    carried = {k: v for k, v in _query_strings(query).items() if k not in ("before_id", "after_id")}
    has_older = bool(items) and db.execute(stmt.where(_older_than(items[-1])).limit(1)).first() is not None

    def url(**extra: str) -> str:
        return f"{base_url}/v2/transcript?{urlencode({**carried, **extra})}"

    return {
        "page_details": {
            "limit": limit,
            "result_count": len(items),
            "current_url": url(
                **{k: v for k, v in _query_strings(query).items() if k in ("before_id", "after_id")}
            ),
            "prev_url": url(before_id=items[-1].id) if has_older else None,
            "next_url": url(after_id=items[0].id) if items else None,
        },
        "transcripts": [render_list_item(t, base_url) for t in items],
    }


def _anchor(db: Session, account: AccountRef, transcript_id: str | None) -> Transcript | None:
    if not transcript_id:
        return None
    return get_transcript(db, account, transcript_id)


def _older_than(t: Transcript) -> Any:
    return or_(
        Transcript.created_at < t.created_at,
        and_(Transcript.created_at == t.created_at, Transcript.id < t.id),
    )


def _newer_than(t: Transcript) -> Any:
    return or_(
        Transcript.created_at > t.created_at,
        and_(Transcript.created_at == t.created_at, Transcript.id > t.id),
    )


def _query_strings(query: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {"limit": str(query["limit"])}
    for key in ("status", "created_on", "before_id", "after_id"):
        if query.get(key):
            out[key] = str(query[key])
    if query.get("throttled_only"):
        out["throttled_only"] = "true"
    return out
