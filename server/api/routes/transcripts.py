"""`/v2/transcript` and its exports. Thin: parse, call a service, shape the response."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from sqlalchemy.orm import Session

from server import errors
from server.api.deps import base_url, current_account, get_db, read_db
from server.api.routes import api_errors, query
from server.config import Settings, get_settings
from server.db.models import Account
from server.services import exports
from server.services import transcripts as svc
from server.services.list_params import validate_list_query
from server.services.redacted_audio import (
    media_type,
    redacted_audio_file,
    redacted_audio_state,
    redacted_audio_url,
)
from server.services.transcript_params import validate_transcript_request
from server.services.transcript_view import render_transcript
from server.speech_models import known_speech_models

router = APIRouter(prefix="/v2/transcript", tags=["transcript"], responses=api_errors())


async def json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise errors.ApiError(400, errors.INVALID_JSON) from None


@router.post(
    "",
    operation_id="createTranscript",
    summary="Transcribe audio",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object", "required": ["audio_url"]}}},
        }
    },
)
def create(
    account: Account = Depends(current_account),  # first: a request without a key gets 401, never 400
    body: Any = Depends(json_body),
    db: Session = Depends(get_db, scope="function"),
    settings: Settings = Depends(get_settings),
    *,
    request: Request,
    after_response: BackgroundTasks,
) -> dict[str, Any]:
    # a plain `def` route: FastAPI runs it in a thread, so a database wait never blocks the event loop
    params = validate_transcript_request(
        body,
        default_speech_models=settings.default_speech_models,
        known_speech_models=known_speech_models(settings),
    )
    after_response.add_task(request.app.state.node.wake)  # runs once the row is committed
    return render_transcript(svc.create_transcript(db, account, params, request.headers))


@router.get(
    "",
    operation_id="listTranscripts",
    summary="List transcripts",
    openapi_extra={
        "parameters": [
            query("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 10}),
            query("status", {"type": "string", "enum": ["queued", "processing", "completed", "error"]}),
            query("created_on", {"type": "string", "format": "date"}),
            query("before_id", {"type": "string", "format": "uuid"}),
            query("after_id", {"type": "string", "format": "uuid"}),
            query("throttled_only", {"type": "boolean", "default": False}),
        ]
    },
)
def list_(
    request: Request,
    db: Session = Depends(read_db),
    account: Account = Depends(current_account),
    base: str = Depends(base_url),
) -> dict[str, Any]:
    return svc.list_transcripts(db, account, validate_list_query(request.query_params), base)


@router.get("/{transcript_id}", operation_id="getTranscript", summary="Get transcript")
def get(
    transcript_id: str, db: Session = Depends(read_db), account: Account = Depends(current_account)
) -> dict:
    return render_transcript(svc.get_transcript(db, account, transcript_id))


@router.delete("/{transcript_id}", operation_id="deleteTranscript", summary="Delete transcript")
def delete(
    transcript_id: str,
    db: Session = Depends(get_db, scope="function"),
    account: Account = Depends(current_account),
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    return render_transcript(svc.delete_transcript(db, account, transcript_id, settings.data_dir))


@router.get(
    "/{transcript_id}/sentences",
    operation_id="getTranscriptSentences",
    summary="Get sentences in transcript",
)
def sentences(
    transcript_id: str, db: Session = Depends(read_db), account: Account = Depends(current_account)
) -> dict:
    return exports.sentences(svc.get_transcript(db, account, transcript_id))


@router.get(
    "/{transcript_id}/paragraphs",
    operation_id="getTranscriptParagraphs",
    summary="Get paragraphs in transcript",
)
def paragraphs(
    transcript_id: str, db: Session = Depends(read_db), account: Account = Depends(current_account)
) -> dict:
    return exports.paragraphs(svc.get_transcript(db, account, transcript_id))


@router.get(
    "/{transcript_id}/word-search",
    operation_id="wordSearch",
    summary="Search words in transcript",
    openapi_extra={
        "parameters": [
            query(
                "words",
                {"type": "array", "items": {"type": "string"}},
                required=True,
                style="form",
                explode=False,
            )
        ]
    },
)
def word_search(
    transcript_id: str,
    request: Request,
    db: Session = Depends(read_db),
    account: Account = Depends(current_account),
) -> dict:
    raw = ",".join(request.query_params.getlist("words"))
    if not raw.strip():
        raise errors.ApiError(400, errors.must_be_type("words", "List"))
    terms = [w.strip() for w in raw.split(",") if w.strip()]
    exports.check_word_search_terms(terms)
    return exports.word_search(svc.get_transcript(db, account, transcript_id), terms)


@router.get(
    "/{transcript_id}/redacted-audio",
    response_model=None,
    operation_id="getRedactedAudio",
    summary="Get redacted audio",
)
def redacted_audio(
    transcript_id: str,
    db: Session = Depends(read_db),
    account: Account = Depends(current_account),
    base: str = Depends(base_url),
) -> dict[str, str] | JSONResponse:
    state = redacted_audio_state(svc.get_transcript(db, account, transcript_id))
    if state.processing or state.file_name is None:  # CONTRACT §2.7: the SDK waits and asks again on 202
        return JSONResponse({"status": "redacted_audio_processing"}, status_code=202)
    return {
        "status": "redacted_audio_ready",
        "redacted_audio_url": redacted_audio_url(base, transcript_id, state.file_name),
    }


@router.get("/{transcript_id}/redacted-audio/{file_name}", include_in_schema=False)  # a file URL, not an API
def redacted_audio_download(
    transcript_id: str,
    file_name: str,
    db: Session = Depends(read_db),
    settings: Settings = Depends(get_settings),
) -> FileResponse:
    """No auth (the SDK sends none): the unguessable file name is the credential (CONTRACT §2.7)."""
    path = redacted_audio_file(db, transcript_id, file_name, settings.redacted_audio_dir)
    name = f"{transcript_id}-redacted{path.suffix}"
    return FileResponse(path, media_type=media_type(file_name), filename=name)


@router.get(
    "/{transcript_id}/{subtitle_format}",
    operation_id="getSubtitles",
    summary="Get subtitles for transcript",
    response_class=PlainTextResponse,
    openapi_extra={"parameters": [query("chars_per_caption", {"type": "integer", "minimum": 1})]},
)
def subtitles(
    transcript_id: str,
    subtitle_format: str,
    request: Request,
    db: Session = Depends(read_db),
    account: Account = Depends(current_account),
) -> PlainTextResponse:
    if subtitle_format not in ("srt", "vtt"):
        raise errors.ApiError(404, errors.NOT_FOUND)
    t = svc.get_transcript(db, account, transcript_id)
    raw = request.query_params.get("chars_per_caption")
    chars: int | None = None
    if raw is not None:  # `?chars_per_caption=` is not an integer either (found by test_conformance)
        try:
            chars = int(raw)
        except ValueError:
            raise errors.ApiError(400, errors.must_be_type("chars_per_caption", "Integer")) from None
        if chars < 1:  # no upper bound: the message must not promise one (found by test_conformance)
            raise errors.ApiError(400, errors.MUST_BE_AT_LEAST.format(param="chars_per_caption", min=1))
    return PlainTextResponse(exports.subtitles(t, subtitle_format, chars))
