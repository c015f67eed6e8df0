"""A script standing in for the engine (docs/testing.md#scripted-results).

`ScriptedEngine` wraps the real engine of the node and answers `transcribe` with the script's words, window by
window like any engine, so everything after the engine (text options, speaker turns, intelligence, exports,
webhooks) runs as it would on real speech. `ScriptedRecognizer` replaces a streaming session's recognizer:
each turn becomes final once the audio received passes its end; what was said so far is a partial. Its
clock (`ClockedRecognizer`) also plays replayed streaming recordings (stream_replay.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from server.engine.base import (
    Engine,
    EngineResult,
    EngineWord,
    ProgressFn,
    TranscribeOptions,
)
from server.engine.recognizer import CONFIDENT_END, DecodeRequest, Event, Final, Onset, Partial, StreamWord
from server.media.rate import SAMPLE_RATE


@dataclass(frozen=True)
class TimedWord:
    text: str
    start_ms: int
    end_ms: int
    confidence: float
    speaker: str | None = None


def spread(text: str, start_ms: int, end_ms: int, speaker: str | None = None) -> list[TimedWord]:
    """A span's words, evenly over it (how a script given as text is timed)."""
    tokens = text.split()
    step = (end_ms - start_ms) / max(1, len(tokens))
    return [
        TimedWord(t, int(start_ms + i * step), int(start_ms + (i + 1) * step) - 1, 0.99, speaker)
        for i, t in enumerate(tokens)
    ]


def script_words(effect: dict[str, Any], total_ms: int) -> list[TimedWord]:
    """The words a `result` script says, on the audio's clock (a `text` script spans the whole audio)."""
    if effect.get("words") is not None:
        return [
            TimedWord(w["text"], w["start"], w["end"], w.get("confidence", 0.99), w.get("speaker"))
            for w in effect["words"]
        ]
    if effect.get("utterances") is not None:
        return [
            w for u in effect["utterances"] for w in spread(u["text"], u["start"], u["end"], u["speaker"])
        ]
    return spread(effect["text"], 0, max(total_ms, 1))


def scripted_speakers(effect: dict[str, Any] | None) -> list[tuple[int, int, str]] | None:
    """Who speaks when, if the script says so: diarization then labels words from it, not from the audio."""
    if not effect or effect.get("type") != "result":
        return None
    words = script_words(effect, 0) if effect.get("text") is None else []
    spans = [(w.start_ms, w.end_ms, w.speaker) for w in words if w.speaker is not None]
    return spans or None


class ScriptedEngine:
    """The node's engine, except that `transcribe` says what the script says."""

    def __init__(self, inner: Engine, effect: dict[str, Any]) -> None:
        self.inner = inner
        self.effect = effect
        self.name = f"scripted({inner.name})"

    def transcribe(  # the Engine protocol's; `source` (what the mock engine reads) means nothing here
        self, samples: np.ndarray, options: TranscribeOptions, progress: ProgressFn | None = None, **_: Any
    ) -> EngineResult:
        start_s = options.window.start_s if options.window else 0.0
        total_s = options.window.total_s if options.window else len(samples) / SAMPLE_RATE
        last = options.window.last if options.window else True
        begin_ms, end_ms = start_s * 1000, start_s * 1000 + len(samples) * 1000 / SAMPLE_RATE
        words = [
            EngineWord(w.text, w.start_ms / 1000 - start_s, w.end_ms / 1000 - start_s, w.confidence)
            for w in script_words(self.effect, int(total_s * 1000))
            if begin_ms <= w.start_ms < end_ms or (last and w.start_ms >= end_ms)
        ]
        if progress is not None:
            progress(1.0)
        language = self.effect.get("language_code") or options.language or "en"
        return EngineResult(words=words, language=language)

    @property
    def live_batch(self) -> int:
        return self.inner.live_batch

    def transcribe_batch(self, items: Sequence[tuple[np.ndarray, TranscribeOptions]]) -> list[EngineResult]:
        return [self.transcribe(samples, options) for samples, options in items]

    def detect_language(self, samples: np.ndarray, model: str | None = None) -> tuple[str, float]:
        code = self.effect.get("language_code")
        return (code, 1.0) if code else self.inner.detect_language(samples, model)

    def can_transcribe(self, model: str | None, language: str | None) -> bool:
        return self.inner.can_transcribe(model, language)

    def can_translate(self, model: str | None) -> bool:
        return self.inner.can_translate(model)

    def is_ready(self) -> bool:
        return self.inner.is_ready()


def scripted_engine(effect: dict[str, Any] | None, engine: Engine) -> Engine:
    """The engine a job runs with: the node's, or the script stamped on the job wrapped around it."""
    return ScriptedEngine(engine, effect) if effect else engine


class ClockedRecognizer:
    """A streaming recognizer that decodes nothing: what it sends is decided by the audio received so far
    (`heard_ms`) and the client's ForceEndpoint/Terminate. Scripted turns and replayed recordings
    (stream_replay.py) both stand in for the real recognizer this way."""

    def __init__(self) -> None:
        self.total = 0  # samples received
        self._forced = False

    @property
    def heard_ms(self) -> int:
        return self.total * 1000 // SAMPLE_RATE

    def feed(self, samples: np.ndarray) -> None:
        self.total += len(samples)

    def force_end(self) -> None:
        self._forced = True

    @property
    def busy(self) -> bool:
        return False

    @property
    def has_speech(self) -> bool:
        return False

    @property
    def final_due(self) -> bool:
        return False

    def withdraw(self, request: DecodeRequest) -> None:
        """Never asks for a decode, so has none to withdraw."""

    def complete(self, request: DecodeRequest, result: EngineResult) -> list[Event]:
        return []  # never asks for a decode


class ScriptedRecognizer(ClockedRecognizer):
    """Scripted turns played against the audio clock.

    A turn is partial while the audio received is inside it (the words whose end has passed) and final once
    the audio passes its end. ForceEndpoint or Terminate finalises a turn already begun; turns not yet reached
    are never sent (docs/testing.md#scripted-results CHOICE).
    """

    def __init__(self, turns: list[dict[str, Any]]) -> None:
        super().__init__()
        self._turns = [spread(t["text"], t["start"], t["end"], t.get("speaker")) for t in turns]
        self._spans = [(t["start"], t["end"]) for t in turns]
        self._next = 0
        self._shown = 0  # words of the current turn already sent as a partial

    def poll(self) -> tuple[list[Event], DecodeRequest | None]:
        heard_ms = self.heard_ms
        events: list[Event] = []
        while self._next < len(self._turns):
            start, end = self._spans[self._next]
            words = self._turns[self._next]
            if heard_ms >= end or (self._forced and heard_ms > start):
                events.append(self._final(words, start))
                self._next, self._shown = self._next + 1, 0
                continue
            said = [w for w in words if w.end_ms <= heard_ms]
            if len(said) > self._shown:
                self._shown = len(said)
                events.append(Partial(_stream_words(said), len(said), Onset(start, 1.0)))
            break
        self._forced = False
        return events, None

    @staticmethod
    def _final(words: list[TimedWord], start: int) -> Final:
        found = _stream_words(words)
        final = Final(found, CONFIDENT_END, onset=Onset(start, 1.0))
        final.speaker = words[0].speaker if words else None
        return final


def _stream_words(words: list[TimedWord]) -> list[StreamWord]:
    return [StreamWord(w.text, w.start_ms, w.end_ms, w.confidence) for w in words]
