"""One job, start to finish: fetch → probe/measure → checks → engine → text options → result dict.

Knows nothing of HTTP or SQL: it gets a claimed job and returns what the transcript should show.
The audio is never held whole: it is measured by decoding (the duration limit counts decoded samples,
not the header), then read again in blocks by each step that needs it, and transcribed in windows cut
at pauses (server/jobs/windows.py), so a job's memory stays flat in the audio's length.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import numpy as np

from server import errors
from server.config import Settings
from server.engine.base import (
    AudioSource,
    Engine,
    EngineError,
    ProgressFn,
    TranscribeOptions,
    WindowOf,
)
from server.intelligence import enrich
from server.intelligence.document import Document
from server.jobs.errors import JobError
from server.jobs.fetch import download
from server.jobs.queue import ClaimedJob
from server.jobs.result_keys import RECORDED_EXPORTS, REDACTED_AUDIO_FILE
from server.jobs.stand_ins import EngineAlone, JobStandIns, Speakers
from server.jobs.windows import windows
from server.languages import to_api_language, to_whisper_language, unavailable_addons
from server.media.encode import AudioFormat
from server.media.errors import MediaError
from server.media.probe import probe_measured
from server.media.rate import SAMPLE_RATE
from server.media.redact import Method, write_redacted
from server.media.span import Audio, FileAudio
from server.media.speech import speech_fraction
from server.text.formatting import apply_options, join_text
from server.text.types import Word
from server.text.utterances import build_utterances, utterance_text
from server.transcript_request import TranscriptRequest

MIN_DURATION_S = 0.16  # docs/compatibility.md#processing-errors: "Audio duration is too short." below 160 ms
MAX_DURATION_S = 10 * 3600
# Whisper leaves out filler words unless its prompt shows some (a known faster-whisper idiom).
DISFLUENCY_PROMPT = "Umm, let me think like, hmm... Okay, here's what I'm, like, thinking."


@dataclass
class JobOutcome:
    result: dict[str, Any]
    audio_duration: int


def run_job(
    job: ClaimedJob,
    engine: Engine,
    settings: Settings,
    progress: ProgressFn | None = None,
    stand_ins: JobStandIns = EngineAlone(),
) -> JobOutcome:
    if job.fault and job.fault.error is not None:  # fault `error` (docs/faults.md)
        raise JobError(job.fault.error)
    script = job.fault.script if job.fault else None
    engine = stand_ins.engine(script, engine)  # a scripted result stands in for the engine
    path = _local_audio(job, settings)
    try:
        # record or replay mode (docs/testing.md#record-and-replay); a scripted job is never recorded
        recorded = None if script else stand_ins.recorded(job.request, path, settings)
        if recorded is not None:  # its exports are served as recorded, not made again from its words
            result = {**recorded.result, RECORDED_EXPORTS: recorded.exports}
            return JobOutcome(result, recorded.audio_duration)
        return _transcribe_file(path, job, engine, settings, progress, stand_ins.speakers(script))
    except MediaError as exc:
        raise JobError(str(exc)) from exc
    except EngineError as exc:
        raise JobError(errors.SERVER_ERROR) from exc
    finally:
        if job.upload_path is None:  # downloads are scratch; uploads stay until the transcript is deleted
            path.unlink(missing_ok=True)


def _local_audio(job: ClaimedJob, settings: Settings) -> Path:
    if job.upload_path is not None:
        path = Path(job.upload_path)
        if not path.is_file():
            raise JobError(errors.DOWNLOAD_UNREACHABLE.format(url=job.audio_url))
        return path
    return download(job.audio_url, settings.downloads_dir / job.id, settings)


def _transcribe_file(
    path: Path,
    job: ClaimedJob,
    engine: Engine,
    settings: Settings,
    progress: ProgressFn | None,
    scripted_speakers: Speakers | None,
) -> JobOutcome:
    p = job.request
    # the limit and `audio_duration` count what decodes, never what the header declares
    info = probe_measured(path, MAX_DURATION_S)
    file_s = info.duration_s
    if file_s < MIN_DURATION_S:
        raise JobError(errors.AUDIO_TOO_SHORT)
    start_ms, end_ms = p.audio_start_from, p.audio_end_at
    span_end_s = file_s if end_ms is None else min(file_s, end_ms / 1000)
    audio = FileAudio(
        path,
        duration_s=max(0.0, span_end_s - (start_ms or 0) / 1000),
        channels=info.channels,
        start_ms=start_ms,
        end_ms=end_ms,
        max_s=MAX_DURATION_S,
    )
    if audio.duration_s < MIN_DURATION_S:
        raise JobError(errors.AUDIO_TOO_SHORT)
    _check_speech_threshold(audio, p.speech_threshold, settings.transcribe_window_s)

    candidates = [(name, settings.speech_model_map.get(name, name)) for name in p.speech_models or []]
    language_confidence = None
    whisper_language: str | None
    if p.language_detection:
        # whisper detects from the first 30 s; the first window holds them
        first = next(windows(audio.blocks(), settings.transcribe_window_s)).samples
        whisper_language, language_confidence = engine.detect_language(
            first, _detector_model(engine, candidates)
        )
        del first
        api_language = to_api_language(whisper_language)
        _check_detected_language(api_language, language_confidence, p)
    else:
        assert p.language_code is not None  # validation sets one whenever detection is off
        api_language = p.language_code
        whisper_language = to_whisper_language(api_language)
    api_model, local_model = _choose_model(engine, candidates, whisper_language, api_language)

    code_switching = bool((p.language_detection_options or {}).get("code_switching"))
    multichannel = p.multichannel
    hotwords = [*p.word_boost, *(p.keyterms_prompt or [])]
    options = TranscribeOptions(
        model=local_model,
        language=whisper_language,
        hotwords=hotwords,
        prompt=p.prompt or (DISFLUENCY_PROMPT if p.disfluencies else None),
        multilingual=code_switching,
        vad_filter=code_switching or multichannel,  # a channel is often silent while the other speaks
        temperature=p.temperature,
    )
    source = AudioSource(name=_file_name(job.audio_url) if job.upload_path is None else None, tags=info.tags)
    tracks: list[int | None] = list(range(audio.channels)) if multichannel else [None]
    words: list[Word] = []
    for index, track in enumerate(tracks):
        channel = str(index + 1) if multichannel else None
        words += _transcribe_track(
            engine,
            audio,
            track,
            options,
            settings.transcribe_window_s,
            _scaled(progress, index, len(tracks)),
            source=source,
            offset_ms=start_ms or 0,
            channel=channel,
        )
    words.sort(key=lambda w: (w["start"], w["end"]))
    words = apply_options(
        words,
        punctuate=p.punctuate,
        format_text=p.format_text,
        disfluencies=p.disfluencies,
        filter_profanity=p.filter_profanity,
        custom_spelling=p.custom_spelling,
    )
    utterances = build_utterances(words) if multichannel else None
    doc = Document(
        words=words,
        text=utterance_text(utterances) if utterances is not None else join_text(words),
        samples=audio,
        request=p,
        language_code=api_language,
        utterances=utterances,
        samples_offset_ms=start_ms or 0,  # the samples start at audio_start_from on the words' clock
        scripted_speakers=scripted_speakers,
        translate=_translator(engine, options, settings) if p.translation is not None else None,
    )
    out: dict[str, Any] = {
        "confidence": round(float(np.mean([w["confidence"] for w in words])), 4) if words else None,
        "language_code": api_language,
        "speech_model_used": api_model,
        **enrich(doc),
    }
    if p.redact_pii_audio:
        out[REDACTED_AUDIO_FILE] = _write_redacted_audio(doc, settings)
    if p.language_detection:
        out["language_confidence"] = round(language_confidence or 0.0, 4)
    if multichannel:
        out["audio_channels"] = len(tracks)
    return JobOutcome(out, int(round(file_s)))


def _transcribe_track(
    engine: Engine,
    audio: FileAudio,
    track: int | None,
    options: TranscribeOptions,
    window_s: float,
    progress: ProgressFn | None,
    *,
    source: AudioSource,
    offset_ms: int,
    channel: str | None,
) -> list[Word]:
    """One track (the mono mix, or one channel), window by window; word times made absolute again."""
    total = max(audio.duration_s, 1e-9)
    words: list[Word] = []
    for window in windows(audio.blocks(track), window_s):
        within = replace(options, window=WindowOf(window.start_s, audio.duration_s, window.last))
        done = window.start_s

        def window_progress(fraction: float, done: float = done, length: float = window.duration_s) -> None:
            if progress is not None:
                progress(min(1.0, (done + fraction * length) / total))

        result = engine.transcribe(window.samples, within, window_progress, source=source)
        words += [
            _api_word(
                w.text, window.start_s + w.start, window.start_s + w.end, w.confidence, offset_ms, channel
            )
            for w in result.words
        ]
    return words


def _write_redacted_audio(doc: Document, settings: Settings) -> str | None:
    """The PII spans beeped (or silenced) in the decoded audio, written under the data dir; its file name
    (an unguessable token) or None when the audio has no speech and none was asked for
    (docs/compatibility.md#redacted-audio)."""
    options = doc.request.redact_pii_audio_options or {}
    if not doc.words and not options.get("return_redacted_no_speech_audio"):
        return None
    fmt = cast(AudioFormat, doc.request.redact_pii_audio_quality or "mp3")  # validated: mp3 or wav
    name = f"{secrets.token_hex(16)}.{fmt}"
    method: Method = "silence" if options.get("override_audio_redaction_method") == "silence" else "beep"
    spans = doc.pii_spans
    path = settings.redacted_audio_dir / name
    offset_ms = doc.samples_offset_ms
    write_redacted(doc.samples.blocks(), spans, SAMPLE_RATE, path, fmt, offset_ms=offset_ms, method=method)
    return name


def _translator(
    engine: Engine, options: TranscribeOptions, settings: Settings
) -> Callable[[Audio], str] | None:
    """Speech -> English text with the engine's own translation (whisper `task="translate"`): the job's
    model when it is multilingual, else the first multilingual model the server maps
    (docs/compatibility.md#speech-understanding)."""
    models = [options.model, *settings.speech_model_map.values()]
    model = next((m for m in models if engine.can_translate(m)), None)
    if model is None:
        return None
    translating = replace(options, model=model, task="translate", hotwords=[], prompt=None)

    def translate(audio: Audio) -> str:
        """Window by window, like transcription, so memory stays flat in the audio's length."""
        texts = [
            " ".join(w.text for w in engine.transcribe(window.samples, translating).words)
            for window in windows(audio.blocks(), settings.transcribe_window_s)
            if window.duration_s >= MIN_DURATION_S
        ]
        return " ".join(t for t in texts if t)

    return translate


def _api_word(
    text: str, start: float, end: float, confidence: float, offset_ms: int, channel: str | None
) -> Word:
    """Engine seconds → the API's word: ms from the start of the file; a channel is also its speaker."""
    word: Word = {
        "text": text,
        "start": int(round(start * 1000)) + offset_ms,
        "end": int(round(end * 1000)) + offset_ms,
        "confidence": round(confidence, 4),
        "speaker": channel,
    }
    if channel is not None:
        word["channel"] = channel
    return word


def _scaled(progress: ProgressFn | None, index: int, count: int) -> ProgressFn | None:
    """Progress of one of `count` channel passes, as a fraction of the whole job."""
    if progress is None:
        return None
    return lambda fraction: progress((index + fraction) / count)


def _check_speech_threshold(audio: FileAudio, threshold: float | None, window_s: float) -> None:
    """The speech fraction of the whole span, measured window by window (a pause at a window's edge
    counts as it would in one pass: windows are cut in pauses)."""
    if not threshold:
        return
    speech = total = 0.0
    for window in windows(audio.blocks(), window_s):
        speech += speech_fraction(window.samples) * len(window.samples)
        total += len(window.samples)
    fraction = speech / total if total else 0.0
    if fraction < threshold:
        raise JobError(errors.SPEECH_BELOW_THRESHOLD.format(fraction=fraction, threshold=threshold))


def _check_detected_language(code: str, confidence: float, p: TranscriptRequest) -> None:
    threshold = p.language_confidence_threshold
    if threshold and confidence < threshold:
        raise JobError(
            errors.LANGUAGE_BELOW_THRESHOLD.format(code=code, confidence=confidence, threshold=threshold)
        )
    missing = unavailable_addons(code, p.to_json())
    if missing:
        raise JobError(errors.ADDONS_NOT_AVAILABLE.format(names=", ".join(missing)))


def _detector_model(engine: Engine, candidates: list[tuple[str, str]]) -> str:
    """Detect with the first model that knows many languages (an English-only model always says 'en')."""
    for _, local in candidates:
        if engine.can_transcribe(local, None):
            return local
    return candidates[0][1]


def _choose_model(
    engine: Engine, candidates: list[tuple[str, str]], whisper_language: str | None, api_language: str
) -> tuple[str, str]:
    """The first listed speech model that can serve the language (docs/compatibility.md#transcript-params)."""
    for api_name, local in candidates:
        if engine.can_transcribe(local, whisper_language):
            return api_name, local
    raise JobError(errors.MODEL_CANNOT_SERVE_LANGUAGE.format(model=candidates[0][0], code=api_language))


def _file_name(url: str) -> str | None:
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    return name or None
