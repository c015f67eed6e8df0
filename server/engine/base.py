"""The engine interface: 16 kHz mono float32 samples in, timed words out. No HTTP, no SQL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass
class EngineWord:
    text: str  # as the model wrote it, punctuation attached ("Americans,")
    start: float  # seconds from the start of the samples given
    end: float
    confidence: float


@dataclass
class EngineResult:
    words: list[EngineWord]
    language: str  # ISO 639-1 as the model reports it ("en", "de")
    language_confidence: float | None = None  # set when the language was detected


@dataclass
class WindowOf:
    """These samples are one window of longer audio (server/jobs/windows.py)."""

    start_s: float  # where the window starts in the whole audio
    total_s: float  # the whole audio's length
    last: bool  # nothing follows this window


@dataclass
class TranscribeOptions:
    model: str | None = None  # local model name/path; None: the engine's default
    language: str | None = None  # None: detect
    language_candidates: list[str] = field(default_factory=list)  # detect among these only (empty: any)
    # Streaming: the language the session has spoken so far; detection on a short live window favours it
    # (short_window.HINT_WEIGHT), so a clause-long turn is not taken for a neighbouring language
    language_hint: str | None = None
    hotwords: list[str] = field(default_factory=list)  # word_boost / keyterms_prompt
    prompt: str | None = None
    multilingual: bool = False
    vad_filter: bool = False
    temperature: float | None = None
    beam_size: int | None = None  # None: the engine's default (streaming partials use 1 for speed)
    # Streaming: where these samples start in the session. The mock engine reads its text off one timeline,
    # so each turn of a stream gets the words of its own span; a real engine ignores it.
    offset_s: float | None = None
    # Streaming: encode the audio plus 10 s of silence (a draft: 6 s) instead of whisper's fixed 30 s window
    # (whisper.cpp's audio_ctx idea). Short live windows then decode about twice as fast.
    short_context: bool = False
    # Streaming: a partial, replaced by the turn's final. Its short window is padded less (short_window.py):
    # it decodes sooner, at the cost of the sentence's closing punctuation, which only a final needs.
    draft: bool = False
    # "translate": whisper's own speech translation, any language it knows into English
    # (docs/compatibility.md#speech-understanding translation)
    task: str = "transcribe"
    # Async jobs transcribe long audio window by window; a real engine ignores it, the mock engine spreads
    # its text over the whole audio and returns this window's share, timed from the window's start.
    window: WindowOf | None = None


ProgressFn = Callable[[float], None]  # fraction 0..1 of the audio done


@dataclass
class AudioSource:
    """What is known about where the samples came from (the mock engine picks its text from it)."""

    name: str | None = None  # file name from the URL, e.g. "jfk.flac"
    tags: dict[str, str] = field(default_factory=dict)  # container metadata


class EngineError(Exception):
    """A failure the job should report with this message (not a crash)."""


class Engine(Protocol):
    name: str

    @property
    def live_batch(self) -> int:
        """Live windows worth decoding in one call (`transcribe_batch`) on this engine's device."""
        ...

    def transcribe(
        self,
        samples: np.ndarray,
        options: TranscribeOptions,
        progress: ProgressFn | None = None,
        *,
        source: AudioSource | None = None,
    ) -> EngineResult: ...

    def transcribe_batch(self, items: Sequence[tuple[np.ndarray, TranscribeOptions]]) -> list[EngineResult]:
        """Several short windows (live streams' pending decodes), together where the engine can."""
        ...

    def detect_language(self, samples: np.ndarray, model: str | None = None) -> tuple[str, float]: ...

    def can_transcribe(self, model: str | None, language: str | None) -> bool: ...

    def can_translate(self, model: str | None) -> bool: ...

    def is_ready(self) -> bool: ...
