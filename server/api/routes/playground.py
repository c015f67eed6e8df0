"""The web playground: the page at `/`, its static files, and three read-only JSON helpers.

Everything else the page does goes through the public API with the user's key, exactly as a client would.
Installed only when `LOCALSCRIBE_PLAYGROUND` is true (the default).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session

from server import errors
from server.api.db import run_db
from server.api.deps import AccountDep
from server.db.models import Upload
from server.db.session import session_scope
from server.playground import STATIC_DIR, status
from server.services.accounts import AccountRef
from server.services.list_params import UUID_RE
from server.services.transcripts import get_transcript

# The page loads nothing from other origins; audio may come from any URL a job was created with.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob: http: https:; connect-src 'self' ws: wss:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
T = TypeVar("T")

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "index.html",
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"},
    )


def _read(fn: Callable[..., T], *args: Any) -> T:
    """One read-only unit of work (server/api/db.py): the session closes before the answer is sent."""
    with session_scope(write_lock=False) as db:
        return fn(db, *args)


@router.get("/playground/api/account")
async def account_summary(request: Request, account: AccountDep) -> dict:
    return await run_db(request.scope, _read, status.account_summary, account)


@router.get("/playground/api/jobs")
async def jobs(request: Request, account: AccountDep) -> dict[str, Any]:
    raw = request.query_params.get("ids")
    ids = [i for i in raw.split(",") if UUID_RE.match(i)] if raw else None
    try:
        limit = min(max(int(request.query_params.get("limit", "100")), 1), 500)
    except ValueError:
        raise errors.ApiError(400, errors.must_be_type("limit", "Integer")) from None
    return {"jobs": await run_db(request.scope, _read, status.job_timings, account, ids, limit)}


def _upload_path(db: Session, account: AccountRef, transcript_id: str) -> str | None:
    t = get_transcript(db, account, transcript_id)
    upload = db.get(Upload, t.upload_id) if t.upload_id else None
    return upload.path if upload is not None else None


@router.get("/playground/api/audio/{transcript_id}")
async def audio(
    transcript_id: str, request: Request, account: AccountDep
) -> FileResponse:
    """The uploaded audio of one of the account's transcripts (an `upload_url` is not downloadable)."""
    path = await run_db(request.scope, _read, _upload_path, account, transcript_id)
    if path is None or not Path(path).is_file():
        raise errors.ApiError(404, errors.NOT_FOUND)
    return FileResponse(path, media_type="application/octet-stream", headers={"Cache-Control": "no-store"})


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/playground/static", StaticFiles(directory=STATIC_DIR), name="playground-static")
