"""Real-time bookkeeping: temporary tokens (docs/compatibility.md#tokens) and the per-account stream slots
(docs/compatibility.md#throttling).

Both live in the database so that every API process shares them. Knows nothing of WebSockets.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from server import errors
from server.clock import utcnow
from server.db.models import Account, ApiKey, StreamSession, StreamToken
from server.db.session import changed
from server.errors import ApiError
from server.services.accounts import account_for_key, hash_key, live_key

# A session row whose process stopped renewing it for this long no longer holds a slot.
STALE_AFTER = timedelta(seconds=30)
HEARTBEAT_EVERY_S = 10.0


@dataclass(frozen=True)
class Caller:
    """Who opened a socket: the account, and the token's session cap when a temporary token was used."""

    account_id: str
    realtime_limit: int
    token_hash: str | None = None
    max_session_s: int | None = None


def issue_token(db: Session, api_key: str, *, expires_in_s: int, max_session_s: int | None) -> str:
    """A token tied to the key that minted it (not only its account): revoking the key revokes the token."""
    key_row = live_key(db, api_key)
    if key_row is None:  # the route authenticated this key a moment ago; revoked since
        raise ApiError(401, errors.AUTH_INVALID)
    token = secrets.token_urlsafe(32)
    db.add(
        StreamToken(
            account_id=key_row.account_id,
            api_key_id=key_row.id,
            token_hash=hash_key(token),
            expires_at=utcnow() + timedelta(seconds=expires_in_s),
            max_session_s=max_session_s,
        )
    )
    return token


def identify(db: Session, credential: str) -> Caller | None:
    """An API key, or an unused, unexpired temporary token (it is consumed later, by `open_session`)."""
    account = account_for_key(db, credential)
    if account is not None:
        return Caller(account.id, account.realtime_limit)
    token = db.scalar(select(StreamToken).where(StreamToken.token_hash == hash_key(credential)))
    if token is None or token.used_at is not None or token.expires_at <= utcnow():
        return None
    minted_by = db.get(ApiKey, token.api_key_id) if token.api_key_id else None
    if minted_by is None or minted_by.revoked_at is not None:
        return None
    account = db.get(Account, token.account_id)
    if account is None:
        return None
    return Caller(account.id, account.realtime_limit, token.token_hash, token.max_session_s)


class TokenSpent(Exception):
    """The token was used or expired between the handshake and the session start."""


class TooManyStreams(Exception):
    pass


def _live(account_id: str):  # noqa: ANN202 - a SQL expression
    return (
        (StreamSession.account_id == account_id)
        & StreamSession.ended_at.is_(None)
        & (StreamSession.heartbeat_at > utcnow() - STALE_AFTER)
    )


def active_count(db: Session, account_id: str) -> int:
    """Sessions holding a slot now (v2 and v3 together, docs/compatibility.md#choice-stream-limit)."""
    return db.scalar(select(func.count()).select_from(StreamSession).where(_live(account_id))) or 0


def open_session(db: Session, caller: Caller, protocol: str) -> str:
    """Take a slot and consume the token, atomically; raises TooManyStreams or TokenSpent.

    The account row is locked first (SQLite: the writer lock of BEGIN IMMEDIATE), so two sockets racing for
    the last slot cannot both win.
    """
    account = db.scalar(select(Account).where(Account.id == caller.account_id).with_for_update())
    if account is None:
        raise TokenSpent
    if active_count(db, account.id) >= account.realtime_limit:
        raise TooManyStreams
    if caller.token_hash is not None:
        spent = changed(
            db,
            update(StreamToken)
            .where(
                StreamToken.token_hash == caller.token_hash,
                StreamToken.used_at.is_(None),
                StreamToken.expires_at > utcnow(),
            )
            .values(used_at=utcnow()),
        )
        if spent != 1:
            raise TokenSpent
    row = StreamSession(account_id=account.id, protocol=protocol)
    db.add(row)
    db.flush()
    return row.id


def heartbeat(db: Session, session_id: str, audio_seconds: float) -> None:
    db.execute(
        update(StreamSession)
        .where(StreamSession.id == session_id)
        .values(heartbeat_at=utcnow(), audio_seconds=audio_seconds)
    )


def close_session(db: Session, session_id: str, audio_seconds: float) -> None:
    db.execute(
        update(StreamSession)
        .where(StreamSession.id == session_id, StreamSession.ended_at.is_(None))
        .values(ended_at=utcnow(), audio_seconds=audio_seconds)
    )


# --- token requests (docs/compatibility.md#tokens) ----------------------------------------------------------
V2_EXPIRES_IN = (60, 360_000)
V3_EXPIRES_IN = (1, 600)
V3_MAX_SESSION = (60, 10_800)


def _whole_number(value: object) -> int | None:
    """An integer, or a string of one (v3 reads the query string); booleans are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        # int() refuses more than 4300 digits (a 500); no lifetime needs more than 18
        return int(value) if len(value.strip()) <= 18 else None
    return None


def _in_range(value: object, bounds: tuple[int, int], message: str) -> int:
    number = _whole_number(value)
    if number is None or not bounds[0] <= number <= bounds[1]:
        raise ApiError(400, message)
    return number


def v2_token_lifetime(body: object) -> int:
    """`POST /v2/realtime/token` body → expires_in seconds."""
    value = body.get("expires_in") if isinstance(body, dict) else None
    return _in_range(value, V2_EXPIRES_IN, errors.TOKEN_EXPIRES_IN)


def v3_token_lifetime(query: Mapping[str, str]) -> tuple[int, int | None]:
    """`GET /v3/token` query → (expires_in_seconds, max_session_duration_seconds or None)."""
    expires = _in_range(query.get("expires_in_seconds"), V3_EXPIRES_IN, errors.TOKEN_EXPIRES_IN_SECONDS)
    raw = query.get("max_session_duration_seconds")
    session = None if raw is None else _in_range(raw, V3_MAX_SESSION, errors.TOKEN_MAX_SESSION)
    return expires, session
