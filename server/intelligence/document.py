"""What every audio-intelligence feature reads: the finished transcript, its audio and the request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from server.text.types import Word


@dataclass
class Document:
    """One transcript as the features see it.

    `words` are the API's words (ms, `speaker` set once speaker labels ran); `samples` are the decoded
    16 kHz mono float32 audio of the transcribed span; `params` is the validated request (every key present).
    Features may replace `words`, `text` and `utterances` (diarization, PII redaction); later features
    see the replaced values.
    """

    words: list[Word]
    text: str
    samples: np.ndarray
    params: dict[str, Any]
    language_code: str
    utterances: list[dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # scratch space shared between features
    # samples -> their speech in English (the engine's own translation), or None when no installed model
    # translates; set by the job pipeline, which owns the engine (intelligence never calls it directly)
    translate: Callable[[np.ndarray], str] | None = None
