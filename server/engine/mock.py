"""A deterministic engine without a model, for tests and users' CI.

Which text it returns, first match wins:
1. a `localscribe_text` (or `lyrics`) metadata tag in the audio file,
2. `<mock_dir>/<file name>.txt`, where the file name is the last path segment of the audio URL,
3. `LOCALSCRIBE_MOCK_TEXT`,
4. a fixed pangram, repeated to fill the audio.
Words are spread evenly over the real duration of the audio. Processing takes
`mock_delay_s + mock_rtf × duration` seconds, so polling code sees realistic timings.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from server.engine.base import (
    AudioSource,
    EngineResult,
    EngineWord,
    ProgressFn,
    TranscribeOptions,
    WindowOf,
)
from server.media.rate import SAMPLE_RATE

PANGRAM = "The quick brown fox jumps over the lazy dog."
_WORDS_PER_SECOND = 2.5


class MockEngine:
    name = "mock"
    live_batch = 8  # its decodes cost nothing: batch as a GPU would, so that users' CI exercises batching

    def __init__(
        self, *, text: str | None = None, mock_dir: Path | None = None, delay_s: float = 0.0, rtf: float = 0.0
    ) -> None:
        self.text = text
        self.mock_dir = mock_dir
        self.delay_s = delay_s
        self.rtf = rtf

    def is_ready(self) -> bool:
        return True

    def can_transcribe(self, model: str | None, language: str | None) -> bool:
        return True

    def can_translate(self, model: str | None) -> bool:
        return False  # the mock's words are not speech it heard: nothing to translate

    def detect_language(self, samples: np.ndarray, model: str | None = None) -> tuple[str, float]:
        return "en", 0.99

    def pick_text(self, duration: float, source: AudioSource | None) -> str:
        tags = {k.lower(): v for k, v in (source.tags if source else {}).items()}
        for key in ("localscribe_text", "lyrics"):
            if tags.get(key, "").strip():
                return tags[key].strip()
        if self.mock_dir and source and source.name:
            sidecar = self.mock_dir / f"{Path(source.name).name}.txt"
            if sidecar.is_file():
                return sidecar.read_text(encoding="utf-8").strip()
        if self.text:
            return self.text
        sentences = max(1, round(duration * _WORDS_PER_SECOND / len(PANGRAM.split())))
        return " ".join([PANGRAM] * sentences)

    def transcribe(
        self,
        samples: np.ndarray,
        options: TranscribeOptions,
        progress: ProgressFn | None = None,
        *,
        source: AudioSource | None = None,
    ) -> EngineResult:
        duration = len(samples) / SAMPLE_RATE
        first = options.window is None or options.window.start_s == 0
        total = (self.delay_s if first else 0.0) + self.rtf * duration  # the fixed delay once per job
        steps = 10
        for i in range(steps):
            time.sleep(total / steps)
            if progress:
                progress((i + 1) / steps)
        if options.offset_s is not None:
            words = self._timeline_words(options.offset_s, duration, source)
        elif options.window is not None:
            words = self._window_words(options.window, duration, source)
        else:
            tokens = self.pick_text(duration, source).split()
            slot = duration / max(1, len(tokens))
            words = [
                EngineWord(tok, round(i * slot, 3), round(i * slot + slot * 0.9, 3), 0.99)
                for i, tok in enumerate(tokens)
            ]
        return EngineResult(
            words=words,
            language=options.language or (options.language_candidates or ["en"])[0],
            language_confidence=None if options.language else 0.99,
        )

    def transcribe_batch(self, items: Sequence[tuple[np.ndarray, TranscribeOptions]]) -> list[EngineResult]:
        """One after another: the mock's timings are per call, as without batching."""
        return [self.transcribe(samples, options) for samples, options in items]

    def _window_words(
        self, window: WindowOf, duration: float, source: AudioSource | None
    ) -> list[EngineWord]:
        """The whole audio's words (spread as over one call) that start in this window, from its start."""
        tokens = self.pick_text(window.total_s, source).split()
        slot = window.total_s / max(1, len(tokens))
        end = float("inf") if window.last else window.start_s + duration
        return [
            EngineWord(
                tok,
                round(i * slot - window.start_s, 3),
                round(i * slot + slot * 0.9 - window.start_s, 3),
                0.99,
            )
            for i, tok in enumerate(tokens)
            if window.start_s <= i * slot < end
        ]

    def _timeline_words(self, offset: float, duration: float, source: AudioSource | None) -> list[EngineWord]:
        """The words whose slots on the session timeline (the text repeated at 2.5 words/s) fall in this
        span, timed from its start: a growing window yields a growing prefix, each turn its own words."""
        tokens = self.pick_text(duration, source).split() or PANGRAM.split()
        slot = 1 / _WORDS_PER_SECOND
        first = int(np.ceil(offset / slot))
        last = int((offset + duration) / slot - 0.9)  # the word must end inside the span
        starts = [(i, i * slot - offset) for i in range(first, last + 1)]
        return [
            EngineWord(tokens[i % len(tokens)], round(t, 3), round(t + slot * 0.9, 3), 0.99)
            for i, t in starts
        ]
