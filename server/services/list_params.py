"""Validation of the `GET /v2/transcript` query (docs/compatibility.md#list, #http-errors wording)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from server import errors
from server.db.models import TranscriptStatus
from server.errors import ApiError

TRANSCRIPT_STATUSES: tuple[str, ...] = tuple(TranscriptStatus)
_INT_RE = re.compile(r"^[+-]?\d+$")
_MAX_DIGITS = 18
_MAX_DIGITS_VALUE = 10**_MAX_DIGITS
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _query_limit(name: str, text: str) -> int:
    if not _INT_RE.match(text.strip()):
        raise ApiError(400, errors.must_be_type(name, "Integer"))
    # more digits than any limit has: out of range, without asking int() (refuses > 4300 digits: a 500)
    limit = int(text) if len(text.strip()) <= _MAX_DIGITS else _MAX_DIGITS_VALUE
    if not 1 <= limit <= 200:
        raise ApiError(400, errors.MUST_BE_BETWEEN.format(param=name, min=1, max=200))
    return limit


def _query_status(name: str, text: str) -> str:
    if text not in TRANSCRIPT_STATUSES:
        raise ApiError(400, errors.MUST_BE_ONE_OF.format(param=name, values=", ".join(TRANSCRIPT_STATUSES)))
    return text


def _query_date(name: str, text: str) -> date:
    """YYYY-MM-DD exactly (3.11's fromisoformat alone would also take `20240311`)."""
    if _DATE_RE.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ApiError(400, errors.MUST_BE_DATE.format(param=name))


def _query_id(name: str, text: str) -> str:
    if not UUID_RE.match(text):
        raise ApiError(400, errors.MUST_BE_VALID_ID.format(param=name))
    return str(uuid.UUID(text))


def _query_bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in ("true", "false"):
        raise ApiError(400, errors.must_be_type(name, "Boolean"))
    return lowered == "true"


# Query parameter -> (parser, value when absent) [OA `ListTranscriptParams`].
_LIST_QUERY: dict[str, tuple[Callable[[str, str], Any], Any]] = {
    "limit": (_query_limit, 10),
    "status": (_query_status, None),
    "created_on": (_query_date, None),
    "before_id": (_query_id, None),
    "after_id": (_query_id, None),
    "throttled_only": (_query_bool, False),
}


def validate_list_query(params: Mapping[str, str]) -> dict[str, Any]:
    """Validate the `GET /v2/transcript` query (docs/compatibility.md#list); unknown keys are ignored.

    Returns limit (int), status, created_on (datetime.date), before_id/after_id (canonical lower-case uuid
    strings) and throttled_only (bool); absent filters are None. Comparing before_id/after_id needs the
    database, so LIST_BOUNDS_INVERTED is the caller's check.
    """
    return {
        name: parse(name, params[name]) if params.get(name) is not None else default
        for name, (parse, default) in _LIST_QUERY.items()
    }
