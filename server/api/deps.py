"""Request dependencies and their typed aliases: the account, the app's settings, the JSON body, the
sessions of the admin routes, the base URL. Routes declare `account: AccountDep`, never `Depends(...)`.

Authentication holds no connection for the life of a request (issue 19): a known key is answered from
the process's key cache, an unknown one by one short lookup under the database bound (server/api/db.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from server import errors
from server.api.body import read_json
from server.api.db import run_db
from server.config import Settings
from server.db.session import session_scope
from server.emulator.http_rules import rules_changed
from server.services.accounts import KEYS, AccountRef, account_ref_for_key, api_key_from


def get_db() -> Iterator[Session]:
    """A session for admin requests that write. Use as `Depends(get_db, scope="function")`: the commit must
    happen before the response is sent, or a client's next request may not see what it just created.
    Caches of keys and fault rules are dropped after the commit (an admin write may change either). FastAPI
    enters and leaves it in separate thread-pool calls, so it may end on another thread than it began."""
    with session_scope(same_thread=False) as db:
        yield db
    KEYS.clear()
    rules_changed()


def read_db() -> Iterator[Session]:
    """A session for admin requests that only read (concurrent with writers on SQLite's WAL)."""
    with session_scope(write_lock=False) as db:
        yield db


def _lookup(key: str) -> AccountRef | None:
    with session_scope(write_lock=False) as db:
        return account_ref_for_key(db, key)


async def authenticate(request: Request) -> AccountRef | None:
    """The account of the request's key, or None; the database is asked only on a cache miss."""
    key = api_key_from(request.headers.get("authorization"))
    if not key:
        return None
    account = KEYS.get(key)
    if account is None:
        account = await run_db(request.scope, _lookup, key)
        if account is not None:
            KEYS.put(key, account)
    if account is not None:
        request.state.account_id = account.id  # the request journal's (server/emulator/journal.py)
    return account


async def current_account(request: Request) -> AccountRef:
    account = await authenticate(request)
    if account is None:
        raise errors.ApiError(401, errors.AUTH_INVALID)
    return account


async def base_url(request: Request) -> str:
    """Absolute URLs in responses point at this server (the SDKs follow them as given). Async: a plain
    function would cost every request a hop to a thread."""
    settings: Settings = request.app.state.settings
    return (settings.public_url or str(request.base_url)).rstrip("/")


def app_settings(request: Request) -> Settings:
    """The settings the app was built with (`create_app(settings)`), never the environment's."""
    return request.app.state.settings


async def json_body(request: Request) -> Any:
    """The request's JSON body under the configured cap (`LOCALSCRIBE_MAX_JSON_BODY_BYTES`)."""
    return await read_json(request, request.app.state.settings.max_json_body_bytes)


AccountDep = Annotated[AccountRef, Depends(current_account)]
SettingsDep = Annotated[Settings, Depends(app_settings)]
JsonBody = Annotated[Any, Depends(json_body)]  # declare after AccountDep: no body is read without a key
BaseUrlDep = Annotated[str, Depends(base_url)]
ReadDb = Annotated[Session, Depends(read_db)]
WriteDb = Annotated[Session, Depends(get_db, scope="function")]  # committed before the answer leaves
