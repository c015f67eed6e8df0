"""Reads of the hottest paths without the ORM (issue 19): a poll of a finished transcript needs five
columns, and a session with SQLAlchemy's statement machinery cost more CPU than the rest of the request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from server.db.session import read_row

_STAMP_SQL = (
    "SELECT account_id, status, completed_at, deleted_at, webhook_status_code FROM transcripts WHERE id = ?"
)


def _datetime(value: object) -> datetime | None:
    """As the ORM gives it: SQLite keeps a DateTime as ISO text, PostgreSQL's driver returns a datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class TranscriptStamp:
    """What decides whether a transcript's rendered JSON is still current, and whose it is."""

    account_id: str
    status: str
    completed_at: datetime | None
    deleted_at: datetime | None
    webhook_status_code: int | None

    def key(self) -> tuple[str, datetime | None, datetime | None, int | None]:
        return (self.status, self.completed_at, self.deleted_at, self.webhook_status_code)


def transcript_stamp(transcript_id: str) -> TranscriptStamp | None:
    row = read_row(_STAMP_SQL, transcript_id)
    if row is None:
        return None
    account_id, status, completed_at, deleted_at, webhook_status_code = row
    return TranscriptStamp(
        str(account_id), str(status), _datetime(completed_at), _datetime(deleted_at), webhook_status_code
    )
