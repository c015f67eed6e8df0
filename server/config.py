"""The one typed settings object. Every knob is an env var with the `LOCALSCRIBE_` prefix."""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_workers() -> int:
    """One worker per two cores: faster-whisper already uses several threads per decode."""
    return max(1, (os.cpu_count() or 2) // 2)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOCALSCRIBE_", env_file=".env", extra="ignore")

    data_dir: Path = Path("./data")
    database_url: str | None = None  # default: SQLite file under data_dir

    engine: Literal["whisper", "mock"] = "whisper"
    model: str = "base"
    models_dir: Path = Path("./models")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compute_type: str = "auto"  # int8 on CPU, float16 on GPU
    cpu_threads: int = 0  # 0: CTranslate2 picks
    beam_size: int = 5
    # Files: VAD chunks of one file decoded side by side (faster-whisper's BatchedInferencePipeline); 1: off.
    batch_size: int = 8
    # From which audio length (seconds) a file is decoded in batches; None: the measured default per device
    # (server/engine/whisper.py BATCH_MIN_S, docs/benchmarks.md#batched-decoding).
    batch_min_s: float | None = None
    # The batched path's beam; None: the measured default per device (server/engine/whisper.py
    # BATCH_BEAM_SIZE), or `beam_size` when that is set explicitly.
    batch_beam_size: int | None = None
    # On that path, the short files (one chunk) of that many concurrent jobs decode in one call; 1: each
    # alone; None: measured per device (server/engine/whisper.py BATCH_JOBS: CPU 1, GPU 8).
    batch_jobs: int | None = Field(default=None, ge=1)
    # API speech-model names (and local names) -> local model; docs/compatibility.md#transcript-params "which
    # local model serves".
    speech_model_map: dict[str, str] = Field(
        default_factory=lambda: {
            "nano": "tiny.en",
            "universal-2": "base",
            "universal-3-pro": "base",
            "best": "base",
            "universal": "base",
            "slam-1": "base",
        }
    )
    default_speech_models: list[str] = Field(default_factory=lambda: ["universal-3-pro", "universal-2"])
    # requests may name installed models only; true: Hub names too, downloaded on first use (docs/security.md)
    allow_model_downloads: bool = False

    api_key: str | None = None  # a Paid account with exactly this key exists at start-up
    public_url: str | None = None  # how upload/resource URLs are written; default: the request's base URL
    # `serve --tls` (server/tls.py): this certificate (chain) and key; unset → a local CA under data_dir/tls
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_upload_bytes: int = 2_200_000_000
    # a JSON request body (transcript, token, admin) larger than this is refused with 413 before it is read
    max_json_body_bytes: int = 1_048_576

    # database connections of the API (issue 19): at most `db_pool_size` database units of requests run at
    # once (the rest wait without holding anything); `db_pool_overflow` more serve streams and health
    # checks. Worker threads have a pool of their own (server/db/session.py).
    db_pool_size: int = 8
    db_pool_overflow: int = 8

    # an upload no queued/processing transcript needs is deleted this long after it arrived; 0: kept until
    # its transcript is deleted. Orphans and abandoned `.part` files go too (docs/security.md "Files")
    upload_ttl_hours: float = 24.0
    sweep_interval_s: float = 600.0

    max_download_bytes: int = 5_000_000_000
    download_timeout_s: float = 60.0  # the longest any one read of a download may wait
    download_deadline_s: float = 1800.0  # a whole download, however it trickles

    # Server-side requests (audio_url, webhook_url; server/jobs/outbound.py): link-local and metadata
    # addresses are always refused; loopback/private ranges under `public`, allowed under `private`, and
    # under `auto` allowed only while the server listens on loopback alone (`listen_host`).
    url_policy: Literal["auto", "public", "private"] = "auto"
    url_allowed_networks: list[str] = Field(default_factory=list)  # CIDRs reachable under any policy
    listen_host: str = "127.0.0.1"  # `serve --host` sets it; a lone `worker` process reads it from here

    # Long audio is decoded and transcribed in windows of at most this many seconds, cut at a pause
    # (server/jobs/windows.py), so a job's memory does not grow with the audio's length.
    transcribe_window_s: float = 600.0

    # slow or half-sent requests (server/http_guard.py, docs/security.md "Slow peers")
    header_timeout_s: float = 10.0  # a request's headers must be complete this long after its first byte
    body_timeout_s: float = 60.0  # longest pause in a request body the server is waiting for
    keep_alive_timeout_s: int = 5  # an idle kept-alive connection is closed after this
    max_connections: int = 1000  # connections (and tasks) at once; beyond it uvicorn answers 503

    workers: int = Field(default_factory=_default_workers)  # jobs this node executes at once
    lease_seconds: float = 30.0
    poll_interval_s: float = 0.2
    shutdown_grace_s: float = 30.0

    mock_delay_s: float = 0.0  # fixed simulated processing time
    mock_rtf: float = 0.0  # simulated processing time per second of audio
    mock_text: str | None = None  # overrides the mock engine's fixed phrase
    mock_dir: Path | None = None  # sidecar transcripts for the mock engine: <dir>/<audio file name>.txt
    mock_rewrite: str | None = None  # Dictation's llm_response with the mock engine; {text}, {instruction}

    # emulator controls (docs/faults.md): /admin answers 404 unless a token is set
    admin_token: str | None = None
    faults_file: Path | None = None  # YAML fault rules, loaded into the database at start-up
    # test suites (docs/testing.md): the request journal keeps this many entries, the oldest dropped first
    journal_max_entries: int = Field(default=1000, ge=1)
    # record and replay (docs/testing.md#record-and-replay): `record` sends each job to `upstream_url` and
    # keeps what came back under `recordings_dir`; `replay` serves those; a miss errs or uses the engine
    recordings_mode: Literal["off", "record", "replay"] = "off"
    recordings_dir: Path = Path("./recordings")
    upstream_url: str = "https://api.assemblyai.com"
    # where record mode streams (`/v3/ws`); unset: `upstream_url` as ws(s)://, wss://streaming.assemblyai.com
    # for the real API
    upstream_streaming_url: str | None = None
    upstream_api_key: str | None = None  # the key sent upstream; never written to a recording
    replay_miss: Literal["error", "engine"] = "error"

    free_async_limit: int = 5
    paid_async_limit: int = 32
    free_realtime_limit: int = 0
    paid_realtime_limit: int = 32

    # real-time streaming (issue 4): the model that serves each streaming speech model, and the pacing rules
    stream_model: str = "tiny.en"  # universal-streaming-english and the v2 endpoint
    stream_model_multilingual: str = "base"  # universal-streaming-multilingual, whisper-rt, u3-rt-pro
    job_decode_nice: int = 19  # nice of async jobs' threads (decoding, media, VAD): live decodes go first
    stream_decode_threads: int = 1  # decodes of all sessions run here, off the event loop
    # pending windows of that many sessions decode together (1: one at a time); None: the engine's measured
    # default for its device (`Engine.live_batch`: 1 on the CPU, 8 on a GPU)
    stream_batch_size: int | None = None
    stream_beam_size: int = 1  # partial decodes; finals use beam_size
    stream_partial_interval_ms: int = 250  # decode the live utterance at most this often
    stream_short_context_finals: bool = True  # finals also skip whisper's 30 s padding (partials always do)
    # audio may run ahead of real time by this much (docs/compatibility.md#v2-audio)
    stream_max_lead_s: float = 60.0
    stream_idle_timeout_s: float = 60.0  # v2: no audio for this long → 4031
    stream_max_session_s: int = 10_800  # 3 h, then 4008 / 3008

    # Sync and Dictation APIs (issue 22, docs/compatibility.md#sync-api, #dictation-api): one request, one
    # transcript
    sync_max_concurrent: int = 8  # requests in flight per node; one more answers 429 Capacity Exceeded
    sync_retry_after_s: int = 1  # the Retry-After of that 429
    sync_max_audio_bytes: int = 40_000_000  # the audio part; more → 413 Audio Too Large
    sync_max_audio_s: float = 120.0
    sync_min_audio_ms: int = 80
    sync_stall_timeout_s: float = 15.0  # no body bytes for this long → 408 (the SDKs' uploads never pause)
    sync_cut_silence_ms: int = 400  # live path: a pause this long ends a segment, which is decoded at once
    sync_min_segment_s: float = 3.0  # ... once the segment is at least this long
    sync_beam_size: int | None = None  # None: beam_size, the async path's, so both paths give the same words
    # whisper's short window (the streams' too): a window whose words stop a second or more before its audio
    # does (base cut en_timit off mid-sentence) is decoded again in the full one (engine/short_window.py)
    sync_short_context: bool = True
    # Dictation's llm_instruction: an OpenAI-compatible chat endpoint (llama.cpp's server, Ollama, vLLM ...)
    llm_base_url: str | None = None  # e.g. http://127.0.0.1:11434/v1; unset: llm_error says so
    llm_model: str = "default"
    llm_api_key: str | None = None
    llm_timeout_s: float = 60.0

    webhook_timeout_s: float = 10.0
    webhook_max_attempts: int = 10
    webhook_retry_s: float = 10.0
    webhook_deadline_s: float = 30.0  # one attempt, redirects included, however slowly the receiver answers
    webhook_concurrency: int = 8  # deliveries in flight at once per node

    playground: bool = True  # the web playground at `/` (docs/playground.md)

    @field_validator("url_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # ValueError: a bad setting fails at start-up
        return value

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'localscribe.db').resolve()}"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def downloads_dir(self) -> Path:
        return self.data_dir / "downloads"

    @property
    def redacted_audio_dir(self) -> Path:
        """PII-redacted audio files (`redact_pii_audio`), named by an unguessable token
        (docs/compatibility.md#redacted-audio)."""
        return self.data_dir / "redacted-audio"


@lru_cache
def get_settings() -> Settings:
    return Settings()
