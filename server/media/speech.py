"""How much of a recording is speech, for the API's `speech_threshold`
(docs/compatibility.md#processing-errors)."""

from __future__ import annotations

import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps

from server.media.rate import SAMPLE_RATE

# Silero VAD's own defaults rather than faster-whisper's transcription defaults: those pad every
# speech chunk by 400 ms and bridge pauses up to 2 s, which is right for cutting audio to transcribe
# but would count most pauses as speech here.
MEASURE_OPTIONS = VadOptions(
    threshold=0.5, min_speech_duration_ms=250, min_silence_duration_ms=100, speech_pad_ms=30
)


def speech_fraction(samples16k: np.ndarray, options: VadOptions | None = None) -> float:
    """Fraction (0..1) of the duration of 16 kHz mono ``samples16k`` that Silero VAD marks as speech."""
    audio = np.asarray(samples16k, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError("speech_fraction expects mono samples of shape (n,)")
    total = audio.shape[0]
    if total == 0:
        return 0.0
    chunks = get_speech_timestamps(audio, options or MEASURE_OPTIONS, sampling_rate=SAMPLE_RATE)
    # Padding can make neighbouring chunks overlap: count the union, not the sum.
    covered = 0
    reach = 0
    for chunk in sorted(chunks, key=lambda c: c["start"]):
        start = max(int(chunk["start"]), reach, 0)
        end = min(int(chunk["end"]), total)
        if end > start:
            covered += end - start
        reach = max(reach, end)
    return min(1.0, covered / total)


def quiet_cut(samples16k: np.ndarray) -> int:
    """Where to cut 16 kHz mono audio so that no word is split: the middle of its longest pause that
    Silero VAD finds, or, in unbroken speech, its quietest 100 ms. Returns an index into the samples."""
    audio = np.asarray(samples16k, dtype=np.float32)
    if len(audio) == 0:
        return 0
    chunks = sorted(
        get_speech_timestamps(audio, MEASURE_OPTIONS, sampling_rate=SAMPLE_RATE), key=lambda c: c["start"]
    )
    if not chunks:
        return len(audio) // 2
    # only pauses between two speech chunks: at the region's edges the VAD's state is still settling
    best, best_len, reach = -1, 0, int(chunks[0]["end"])
    for chunk in chunks[1:]:
        a = int(chunk["start"])
        if a - reach > best_len:
            best, best_len = (reach + a) // 2, a - reach
        reach = max(reach, int(chunk["end"]))
    if best_len >= SAMPLE_RATE // 10:  # a pause of 100 ms or more
        return int(best)
    frame = SAMPLE_RATE // 50
    usable = len(audio) - len(audio) % frame
    if usable == 0:
        return len(audio) // 2
    energy = np.square(audio[:usable]).reshape(-1, frame).mean(axis=1)
    span = min(5, len(energy))  # the quietest 100 ms, not a lone quiet frame inside a word
    smooth = np.convolve(energy, np.ones(span) / span, mode="valid")
    return int(np.argmin(smooth)) * frame + span * frame // 2
