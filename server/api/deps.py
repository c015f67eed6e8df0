"""Request dependencies: the database session and the authenticated account."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from server import errors
from server.config import Settings, get_settings
from server.db.models import Account
from server.db.session import session_scope
from server.services.accounts import account_for_key, api_key_from


def get_db() -> Iterator[Session]:
    """A session for requests that write. Use as `Depends(get_db, scope="function")`: the commit must happen
    before the response is sent, or a client's next request may not see what it just created."""
    with session_scope() as db:
        yield db


def read_db() -> Iterator[Session]:
    """A session for requests that only read (concurrent with writers on SQLite's WAL)."""
    with session_scope(write_lock=False) as db:
        yield db


def current_account(request: Request, db: Session = Depends(read_db)) -> Account:
    key = api_key_from(request.headers.get("authorization"))
    account = account_for_key(db, key) if key else None
    if account is None:
        raise errors.ApiError(401, errors.AUTH_INVALID)
    return account


def base_url(request: Request, settings: Settings = Depends(get_settings)) -> str:
    """Absolute URLs in responses point at this server (the SDKs follow them as given)."""
    return (settings.public_url or str(request.base_url)).rstrip("/")
