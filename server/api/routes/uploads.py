"""`POST /v2/upload`: the raw body streamed to disk; the URL it returns works only for this account."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request

from server import errors
from server.api.db import run_db
from server.api.deps import AccountDep, BaseUrlDep, SettingsDep
from server.api.routes import SPEC_ERRORS, api_errors
from server.db.session import session_scope
from server.services.uploads import receive_upload, record_upload

router = APIRouter()


def _record(account_id: str, upload_id: str, path: Path, size: int) -> None:
    with session_scope() as db:
        record_upload(db, account_id, upload_id, path, size)


@router.post(
    "/v2/upload",
    operation_id="uploadFile",
    summary="Upload a media file",
    tags=["transcript"],
    responses=api_errors(*SPEC_ERRORS, 403),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload(
    request: Request,
    account: AccountDep,
    base: BaseUrlDep,
    settings: SettingsDep,
) -> dict[str, str]:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_upload_bytes:
        raise errors.ApiError(413, errors.UPLOAD_TOO_LARGE.format(limit=settings.max_upload_bytes))
    upload_id, path, size = await receive_upload(
        request.stream(), settings.uploads_dir, settings.max_upload_bytes
    )
    await run_db(request.scope, _record, account.id, upload_id, path, size)  # keep the event loop free
    return {"upload_url": f"{base}/v2/upload/{upload_id}"}
