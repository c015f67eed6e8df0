"""Files nobody will read again: swept at start-up and every `sweep_interval_s` (docs/security.md "Files").

- an upload older than `upload_ttl_hours` that no queued or processing transcript still needs (row and file);
- an upload file with no row (the process died between writing it and recording it) and a `.part` left by an
  upload that was cut off, once untouched for STALE_AFTER;
- redacted audio past its download lifetime (its URL answers 404 by then anyway).

Every step is idempotent, so several processes sharing one data directory may sweep at once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.clock import utcnow
from server.config import Settings
from server.db.models import Transcript, TranscriptStatus, Upload
from server.db.session import session_scope

log = logging.getLogger(__name__)

STALE_AFTER_S = 3600.0  # a live upload writes its .part continuously; one idle this long was abandoned
REDACTED_AUDIO_KEEP_S = 25 * 3600.0  # the 24 h download window (services/redacted_audio.py) plus margin


@dataclass
class SweepReport:
    expired_uploads: int = 0
    orphan_files: int = 0
    redacted_audio: int = 0

    @property
    def total(self) -> int:
        return self.expired_uploads + self.orphan_files + self.redacted_audio


def sweep(settings: Settings) -> SweepReport:
    report = SweepReport()
    with session_scope() as db:
        report.expired_uploads = _expire_uploads(db, settings.upload_ttl_hours)
        known = {Path(p).name for p in db.execute(select(Upload.path)).scalars()}
    report.orphan_files = _sweep_folder(settings.uploads_dir, lambda f: f.name not in known, STALE_AFTER_S)
    report.redacted_audio = _sweep_folder(settings.redacted_audio_dir, lambda f: True, REDACTED_AUDIO_KEEP_S)
    if report.total:
        log.info("swept %s", report)
    return report


def _expire_uploads(db: Session, ttl_hours: float) -> int:
    if ttl_hours <= 0:
        return 0
    needed = select(Transcript.upload_id).where(
        Transcript.upload_id.is_not(None),
        Transcript.status.in_((TranscriptStatus.QUEUED, TranscriptStatus.PROCESSING)),
    )
    cutoff = utcnow() - timedelta(hours=ttl_hours)
    old = db.execute(select(Upload).where(Upload.created_at < cutoff, Upload.id.not_in(needed))).scalars()
    count = 0
    for upload in old:
        Path(upload.path).unlink(missing_ok=True)
        db.delete(upload)
        count += 1
    return count


def _sweep_folder(folder: Path, unowned, older_than_s: float) -> int:  # noqa: ANN001 - a predicate
    if not folder.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    count = 0
    for path in folder.iterdir():
        try:
            if path.is_file() and unowned(path) and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                count += 1
        except OSError:
            continue
    return count
