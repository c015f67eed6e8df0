"""What every audio-intelligence feature reads: the finished transcript, its audio and the request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from server.media.span import ArrayAudio, Audio
from server.text.types import Word


@dataclass
class Document:
    """One transcript as the features see it.

    `words` are the API's words (ms, `speaker` set once speaker labels ran); `samples` is the transcribed
    span's 16 kHz audio, read block by block (server/media/span.py: a long file is never one array; a bare
    array is wrapped); `params` is the validated request (every key present).
    Features may replace `words`, `text` and `utterances` (diarization, PII redaction); later features
    see the replaced values.
    """

    words: list[Word]
    text: str
    samples: Audio
    params: dict[str, Any]
    language_code: str
    utterances: list[dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # scratch space shared between features
    # samples -> their speech in English (the engine's own translation), or None when no installed model
    # translates; set by the job pipeline, which owns the engine (intelligence never calls it directly)
    translate: Callable[[Audio], str] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.samples, np.ndarray):
            self.samples = ArrayAudio(self.samples)
