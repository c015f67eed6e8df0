"""`/v2/transcript` and its exports. Thin: parse, call a service, shape the response.

Every route authenticates first (no session held: server/api/deps.py), then does its database work as one
unit off the event loop (`run_db`): one short transaction, opened and closed in the same thread call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from sqlalchemy.orm import Session

from server import errors
from server.api.db import run_db
from server.api.deps import AccountDep, BaseUrlDep, JsonBody, SettingsDep
from server.api.routes import api_errors, query
from server.config import Settings
from server.db.models import Transcript
from server.db.session import session_scope
from server.emulator.matching import stamp_job_fault
from server.emulator.scripts import stamp_job_script
from server.services import exports
from server.services import transcripts as svc
from server.services.accounts import AccountRef
from server.services.list_params import TRANSCRIPT_STATUSES, validate_list_query
from server.services.redacted_audio import (
    media_type,
    redacted_audio_file,
    redacted_audio_state,
    redacted_audio_url,
)
from server.services.rendered_cache import dumps
from server.services.transcript_params import validate_transcript_request
from server.services.transcript_view import render_transcript
from server.speech_models import known_speech_models

router = APIRouter(prefix="/v2/transcript", tags=["transcript"], responses=api_errors())


def _stamp(headers: Mapping[str, str]) -> Callable[[Session, Transcript], None]:
    def stamp(db: Session, t: Transcript) -> None:
        stamp_job_fault(db, t, headers)
        stamp_job_script(db, t, headers)  # a scripted result (docs/testing.md#scripted-results)

    return stamp


def create_body(
    settings: Settings, account: AccountRef, body: Any, headers: Mapping[str, str], base: str
) -> bytes:
    """The unit of `POST /v2/transcript` (the route's and the fast path's, server/api/transcript_create.py):
    validate, one short write transaction, then the Transcript's JSON rendered after the commit."""
    request = validate_transcript_request(
        body,
        default_speech_models=settings.default_speech_models,
        known_speech_models=known_speech_models(settings),
    )
    with session_scope() as db:
        t = svc.create_transcript(db, account, request, base_url=base, stamp=_stamp(headers))
    return dumps(render_transcript(t))


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
async def create(
    request: Request,
    account: AccountDep,  # first: a request without a key gets 401, never 400
    body: JsonBody,
    settings: SettingsDep,
    base: BaseUrlDep,
) -> Response:
    rendered = await run_db(request.scope, create_body, settings, account, body, dict(request.headers), base)
    request.app.state.node.wake()  # the row is committed: an idle worker here may take it at once
    return Response(rendered, media_type="application/json")


def _list(account: AccountRef, query: dict[str, Any], base: str) -> dict[str, Any]:
    with session_scope(write_lock=False) as db:
        return svc.list_transcripts(db, account, query, base)


@router.get(
    "",
    operation_id="listTranscripts",
    summary="List transcripts",
    openapi_extra={
        "parameters": [
            query("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 10}),
            query("status", {"type": "string", "enum": list(TRANSCRIPT_STATUSES)}),
            query("created_on", {"type": "string", "format": "date"}),
            query("before_id", {"type": "string", "format": "uuid"}),
            query("after_id", {"type": "string", "format": "uuid"}),
            query("throttled_only", {"type": "boolean", "default": False}),
        ]
    },
)
async def list_(
    request: Request,
    account: AccountDep,
    base: BaseUrlDep,
) -> JSONResponse:
    params = validate_list_query(request.query_params)
    return JSONResponse(await run_db(request.scope, _list, account, params, base))


def transcript_body(account: AccountRef, transcript_id: str) -> bytes:
    """The Transcript object's JSON: a finished one unchanged since its last poll from one read of five
    columns, any other from one short read transaction. server/api/transcript_poll.py answers most polls
    with it without this route."""
    cached = svc.cached_transcript_json(account, transcript_id)
    if cached is not None:
        return cached
    with session_scope(write_lock=False) as db:
        return svc.transcript_json(db, account, transcript_id)


@router.get("/{transcript_id}", operation_id="getTranscript", summary="Get transcript")
async def get(transcript_id: str, request: Request, account: AccountDep) -> Response:
    body = await run_db(request.scope, transcript_body, account, transcript_id)
    return Response(body, media_type="application/json")


def _delete(account: AccountRef, transcript_id: str, settings: Settings) -> dict[str, Any]:
    with session_scope() as db:
        t = svc.delete_transcript(db, account, transcript_id, settings.data_dir)
    return render_transcript(t)


@router.delete("/{transcript_id}", operation_id="deleteTranscript", summary="Delete transcript")
async def delete(
    transcript_id: str, request: Request, account: AccountDep, settings: SettingsDep
) -> JSONResponse:
    return JSONResponse(await run_db(request.scope, _delete, account, transcript_id, settings))


async def _with_transcript(
    request: Request, account: AccountRef, transcript_id: str, shape: Callable[[Transcript], Any]
) -> Any:
    """Read the transcript in one unit and shape it there (exports are CPU work: off the loop too)."""

    def unit() -> Any:
        with session_scope(write_lock=False) as db:
            t = svc.get_transcript(db, account, transcript_id)
        return shape(t)

    return await run_db(request.scope, unit)


@router.get(
    "/{transcript_id}/sentences",
    operation_id="getTranscriptSentences",
    summary="Get sentences in transcript",
)
async def sentences(transcript_id: str, request: Request, account: AccountDep) -> JSONResponse:
    return JSONResponse(await _with_transcript(request, account, transcript_id, exports.sentences))


@router.get(
    "/{transcript_id}/paragraphs",
    operation_id="getTranscriptParagraphs",
    summary="Get paragraphs in transcript",
)
async def paragraphs(transcript_id: str, request: Request, account: AccountDep) -> JSONResponse:
    return JSONResponse(await _with_transcript(request, account, transcript_id, exports.paragraphs))


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
async def word_search(
    transcript_id: str,
    request: Request,
    account: AccountDep,
) -> JSONResponse:
    raw = ",".join(request.query_params.getlist("words"))

    def search(t: Transcript) -> dict[str, Any]:
        if not raw.strip():  # after the lookup, as before: an unknown id answers its own 400 first
            raise errors.ApiError(400, errors.must_be_type("words", "List"))
        terms = [w.strip() for w in raw.split(",") if w.strip()]
        exports.check_word_search_terms(terms)
        return exports.word_search(t, terms)

    return JSONResponse(await _with_transcript(request, account, transcript_id, search))


@router.get(
    "/{transcript_id}/redacted-audio",
    response_model=None,
    operation_id="getRedactedAudio",
    summary="Get redacted audio",
)
async def redacted_audio(
    transcript_id: str,
    request: Request,
    account: AccountDep,
    base: BaseUrlDep,
) -> JSONResponse:
    state = await _with_transcript(request, account, transcript_id, redacted_audio_state)
    # docs/compatibility.md#redacted-audio: the SDK waits and asks again on 202
    if state.processing or state.file_name is None:
        return JSONResponse({"status": "redacted_audio_processing"}, status_code=202)
    return JSONResponse(
        {
            "status": "redacted_audio_ready",
            "redacted_audio_url": redacted_audio_url(base, transcript_id, state.file_name),
        }
    )


def _redacted_file(transcript_id: str, file_name: str, folder: Any) -> Any:
    with session_scope(write_lock=False) as db:
        return redacted_audio_file(db, transcript_id, file_name, folder)


@router.get("/{transcript_id}/redacted-audio/{file_name}", include_in_schema=False)  # a file URL, not an API
async def redacted_audio_download(transcript_id: str, file_name: str, request: Request) -> FileResponse:
    """No auth (the SDK sends none): the unguessable file name is the credential
    (docs/compatibility.md#redacted-audio)."""
    folder = request.app.state.settings.redacted_audio_dir
    path = await run_db(request.scope, _redacted_file, transcript_id, file_name, folder)
    name = f"{transcript_id}-redacted{path.suffix}"
    return FileResponse(path, media_type=media_type(file_name), filename=name)


@router.get(
    "/{transcript_id}/{subtitle_format}",
    operation_id="getSubtitles",
    summary="Get subtitles for transcript",
    response_class=PlainTextResponse,
    openapi_extra={"parameters": [query("chars_per_caption", {"type": "integer", "minimum": 1})]},
)
async def subtitles(
    transcript_id: str,
    subtitle_format: str,
    request: Request,
    account: AccountDep,
) -> PlainTextResponse:
    if subtitle_format not in ("srt", "vtt"):
        raise errors.ApiError(404, errors.NOT_FOUND)
    raw = request.query_params.get("chars_per_caption")

    def captions(t: Transcript) -> str:
        chars: int | None = None
        if raw is not None:  # `?chars_per_caption=` is not an integer either (found by test_conformance)
            try:
                chars = int(raw)
            except ValueError:
                raise errors.ApiError(400, errors.must_be_type("chars_per_caption", "Integer")) from None
            if chars < 1:  # no upper bound: the message must not promise one (found by test_conformance)
                raise errors.ApiError(400, errors.MUST_BE_AT_LEAST.format(param="chars_per_caption", min=1))
        return exports.subtitles(t, subtitle_format, chars)

    return PlainTextResponse(await _with_transcript(request, account, transcript_id, captions))
