"""Several files (or one) on faster-whisper's batched path in one call: the VAD chunks of all side by side.

`BatchedInferencePipeline` decodes the VAD-cut chunks of one file in batches. Here each file is cut as the
pipeline cuts it (its VAD defaults, chunks of at most 30 s of speech), the chunks of all files are laid end
to end and handed to one pipeline call as `clip_timestamps`, and each segment is given back to its file
with the pipeline's own mapping from speech-only time to the file's time. One file alone decodes as the
pipeline decodes it; several short files (the jobs of a node's workers, server/engine/call_batcher.py)
share its batches.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from server.engine.base import EngineResult, EngineWord, ProgressFn, TranscribeOptions
from server.engine.whisper_calls import common_arguments, segment_words
from server.media.rate import SAMPLE_RATE

CHUNK_S = 30.0  # whisper's window: the pipeline's chunk length
MIN_SILENCE_MS = 160  # the pipeline's VAD default

Whisper = Any  # faster_whisper.WhisperModel, imported lazily (it pulls in CTranslate2)


@dataclass
class FileToDecode:
    samples: np.ndarray
    options: TranscribeOptions  # the files of one call share every decoding option (`share_key`)
    progress: ProgressFn | None = None


@dataclass
class _Cut:
    """One file's speech, as the pipeline cuts it, and where its chunks start in the joined audio."""

    speech: list[dict[str, int]]  # VAD speech spans in the file (samples)
    start: int  # first sample of its chunks in the joined audio


def share_key(options: TranscribeOptions) -> tuple[Any, ...] | None:
    """Files whose options give equal keys can share one call; None: this file decodes alone (the language is
    detected once per call, so a file that needs detection never shares one)."""
    if options.language is None:
        return None
    o = options
    return (o.model, o.language, o.task, tuple(o.hotwords), o.prompt, _temperature(o), o.beam_size)


def decode_files(
    whisper: Whisper, files: Sequence[FileToDecode], *, batch_size: int, beam_size: int
) -> list[EngineResult]:
    """Decode the files together; results in order, word times from each file's own start."""
    from faster_whisper import BatchedInferencePipeline

    options = files[0].options
    audio, clips, cuts = _join(files)
    words: list[list[EngineWord]] = [[] for _ in files]
    if not clips:  # no speech anywhere
        language = options.language or whisper.detect_language(files[0].samples)[0]
        return [EngineResult([], language) for _ in files]
    segments, info = BatchedInferencePipeline(whisper).transcribe(
        audio,
        **common_arguments(options),
        beam_size=options.beam_size or beam_size,
        temperature=_temperature(options),
        clip_timestamps=clips,
        batch_size=batch_size,
    )
    # a segment's `seek` is its chunk's start in frames, rounded down (by one more when float arithmetic
    # lands just under a whole frame); a chunk spans many frames: its file is the last starting before seek+1
    per_frame = SAMPLE_RATE / whisper.frames_per_second
    starts = [cut.start / per_frame for cut in cuts]
    for segment in segments:  # a generator: decoding happens as we iterate
        index = bisect.bisect_right(starts, segment.seek + 1) - 1
        segment = _in_file(segment, cuts[index])
        words[index] += segment_words(segment)
        file = files[index]
        duration = len(file.samples) / SAMPLE_RATE
        if file.progress is not None and duration > 0:
            file.progress(min(1.0, segment.end / duration))
    detected = options.language is None
    confidence = float(info.language_probability) if detected else None
    return [EngineResult(w, info.language, confidence) for w in words]


def _join(files: Sequence[FileToDecode]) -> tuple[np.ndarray, list[dict[str, float]], list[_Cut]]:
    """The speech chunks of all files end to end (one copy of the speech: the chunks go once joined), the
    clips that mark each chunk in it, and each file's cut."""
    from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

    vad = VadOptions(max_speech_duration_s=CHUNK_S, min_silence_duration_ms=MIN_SILENCE_MS)
    pieces: list[np.ndarray] = []
    clips: list[dict[str, float]] = []
    cuts: list[_Cut] = []
    position = 0
    for file in files:
        speech = get_speech_timestamps(file.samples, vad)
        cuts.append(_Cut(speech, position))
        for chunk in collect_chunks(file.samples, speech, max_duration=CHUNK_S)[0] if speech else []:
            end = position + len(chunk)
            # +0.5 sample: the pipeline turns seconds back into samples with int(), which must not round down
            clips.append({"start": (position + 0.5) / SAMPLE_RATE, "end": (end + 0.5) / SAMPLE_RATE})
            pieces.append(chunk)
            position = end
    audio = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    return audio, clips, cuts


def _temperature(options: TranscribeOptions) -> float:
    """The batched path decodes at one temperature: the call's, else greedy."""
    return options.temperature if options.temperature is not None else 0.0


def _in_file(segment: Any, cut: _Cut) -> Any:
    """A segment on the joined timeline -> on its file's: first its file's speech-only time, then the file's
    own (faster-whisper's restore_speech_timestamps, which the pipeline applies to one file's segments)."""
    from faster_whisper.transcribe import restore_speech_timestamps

    shift = cut.start / SAMPLE_RATE
    segment.start, segment.end = segment.start - shift, segment.end - shift
    for word in segment.words or []:
        # faster-whisper rounds the joined times to 10 ms: the first word may land a few ms before its file
        word.start, word.end = max(0.0, word.start - shift), max(0.0, word.end - shift)
    return next(iter(restore_speech_timestamps([segment], cut.speech, SAMPLE_RATE)))
