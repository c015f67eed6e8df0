"""One request, one transcript: the Sync and Dictation APIs (docs/compatibility.md#sync-api, #dictation-api).

The live path (`/v1/transcribe/live`, `/stream`, and the SDKs' `transcribe()`, which posts there too) decodes
while the body is still arriving: the audio is cut at pauses and each finished segment is decoded at once, so
after the last byte only the last segment is left. The buffered path (`/v1/transcribe`, `/transcribe`)
decodes the whole clip. Both decode on the node's decode scheduler (the one live streams share, handed in as a
`Decoder`) at a final's priority, never through the async job queue, and a per-node bound answers 429
`Capacity Exceeded` at once when it is full.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from server import errors
from server.config import Settings
from server.engine.base import AudioSource, Engine, EngineError, EngineResult, EngineWord, TranscribeOptions
from server.engine.segmenter import PauseSegmenter, Segment
from server.media.incoming import AudioFormatError, IncomingAudio
from server.media.rate import SAMPLE_RATE
from server.multipart import BodyEnd, MultipartEvents, PartData, PartEnd, PartStart, boundary_of
from server.sync.config import DecodeHints, DictationConfig, SyncConfig, parse_config

CONTEXT_CHARS = 200  # the previous segments' text given to the next decode, as streaming does
MAX_OVERHEAD_BYTES = 1 << 20  # the config part and the multipart framing, on top of the audio
PCM_TYPES = ("audio/pcm", "audio/l16", "audio/raw")
UNLABELLED = ("", "application/octet-stream")


class Decoder(Protocol):
    """What these APIs need of the node's decode scheduler (server/streaming/scheduler.py, handed in by the
    route): its engine, to ask what a model can do and to load one; one-off decodes at a person's priority."""

    engine: Engine

    async def transcribe(
        self, samples: np.ndarray, options: TranscribeOptions, source: AudioSource | None = None
    ) -> EngineResult: ...


class Capacity:
    """How many Sync/Dictation requests this node serves at once (event-loop only: no lock needed)."""

    def __init__(self, limit: int, retry_after_s: int) -> None:
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.busy = 0

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        if self.busy >= self.limit:
            headers = {"Retry-After": str(self.retry_after_s)}
            raise errors.problem(errors.SYNC_CAPACITY, headers, limit=self.limit)
        self.busy += 1
        try:
            yield
        finally:
            self.busy -= 1


@dataclass
class SyncJob:
    """What the route settled before the body: which model, which config keys, which path."""

    model: str  # local model name
    config: type[SyncConfig] | type[DictationConfig]
    live: bool


@dataclass
class Transcription:
    words: list[EngineWord]  # times from the start of the clip
    audio_ms: int
    language: str | None
    hints: DecodeHints


@dataclass
class _Upload:
    job: SyncJob
    settings: Settings
    config_raw: bytearray = field(default_factory=bytearray)
    hints: DecodeHints | None = None
    audio_kind: str | None = None  # the audio part's content type once it starts
    filename: str | None = None
    part: str | None = None  # the part being read
    audio_parts: int = 0
    audio_bytes: int = 0
    buffered: list[bytes] = field(default_factory=list)  # buffered path: the audio part, kept whole
    audio: IncomingAudio | None = None


async def transcribe_upload(
    body: AsyncIterator[bytes],
    content_type: str | None,
    job: SyncJob,
    settings: Settings,
    decoder: Decoder,
) -> Transcription:
    """Read the multipart body, decode its audio and return the words; errors.Problem when anything is off."""
    events = MultipartEvents(boundary_of(content_type))
    upload = _Upload(job, settings)
    live = _LiveDecode(decoder, settings, job) if job.live else None
    body_limit = settings.sync_max_audio_bytes + MAX_OVERHEAD_BYTES
    received = 0
    try:
        async for chunk in body:
            received += len(chunk)
            if received > body_limit:  # parts other than audio count too: a hostile body stays bounded
                raise errors.problem(errors.SYNC_TOO_LARGE, limit=settings.sync_max_audio_bytes)
            for event in events.feed(chunk):
                samples = _handle(upload, event)
                if live is not None and samples is not None:
                    await live.feed(upload, samples)
            if live is not None:
                live.raise_failure()
        if not events.ended:
            raise errors.problem(
                errors.SYNC_BAD_MULTIPART, problem="the body ended before its closing boundary"
            )
        if upload.audio_parts == 0:
            raise errors.problem(errors.SYNC_NO_AUDIO)
        if live is not None:
            assert upload.audio is not None and upload.hints is not None
            await live.feed(upload, _audio_call(upload.audio.finish))
            return await live.finish(upload)
        return await _decode_whole(upload, decoder)
    finally:
        if live is not None:
            live.cancel()


def _handle(upload: _Upload, event: object) -> np.ndarray | None:
    """One multipart event; the new samples on the live path."""
    settings = upload.settings
    if isinstance(event, PartStart):
        upload.part = event.name
        if event.name == "audio":
            upload.audio_parts += 1
            if upload.audio_parts > 1:
                raise errors.problem(errors.SYNC_BAD_MULTIPART, problem="more than one audio part")
            if upload.job.live and upload.hints is None:
                raise errors.problem(errors.SYNC_AUDIO_BEFORE_CONFIG)
            upload.audio_kind, upload.filename = event.content_type, event.filename
            if upload.job.live:
                assert upload.hints is not None
                upload.audio = _incoming(upload.hints, upload.audio_kind)
    elif isinstance(event, PartData):
        if upload.part == "config":
            upload.config_raw += event.data
            if len(upload.config_raw) > 256 * 1024:
                raise errors.problem(errors.SYNC_INVALID_CONFIG, problem="config exceeds 256 KiB")
        elif upload.part == "audio":
            upload.audio_bytes += len(event.data)
            if upload.audio_bytes > settings.sync_max_audio_bytes:
                raise errors.problem(errors.SYNC_TOO_LARGE, limit=settings.sync_max_audio_bytes)
            if upload.audio is None:
                upload.buffered.append(event.data)
                return None
            return _audio_call(upload.audio.feed, event.data)
    elif isinstance(event, PartEnd):
        if upload.part == "config":
            if upload.hints is not None:
                raise errors.problem(errors.SYNC_BAD_MULTIPART, problem="more than one config part")
            upload.hints = parse_config(bytes(upload.config_raw), upload.job.config)
        upload.part = None
    elif isinstance(event, BodyEnd):
        upload.part = None
    return None


def _incoming(hints: DecodeHints, kind: str | None) -> IncomingAudio:
    # the SDKs label raw PCM `audio/pcm`; an unlabelled part with a sample rate in the config is PCM too
    pcm = kind in PCM_TYPES or (kind in UNLABELLED and hints.sample_rate is not None)
    if pcm and (hints.sample_rate is None or hints.channels is None):
        raise errors.problem(
            errors.SYNC_INVALID_CONFIG, problem="raw PCM audio requires sample_rate and channels in config"
        )
    return IncomingAudio(pcm=pcm, sample_rate=hints.sample_rate, channels=hints.channels)


def _audio_call(fn, *args):  # noqa: ANN001, ANN202 - IncomingAudio.feed/finish
    try:
        return fn(*args)
    except AudioFormatError as exc:
        raise errors.problem(errors.SYNC_BAD_AUDIO, problem=str(exc)) from None


def _check_duration(samples: int, settings: Settings, *, final: bool) -> None:
    if samples > settings.sync_max_audio_s * SAMPLE_RATE:
        raise errors.problem(errors.SYNC_TOO_LONG, max_s=f"{settings.sync_max_audio_s:g}")
    ms = samples * 1000 // SAMPLE_RATE
    if final and ms < settings.sync_min_audio_ms:
        raise errors.problem(errors.SYNC_TOO_SHORT, ms=ms, min_ms=settings.sync_min_audio_ms)


async def _language(decoder: Decoder, job: SyncJob, hints: DecodeHints) -> str | None:
    """The request's language; English-only models decode English and refuse anything else."""
    multilingual = await asyncio.to_thread(decoder.engine.can_transcribe, job.model, None)
    if multilingual:
        return hints.language
    if hints.language not in (None, "en"):
        raise errors.problem(
            errors.SYNC_INVALID_CONFIG,
            problem=f"the model serving this request ({job.model}) transcribes English only",
        )
    return "en"


def _options(
    job: SyncJob,
    settings: Settings,
    hints: DecodeHints,
    language: str | None,
    prompt: str | None,
    offset_s: float | None,
) -> TranscribeOptions:
    return TranscribeOptions(
        model=job.model,
        language=language,
        hotwords=hints.hotwords,
        prompt=prompt,
        beam_size=settings.sync_beam_size,
        offset_s=offset_s,
        short_context=settings.sync_short_context,
    )


async def _run(decoder: Decoder, samples: np.ndarray, options: TranscribeOptions, name: str | None):
    try:
        return await decoder.transcribe(samples, options, AudioSource(name=name))
    except EngineError as exc:
        raise errors.problem(errors.SYNC_INFERENCE_FAILED, problem=str(exc)) from None


async def _decode_whole(upload: _Upload, decoder: Decoder) -> Transcription:
    """The buffered path: the config and audio parts in any order, the clip decoded in one call."""
    hints = upload.hints or parse_config(b"", upload.job.config)
    audio = _incoming(hints, upload.audio_kind)
    samples = np.concatenate([_audio_call(audio.feed, b"".join(upload.buffered)), _audio_call(audio.finish)])
    _check_duration(len(samples), upload.settings, final=True)
    language = await _language(decoder, upload.job, hints)
    options = _options(upload.job, upload.settings, hints, language, hints.prompt, None)
    result = await _run(decoder, samples, options, upload.filename)
    return Transcription(result.words, len(samples) * 1000 // SAMPLE_RATE, result.language, hints)


class _LiveDecode:
    """Segments cut at pauses, decoded one after another on a task of their own while the body arrives."""

    def __init__(self, decoder: Decoder, settings: Settings, job: SyncJob) -> None:
        self.decoder = decoder
        self.settings = settings
        self.job = job
        self.segmenter = PauseSegmenter(
            cut_silence_ms=settings.sync_cut_silence_ms, min_segment_s=settings.sync_min_segment_s
        )
        self.queue: asyncio.Queue[tuple[Segment, float | None] | None] = asyncio.Queue()
        self.task: asyncio.Task[list[EngineWord]] | None = None
        self.language: str | None = None
        self.samples = 0

    async def feed(self, upload: _Upload, samples: np.ndarray) -> None:
        if not len(samples):
            return
        self.samples += len(samples)
        _check_duration(self.samples, self.settings, final=False)
        for segment in self.segmenter.feed(samples):
            await self._queue(upload, segment, segment.offset_s)

    async def _queue(self, upload: _Upload, segment: Segment, offset_s: float | None) -> None:
        if self.task is None:
            assert upload.hints is not None
            language = await _language(self.decoder, self.job, upload.hints)
            self.task = asyncio.create_task(self._decode(upload.hints, language, upload.filename))
        self.queue.put_nowait((segment, offset_s))

    def raise_failure(self) -> None:
        """A decode that failed mid-upload fails the request now, not after the last byte."""
        if self.task is not None and self.task.done() and self.task.exception() is not None:
            raise self.task.exception()  # type: ignore[misc]

    async def finish(self, upload: _Upload) -> Transcription:
        _check_duration(self.samples, self.settings, final=True)
        assert upload.hints is not None
        rest = self.segmenter.finish()
        if rest is not None and (self.segmenter.cuts == 0 or rest.has_speech):
            # an uncut clip decodes exactly as the buffered path does (offset None)
            await self._queue(upload, rest, rest.offset_s if self.segmenter.cuts else None)
        if self.task is None:
            return Transcription([], self.samples * 1000 // SAMPLE_RATE, None, upload.hints)
        self.queue.put_nowait(None)
        words = await self.task
        return Transcription(words, self.samples * 1000 // SAMPLE_RATE, self.language, upload.hints)

    async def _decode(self, hints: DecodeHints, language: str | None, name: str | None) -> list[EngineWord]:
        words: list[EngineWord] = []
        context = ""
        while (item := await self.queue.get()) is not None:
            segment, offset_s = item
            prompt = " ".join(p for p in (hints.prompt, context) if p) or None
            options = _options(self.job, self.settings, hints, language, prompt, offset_s)
            result = await _run(self.decoder, segment.samples, options, name)
            language = language or result.language  # detected once, kept for the later segments
            self.language = language
            shift = segment.offset_s
            words += [EngineWord(w.text, w.start + shift, w.end + shift, w.confidence) for w in result.words]
            said = " ".join(w.text for w in result.words)
            context = f"{context} {said}".strip()[-CONTEXT_CHARS:]
        return words

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()


# --- response bodies -------------------------------------------------------------------------------------


def _confidence(words: list[EngineWord]) -> float:
    return round(sum(w.confidence for w in words) / len(words), 4) if words else 0.0


def sync_body(t: Transcription, session_id: str, request_ms: float) -> dict[str, object]:
    """`SyncTranscriptResponse` (docs/compatibility.md#sync-api): word `start`/`end` in ms only with
    `timestamps: true`."""
    words: list[dict[str, object]] = []
    for w in t.words:
        word: dict[str, object] = {"text": w.text, "confidence": round(w.confidence, 4)}
        if t.hints.timestamps:
            word["start"], word["end"] = round(w.start * 1000), round(w.end * 1000)
        words.append(word)
    return {
        "text": " ".join(w.text for w in t.words),
        "words": words,
        "confidence": _confidence(t.words),
        "audio_duration_ms": t.audio_ms,
        "session_id": session_id,
        "request_time_ms": round(request_ms, 1),
    }


async def warm(decoder: Decoder, model: str | None) -> None:
    """GET /v1/warm: load the model (and the VAD that cuts live uploads) so the next request finds them."""
    from server.engine import vad

    await asyncio.to_thread(vad.load)
    load = getattr(decoder.engine, "load", None)
    if load is not None and model is not None:
        try:
            await asyncio.to_thread(load, model)
        except Exception as exc:  # a model that cannot load is an inference failure, not a crash
            raise errors.problem(
                errors.SYNC_INFERENCE_FAILED, problem=f"model {model} could not load: {exc}"
            ) from None


def dictation_body(
    t: Transcription,
    session_id: str,
    request_ms: float,
    sync_ms: float,
    llm_text: str | None,
    llm_error: str | None,
) -> dict[str, object]:
    """`DictationResponse` (docs/compatibility.md#dictation-api): words carry text and confidence only."""
    return {
        "text": " ".join(w.text for w in t.words),
        "words": [{"text": w.text, "confidence": round(w.confidence, 4)} for w in t.words],
        "confidence": _confidence(t.words),
        "llm_response": llm_text,
        "llm_error": llm_error,
        "audio_duration_ms": t.audio_ms,
        "session_id": session_id,
        "request_time_ms": round(request_ms, 1),
        "sync_time_ms": round(sync_ms, 1),
    }
