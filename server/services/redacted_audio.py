"""What `GET /v2/transcript/{id}/redacted-audio` means (docs/compatibility.md#redacted-audio), and where the
file itself is.

The job writes the file under `settings.redacted_audio_dir` with an unguessable name (a 128-bit token) kept in
the transcript's stored result; its download URL needs no auth, as the SDKs fetch it without headers, and
works for REDACTED_AUDIO_TTL after the transcript completed, like the API's 24 hours.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from server import errors
from server.clock import utcnow
from server.db.models import Transcript, TranscriptStatus
from server.jobs.result_keys import REDACTED_AUDIO_FILE, REDACTED_AUDIO_PATH
from server.services.list_params import UUID_RE

REDACTED_AUDIO_TTL = timedelta(hours=24)
REDACTED_AUDIO_DIR = "redacted-audio"  # under the data dir: Settings.redacted_audio_dir
_FILE_NAME = re.compile(r"^[0-9a-f]{32}\.(mp3|wav)$")
MEDIA_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav"}


@dataclass(frozen=True)
class RedactedAudioState:
    """`ready` with the file name, or not yet (`processing`): the route turns it into 200 or 202."""

    processing: bool
    file_name: str | None = None


def redacted_audio_state(t: Transcript) -> RedactedAudioState:
    """202 while the job runs; 400 (`RedactedAudioExpiredError` in the SDK) when there is none to give."""
    if not t.params.get("redact_pii_audio") or t.deleted_at is not None:
        raise errors.ApiError(400, errors.REDACTED_AUDIO_UNAVAILABLE)
    if t.status in (TranscriptStatus.QUEUED, TranscriptStatus.PROCESSING):
        return RedactedAudioState(processing=True)
    name = _file_name(t)
    if t.status != TranscriptStatus.COMPLETED or name is None or _expired(t):
        raise errors.ApiError(400, errors.REDACTED_AUDIO_UNAVAILABLE)
    return RedactedAudioState(processing=False, file_name=name)


def redacted_audio_url(base_url: str, transcript_id: str, file_name: str) -> str:
    return base_url + REDACTED_AUDIO_PATH.format(transcript_id=transcript_id, file_name=file_name)


def redacted_audio_file(db: Session, transcript_id: str, file_name: str, directory: Path) -> Path:
    """The file behind a download URL, for anyone holding the URL; 404 for anything else (a wrong token,
    an expired or deleted transcript) so the URL space reveals nothing."""
    t = db.get(Transcript, transcript_id) if UUID_RE.match(transcript_id) else None
    stored = _file_name(t) if t is not None and t.deleted_at is None else None
    if (
        stored is None
        or not _FILE_NAME.match(file_name)
        or not hmac.compare_digest(stored, file_name)
        or _expired(t)  # type: ignore[arg-type]
    ):
        raise errors.ApiError(404, errors.NOT_FOUND)
    path = directory / stored
    if not path.is_file():
        raise errors.ApiError(404, errors.NOT_FOUND)
    return path


def delete_redacted_audio(t: Transcript, data_dir: Path) -> None:
    """Deleting a transcript deletes its redacted audio too (call before its result is cleared)."""
    name = _file_name(t)
    if name is not None:
        (data_dir / REDACTED_AUDIO_DIR / name).unlink(missing_ok=True)


def media_type(file_name: str) -> str:
    return MEDIA_TYPES[file_name.rsplit(".", 1)[-1]]


def _file_name(t: Transcript) -> str | None:
    name = (t.result or {}).get(REDACTED_AUDIO_FILE)
    return name if isinstance(name, str) and _FILE_NAME.match(name) else None


def _expired(t: Transcript) -> bool:
    done = t.completed_at
    return done is not None and utcnow() - done > REDACTED_AUDIO_TTL
