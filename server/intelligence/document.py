"""What every audio-intelligence feature reads: the finished transcript, its audio and the request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from server.media.span import ArrayAudio, Audio
from server.text.types import Word
from server.transcript_request import TranscriptRequest


@dataclass
class Document:
    """One transcript as the features see it.

    `words` are the API's words (ms, `speaker` set once speaker labels ran); `samples` is the transcribed
    span's 16 kHz audio, read block by block (server/media/span.py: a long file is never one array; a bare
    array is wrapped); `request` is the validated request.
    Features may replace `words`, `text` and `utterances` (diarization, PII redaction); later features
    see the replaced values.
    """

    words: list[Word]
    text: str
    samples: Audio
    request: TranscriptRequest
    language_code: str
    utterances: list[dict[str, Any]] | None = None
    samples_offset_ms: int = 0  # where `samples` start on the words' clock (audio_start_from)
    # set by PII redaction: the redacted spans (ms on the words' clock) for the redacted audio
    pii_spans: list[dict[str, Any]] = field(default_factory=list)
    # set before PII redaction: the utterances as said, for speaker identification
    said_utterances: list[dict[str, Any]] | None = None
    cache: dict[str, Any] = field(default_factory=dict)  # features' caches (parses, sentence vectors)
    # a scripted result's speakers, (start ms, end ms, speaker): diarization labels words from them instead
    # of the audio (server/emulator/scripted.py)
    scripted_speakers: list[tuple[int, int, str]] | None = None
    # samples -> their speech in English (the engine's own translation), or None when no installed model
    # translates; set by the job pipeline, which owns the engine (intelligence never calls it directly)
    translate: Callable[[Audio], str] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.samples, np.ndarray):
            self.samples = ArrayAudio(self.samples)
