"""The core in-process (issue 17): the queue, one job's pipeline with the mock engine, and a streaming
session over a fake socket. No server process and no environment variables: one `Settings` object each.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from starlette.websockets import WebSocketState

from server.api.app import prepare_database
from server.config import Settings
from server.db.models import Account, Transcript, TranscriptStatus
from server.db.session import dispose, session_scope
from server.engine import build_engine
from server.jobs import queue
from server.jobs.errors import JobError
from server.jobs.job_fault import JobFault
from server.jobs.pipeline import run_job
from server.node import EmulatorJobStandIns
from server.services.accounts import AccountRef, create_account
from server.services.transcripts import create_transcript
from server.streaming.scheduler import DecodeScheduler
from server.streaming.session import SessionRunner
from server.streaming.v3 import V3Adapter
from server.transcript_request import TranscriptRequest

DATA = Path(__file__).parent / "data"
SPEECH = DATA / "en_timit_LDC93S1.wav"  # "She had your dark suit in greasy wash water all year", ~3 s
URL = "http://example.com/a.wav"


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    settings = Settings(_env_file=None, data_dir=tmp_path, engine="mock", api_key="core-test-key", workers=1)
    prepare_database(settings)  # migrations, then this process's sessions use these settings' database
    yield settings
    dispose(settings)


def _account(settings: Settings, async_limit: int) -> AccountRef:
    with session_scope() as db:
        new = create_account(db, settings, name="t", tier="paid", async_limit=async_limit)
        return AccountRef.of(db.get(Account, new.account_id))


def _queue(account: AccountRef, **params: Any) -> str:
    request = TranscriptRequest(audio_url=URL, speech_models=["universal-2"], language_code="en_us", **params)
    with session_scope() as db:
        return create_transcript(db, account, request).id


def _row(job_id: str) -> Transcript:
    with session_scope(write_lock=False) as db:
        row = db.get(Transcript, job_id)
        assert row is not None
        return row


# --- the queue ---------------------------------------------------------------------------------------------
def test_claim_respects_the_account_limit(settings: Settings) -> None:
    account = _account(settings, async_limit=1)
    first, second = _queue(account), _queue(account)
    job = queue.claim_next("w1", 30)
    assert job is not None and job.id == first and job.request.audio_url == URL
    assert queue.claim_next("w1", 30) is None  # at its limit: the second waits, marked throttled
    assert _row(second).throttled is True and _row(second).status == TranscriptStatus.QUEUED
    assert queue.finish(first, "w1", result={"text": "x"}, audio_duration=1)
    job = queue.claim_next("w1", 30)
    assert job is not None and job.id == second


def test_claims_take_turns_between_accounts(settings: Settings) -> None:
    a, b = _account(settings, async_limit=5), _account(settings, async_limit=5)
    a_jobs = [_queue(a), _queue(a)]
    b_jobs = [_queue(b), _queue(b)]
    claimed = []
    while (job := queue.claim_next("w1", 30)) is not None:
        claimed.append(job.id)
    assert claimed == [a_jobs[0], b_jobs[0], a_jobs[1], b_jobs[1]]


def test_an_expired_lease_is_requeued_and_the_late_finish_is_dropped(settings: Settings) -> None:
    account = _account(settings, async_limit=5)
    job_id = _queue(account)
    lost = queue.claim_next("w1", -1)  # a lease that has already run out: the worker "died"
    assert lost is not None and lost.attempt == 1
    assert queue.requeue_expired() == 1
    assert _row(job_id).status == TranscriptStatus.QUEUED
    again = queue.claim_next("w2", 30)
    assert again is not None and again.id == job_id and again.attempt == 2
    assert not queue.finish(job_id, "w1", result={"text": "late"}, audio_duration=1)  # lease lost
    assert queue.finish(job_id, "w2", result={"text": "mine"}, audio_duration=1)
    row = _row(job_id)
    assert (row.status, row.result) == (TranscriptStatus.COMPLETED, {"text": "mine"})


def test_rows_stored_before_the_typed_request_still_load(settings: Settings) -> None:
    """A restart never loses a job: old JSON parameters (missing keys, our own keys) load with defaults."""
    old = {"audio_url": URL, "speech_models": ["universal-2"], "language_code": "en_us", "_base_url": "http://h"}
    request = TranscriptRequest.from_json(old)
    assert (request.punctuate, request.word_boost, request.content_safety_confidence) == (True, [], 50)
    assert request.base_url == "http://h" and request.to_json()["_base_url"] == "http://h"
    account = _account(settings, async_limit=5)
    job_id = _queue(account)
    with session_scope() as db:
        db.get(Transcript, job_id).params = old  # type: ignore[union-attr]
    job = queue.claim_next("w1", 30)
    assert job is not None and job.request.language_code == "en_us" and job.request.base_url == "http://h"


# --- one job's pipeline, mock engine -----------------------------------------------------------------------
def _job(settings: Settings, request: TranscriptRequest, fault: JobFault | None = None) -> queue.ClaimedJob:
    return queue.ClaimedJob("job-1", "acct", request.audio_url, str(SPEECH), request, 1, 0.0, fault)


def test_the_pipeline_reads_the_typed_request(settings: Settings) -> None:
    engine = build_engine(settings)
    plain = TranscriptRequest(audio_url=URL, speech_models=["universal-2"], language_code="en_us")
    outcome = run_job(_job(settings, plain), engine, settings)
    assert outcome.audio_duration == 3 and outcome.result["speech_model_used"] == "universal-2"
    assert outcome.result["words"] and outcome.result["text"]
    raw = TranscriptRequest(**{**plain.to_json(), "punctuate": False, "format_text": False})
    text = run_job(_job(settings, raw), engine, settings).result["text"]
    assert text == text.lower() and "." not in text  # the text options came from the request
    assert outcome.result["text"] != text
    assert SPEECH.exists()  # an upload is never deleted by its job


def test_an_injected_error_fault_ends_the_job(settings: Settings) -> None:
    request = TranscriptRequest(audio_url=URL, speech_models=["universal-2"], language_code="en_us")
    with pytest.raises(JobError, match="boom"):
        run_job(_job(settings, request, JobFault(error="boom")), build_engine(settings), settings)


def test_a_script_stands_in_for_the_engine_only_through_the_nodes_stand_ins(settings: Settings) -> None:
    """The pipeline never imports the emulator: a scripted result reaches it as the node's `JobStandIns`."""
    script = {
        "type": "result",
        "utterances": [
            {"text": "hello there", "start": 0, "end": 1200, "speaker": "A"},
            {"text": "general kenobi", "start": 1500, "end": 2800, "speaker": "B"},
        ],
    }
    request = TranscriptRequest(
        audio_url=URL,
        speech_models=["universal-2"],
        language_code="en_us",
        punctuate=False,
        format_text=False,
        speaker_labels=True,
    )
    job = _job(settings, request, JobFault(script=script))
    engine = build_engine(settings)
    scripted = run_job(job, engine, settings, stand_ins=EmulatorJobStandIns()).result
    said = [(u["speaker"], u["text"]) for u in scripted["utterances"]]
    assert said == [("A", "hello there"), ("B", "general kenobi")]  # the script's words and speakers
    assert run_job(job, engine, settings).result["text"] != scripted["text"]  # no stand-ins: the engine's


# --- a streaming session over a fake socket ----------------------------------------------------------------
class FakeSocket:
    """What SessionRunner uses of a WebSocket: receive, send_json, close and the two states."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for message in messages:
            self.inbox.put_nowait(message)
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None
        self.application_state = self.client_state = WebSocketState.CONNECTED

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send_json(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)
        self.application_state = WebSocketState.DISCONNECTED


def _pcm16(path: Path) -> bytes:
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
        frames = [f for frame in container.decode(audio=0) for f in resampler.resample(frame)]
    return b"".join(np.asarray(f.to_ndarray()).tobytes() for f in frames)


def test_a_streaming_session_over_a_fake_socket(settings: Settings) -> None:
    pcm = _pcm16(SPEECH) + bytes(16000 * 2)  # then a second of silence ends the turn
    chunk = 3200  # 100 ms
    messages = [{"type": "websocket.receive", "bytes": pcm[i : i + chunk]} for i in range(0, len(pcm), chunk)]
    messages.append({"type": "websocket.receive", "text": json.dumps({"type": "Terminate"})})
    ws = FakeSocket(messages)
    adapter = V3Adapter(None)
    stream = adapter.parse_query({"sample_rate": "16000"}, settings.stream_partial_interval_ms)
    scheduler = DecodeScheduler(build_engine(settings), settings)
    beats: list[float] = []
    runner = SessionRunner(
        ws,  # type: ignore[arg-type]
        adapter,
        stream,
        scheduler,
        max_session_s=60,
        idle_timeout_s=60,
        max_lead_s=60,
        heartbeat=beats.append,
    )
    try:
        asyncio.run(asyncio.wait_for(runner.run(), timeout=60))
    finally:
        scheduler.shutdown()
    kinds = [m["type"] for m in ws.sent]
    finals = [m for m in ws.sent if m["type"] == "Turn" and m["end_of_turn"]]
    assert finals and finals[0]["transcript"], kinds
    assert kinds[-1] == "Termination" and ws.closed is not None and ws.closed[0] == 1000
    assert runner.audio_s == pytest.approx(len(pcm) / 32000, abs=0.01)
