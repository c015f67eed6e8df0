"""The Sync API (docs/compatibility.md#sync-api) and the Dictation API (docs/compatibility.md#dictation-api)
on LocalScribe's own origin.

Thin: authentication, the model header, the capacity slot and the problem-details errors. The body is read
here as it arrives and handed to `sync/transcribe.py`, which decodes while the upload is still going on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.types import Receive

from server import errors
from server.api.deps import authenticate
from server.api.error_handlers import problem_response
from server.config import Settings
from server.speech_models import local_model, sync_model_names
from server.sync import transcribe as sync
from server.sync.config import DictationConfig, SyncConfig
from server.sync.llm_rewrite import rewrite

# not in the REST spec (docs/compatibility.md#sync-api: its spec is unpublished)
router = APIRouter(include_in_schema=False)

MODEL_HEADER = "x-aai-model"
# CHOICE (docs/compatibility.md#dictation-api): dictation_base_url = http://HOST:PORT/dictation
DICTATION_PREFIX = "/dictation"
DICTATION_MODEL = "universal-3-5-pro"  # Dictation sends no model header: it decodes as the U3 Pro names do


class _ClientGone(Exception):
    pass


class _Body:
    """The request body as it arrives, with the stall deadline; drained after an early error so the client,
    which reads only once its upload is done, still gets the answer."""

    def __init__(self, receive: Receive, stall_s: float) -> None:
        self.receive = receive
        self.stall_s = stall_s
        self.done = False

    async def chunks(self) -> AsyncIterator[bytes]:
        while not self.done:
            try:
                message = await asyncio.wait_for(self.receive(), self.stall_s)
            except asyncio.TimeoutError:
                raise errors.problem(errors.SYNC_STALLED, seconds=f"{self.stall_s:g}") from None
            if message["type"] == "http.disconnect":
                raise _ClientGone
            self.done = not message.get("more_body", False)
            if data := message.get("body", b""):
                yield data

    async def drain(self, limit: int) -> None:
        seen = 0
        with contextlib.suppress(errors.Problem, _ClientGone):
            async for data in self.chunks():
                seen += len(data)
                if seen > limit:
                    return


async def _authenticate(request: Request) -> None:
    """Auth as REST (docs/compatibility.md#auth): the same keys, accounts and key cache; answered in problem
    details."""
    if await authenticate(request) is None:
        raise errors.problem(errors.SYNC_UNAUTHORIZED)


def _model(request: Request, settings: Settings, *, required: bool) -> str | None:
    name = request.headers.get(MODEL_HEADER, "").strip()
    if not name:
        if required:
            raise errors.problem(errors.SYNC_MODEL_HEADER_MISSING)
        return None
    local = local_model(name, settings)
    if local is None:
        raise errors.problem(
            errors.SYNC_UNKNOWN_MODEL, name=name, known=", ".join(sync_model_names(settings))
        )
    return local


async def _serve(request: Request, *, live: bool, dictation: bool) -> JSONResponse:
    started = time.perf_counter()
    node = request.app.state.node
    settings: Settings = node.settings
    body = _Body(request.receive, settings.sync_stall_timeout_s)
    try:
        await _authenticate(request)
        if dictation:
            model = local_model(DICTATION_MODEL, settings)
        else:
            model = _model(request, settings, required=True)
        assert model is not None
        job = sync.SyncJob(model=model, config=DictationConfig if dictation else SyncConfig, live=live)
        with node.sync_capacity.slot():
            result = await sync.transcribe_upload(
                body.chunks(), request.headers.get("content-type"), job, settings, node.decode_scheduler
            )
            decoded = time.perf_counter()
            session_id = str(uuid.uuid4())
            if not dictation:
                elapsed = (time.perf_counter() - started) * 1000
                return JSONResponse(sync.sync_body(result, session_id, elapsed))
            text = " ".join(w.text for w in result.words)
            llm_text = llm_error = None
            if result.hints.llm_instruction:
                done = await rewrite(text, result.hints.llm_instruction, result.hints.rewrite_mode, settings)
                llm_text, llm_error = done.text, done.error
            elapsed = (time.perf_counter() - started) * 1000
            sync_ms = (decoded - started) * 1000
            return JSONResponse(
                sync.dictation_body(result, session_id, elapsed, sync_ms, llm_text, llm_error)
            )
    except errors.Problem as problem:
        if problem.status != 408:  # a stalled body will not end now either
            await body.drain(settings.sync_max_audio_bytes + (1 << 20))
        return problem_response(problem)
    except _ClientGone:
        return JSONResponse({}, 400)  # nobody is listening any more


async def _warm(request: Request, *, dictation: bool) -> JSONResponse:
    node = request.app.state.node
    try:
        await _authenticate(request)
        settings: Settings = node.settings
        model = (
            local_model(DICTATION_MODEL, settings) if dictation else _model(request, settings, required=False)
        )
        await sync.warm(node.decode_scheduler, model)
    except errors.Problem as problem:
        return problem_response(problem)
    return JSONResponse({})


# --- Sync API ----------------------------------------------------------------------------------------------
@router.post("/v1/transcribe/live")
@router.post("/v1/transcribe/stream")
async def transcribe_live(request: Request) -> JSONResponse:
    """Audio uploaded as it is recorded, decoded segment by segment as it lands (the SDK's only path)."""
    return await _serve(request, live=True, dictation=False)


@router.post("/v1/transcribe")
@router.post("/transcribe")
async def transcribe_buffered(request: Request) -> JSONResponse:
    """A whole clip in one body (Pipecat's `AssemblyAISyncSTTService`), decoded in one call."""
    return await _serve(request, live=False, dictation=False)


@router.get("/v1/warm")
async def warm(request: Request) -> JSONResponse:
    return await _warm(request, dictation=False)


# --- Dictation API -----------------------------------------------------------------------------------------
@router.post(f"{DICTATION_PREFIX}/v1/transcribe/live")
@router.post(f"{DICTATION_PREFIX}/v1/transcribe/stream")
async def dictate_live(request: Request) -> JSONResponse:
    return await _serve(request, live=True, dictation=True)


@router.get(f"{DICTATION_PREFIX}/v1/warm")
async def dictation_warm(request: Request) -> JSONResponse:
    return await _warm(request, dictation=True)
