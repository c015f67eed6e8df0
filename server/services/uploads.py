"""Uploads: stream a request body to disk under a cap, remember who owns it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import errors
from server.db.models import Transcript, Upload, new_id


async def receive_upload(
    chunks: AsyncIterator[bytes], uploads_dir: Path, max_bytes: int
) -> tuple[str, Path, int]:
    """Write the body to a new file chunk by chunk (never whole in memory); enforce the size cap."""
    uploads_dir.mkdir(parents=True, exist_ok=True)
    upload_id = new_id()
    path = uploads_dir / upload_id
    tmp = path.with_suffix(".part")
    size = 0
    try:
        with open(tmp, "wb") as fh:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise errors.ApiError(413, errors.UPLOAD_TOO_LARGE.format(limit=max_bytes))
                fh.write(chunk)
        if size == 0:
            raise errors.ApiError(400, errors.UPLOAD_EMPTY)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return upload_id, path, size


def record_upload(db: Session, account_id: str, upload_id: str, path: Path, size: int) -> Upload:
    upload = Upload(id=upload_id, account_id=account_id, path=str(path), size_bytes=size)
    db.add(upload)
    return upload


def release_upload(db: Session, upload_id: str, transcript_id: str) -> None:
    """Deleting a transcript deletes its uploaded audio for good (docs/compatibility.md#delete) once no other
    live transcript uses the same upload: one `upload_url` may serve several requests, and a queued one must
    not lose its audio because a sibling was deleted."""
    upload = db.get(Upload, upload_id)
    if upload is None:
        return
    still_used = db.scalar(
        select(Transcript.id)
        .where(
            Transcript.upload_id == upload_id,
            Transcript.id != transcript_id,
            Transcript.deleted_at.is_(None),
        )
        .limit(1)
    )
    if still_used is not None:
        return
    Path(upload.path).unlink(missing_ok=True)
    db.delete(upload)
