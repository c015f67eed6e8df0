"""The web playground: the page at `/`, its static files, and three read-only JSON helpers.

Everything else the page does goes through the public API with the user's key, exactly as a client would.
Installed only when `LOCALSCRIBE_PLAYGROUND` is true (the default).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session

from server import errors
from server.api.deps import current_account, read_db
from server.db.models import Account, Upload
from server.playground import STATIC_DIR, status
from server.services.list_params import UUID_RE
from server.services.transcripts import get_transcript

# The page loads nothing from other origins; audio may come from any URL a job was created with.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob: http: https:; connect-src 'self' ws: wss:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "index.html",
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"},
    )


@router.get("/playground/api/account")
def account_summary(db: Session = Depends(read_db), account: Account = Depends(current_account)) -> dict:
    return status.account_summary(db, account)


@router.get("/playground/api/jobs")
def jobs(
    request: Request, db: Session = Depends(read_db), account: Account = Depends(current_account)
) -> dict[str, Any]:
    raw = request.query_params.get("ids")
    ids = [i for i in raw.split(",") if UUID_RE.match(i)] if raw else None
    try:
        limit = min(max(int(request.query_params.get("limit", "100")), 1), 500)
    except ValueError:
        raise errors.ApiError(400, errors.must_be_type("limit", "Integer")) from None
    return {"jobs": status.job_timings(db, account, ids, limit)}


@router.get("/playground/api/audio/{transcript_id}")
def audio(
    transcript_id: str, db: Session = Depends(read_db), account: Account = Depends(current_account)
) -> FileResponse:
    """The uploaded audio of one of the account's transcripts (an `upload_url` is not downloadable)."""
    t = get_transcript(db, account, transcript_id)
    upload = db.get(Upload, t.upload_id) if t.upload_id else None
    if upload is None or not Path(upload.path).is_file():
        raise errors.ApiError(404, errors.NOT_FOUND)
    return FileResponse(
        upload.path, media_type="application/octet-stream", headers={"Cache-Control": "no-store"}
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/playground/static", StaticFiles(directory=STATIC_DIR), name="playground-static")
