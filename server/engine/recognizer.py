"""Incremental recognition for one live stream, independent of any protocol.

The caller feeds audio, asks `poll()` what to do next, runs the returned decode on the engine (off its event
loop) and hands the words back to `complete()`. The policy:

- Silero VAD marks speech; an utterance starts with speech and ends after a silence (`TurnConfig`).
- While someone speaks, the live utterance is re-decoded at most every `partial_interval_ms`; a word becomes
  stable once two consecutive decodes agree on it (LocalAgreement-2), so the stable prefix only grows.
  A slow decode delays the next one: a busy machine decodes less often, never falls behind.
- As soon as a short silence follows speech, the final decode of the utterance starts speculatively; if the
  silence lasts long enough the final is sent at once, and if speech resumes the guess is dropped. No partial
  starts while speech fades (the VAD's probability under its onset threshold, not yet under its offset one):
  one in flight when the silence begins would hold the final back.
- A pause of `max_silence_ms` ends the turn where it happened in the audio, however
  late the decoder gets to it: a busy machine sends the final later, but never merges two turns (and so never
  grows its windows).
- `end_of_turn_confidence` comes from the final text: a sentence that ends with terminal punctuation is a
  confident end of turn (v3 semantic end); otherwise the turn waits for the longer silence.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

import numpy as np

from server.engine.base import EngineResult
from server.engine.vad import FRAME, StreamingVad
from server.media.rate import SAMPLE_RATE

PREROLL_MS = 400  # audio kept before the first speech frame: Silero notices onsets late
TAIL_MS = 250  # audio after the last speech frame given to the final decode
SPECULATE_MS = 150  # silence after which the final decode starts (sooner when the turn ends sooner)
PARTIAL_SILENCE_MS = 64  # no partial decode starts once this much silence follows speech: the final is near,
# and a partial in flight would hold it back (one decode per session at a time)
MIN_SPEECH_MS = 96  # shorter blips (clicks, breaths) do not open an utterance
MAX_UTTERANCE_MS = 20_000  # a monologue without pauses is cut here (whisper's window is 30 s)
CONFIDENT_END = 0.85
UNSURE_END = 0.15


@dataclass
class StreamWord:
    text: str
    start: int  # ms from the start of the session
    end: int
    confidence: float


@dataclass
class TurnConfig:
    """When an utterance ends. v2 uses one silence; v3 a short one when confident, a long one otherwise."""

    min_silence_ms: int = 700
    max_silence_ms: int = 700
    confidence_threshold: float = 0.0
    vad_threshold: float = 0.5
    partials: bool = True
    partial_interval_ms: int = 250


@dataclass
class Onset:
    """Where the utterance's speech began (ms from the session's first sample) and the VAD's probability
    there: v3 Universal-3 Pro reports it as SpeechStarted (docs/compatibility.md#v3-models)."""

    ms: int
    confidence: float


@dataclass
class Partial:
    words: list[StreamWord]
    stable: int  # the first `stable` words are confirmed and will not change until the final
    onset: Onset = field(default_factory=lambda: Onset(0, 0.0))


@dataclass
class Final:
    words: list[StreamWord]
    end_of_turn_confidence: float
    language: str | None = None  # what the engine decoded in (detected, or the one it was told)
    language_confidence: float | None = None  # None: the language was given, not detected
    onset: Onset = field(default_factory=lambda: Onset(0, 0.0))
    samples: np.ndarray | None = None  # the turn's audio, from `offset_ms` of the session (speaker labels)
    offset_ms: int = 0
    speaker: str | None = None  # set by the session when speaker labels are on


Event = Partial | Final


@dataclass
class DecodeRequest:
    samples: np.ndarray
    offset_ms: int
    final: bool
    forced: bool = False
    speech_end: int = 0  # the utterance's last speech sample when the request was made
    generation: int = 0
    resume: int | None = None  # a turn cut at a pause: where the next turn's speech starts


@dataclass(frozen=True)
class _Cut:
    """A pause long enough to end the turn, found by the VAD (sample positions from the session's start)."""

    speech_end: int  # the turn's last speech sample
    resume: int  # the next turn's first speech sample
    speech_before: int  # speech samples of the utterance up to the pause
    onset_prob: float  # the VAD's probability where speech resumed

    @property
    def decoded_to(self) -> int:
        """Where the turn's final decode stops: the tail after its speech, never into the next turn."""
        return min(self.speech_end + _samples(TAIL_MS), self.resume)


@dataclass
class _Utterance:
    start: int  # first speech sample (absolute)
    speech_end: int
    speech_samples: int = 0
    onset_prob: float = 0.0
    committed: list[StreamWord] = field(default_factory=list)
    previous: list[StreamWord] = field(default_factory=list)
    shown: tuple[str, ...] = ()
    candidate: tuple[int, Final] | None = None  # (speech_end it covers, the final it would be)

    @property
    def onset(self) -> Onset:
        return Onset(int(_ms(self.start)), round(self.onset_prob, 4))

    @property
    def guessed(self) -> Final | None:
        """The speculative final, when it covers all the speech heard so far."""
        if self.candidate is not None and self.candidate[0] == self.speech_end:
            return self.candidate[1]
        return None


@runtime_checkable
class Recognizer(Protocol):
    """What a live session drives: `StreamRecognizer`, or what stands in for it (scripted turns, a replayed
    recording, server/emulator). The session feeds audio, polls for events and decodes, and runs each decode
    on the engine, withdrawing a partial that still waits once the turn's final is due."""

    def feed(self, samples: np.ndarray) -> None: ...

    def force_end(self) -> None: ...

    @property
    def busy(self) -> bool: ...

    @property
    def has_speech(self) -> bool: ...

    @property
    def final_due(self) -> bool: ...

    def withdraw(self, request: DecodeRequest) -> None: ...

    def poll(self) -> tuple[list[Event], DecodeRequest | None]: ...

    def complete(self, request: DecodeRequest, result: EngineResult) -> list[Event]: ...


def _key(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum() or ch == "'")


def end_confidence(words: list[StreamWord]) -> float:
    """How sure we are the speaker finished: whisper closes finished sentences with . ? or !"""
    if not words:
        return 0.0
    return CONFIDENT_END if words[-1].text.rstrip("\"')]").endswith((".", "?", "!")) else UNSURE_END


class StreamRecognizer:
    def __init__(self, config: TurnConfig) -> None:
        self.config = config
        self._vad = StreamingVad()
        self._vad_samples = 0  # samples the VAD has judged
        self._in_speech = False
        self._audio = np.zeros(0, dtype=np.float32)
        self._base = 0  # absolute index of _audio[0]
        self.total = 0  # samples received
        self._utt: _Utterance | None = None
        self._last_partial_at = 0
        self._inflight = False
        self._generation = 0
        self._forced = False
        self._cuts: list[_Cut] = []  # long pauses inside the current utterance, oldest first
        self._fading = False  # in speech by hysteresis only: the last frame scored under the onset threshold

    # --- input ---------------------------------------------------------------------------------------
    def feed(self, samples: np.ndarray) -> None:
        self._audio = np.concatenate([self._audio, samples])
        self.total += len(samples)
        on = self.config.vad_threshold
        off = max(0.01, on - 0.15)  # hysteresis, as faster-whisper's own VAD
        cut_after = _samples(max(self.config.max_silence_ms, self._speculate_ms))
        for prob in self._vad.feed(samples):
            start, end = self._vad_samples, self._vad_samples + FRAME
            self._vad_samples = end
            was_speech, self._in_speech = self._in_speech, prob >= on or (self._in_speech and prob >= off)
            self._fading = self._in_speech and prob < on
            if not self._in_speech:
                continue
            if not was_speech and self._utt is not None and start - self._utt.speech_end >= cut_after:
                self._cuts.append(_Cut(self._utt.speech_end, start, self._utt.speech_samples, float(prob)))
            if self._utt is None:
                self._utt = _Utterance(start=start, speech_end=end, onset_prob=float(prob))
                self._last_partial_at = start
            self._utt.speech_end = end
            self._utt.speech_samples += FRAME
        if self._utt is None:  # keep only the pre-roll while nobody speaks
            self._trim(self.total - _samples(PREROLL_MS))

    def force_end(self) -> None:
        """ForceEndUtterance / ForceEndpoint / Terminate: finish the current utterance now."""
        self._forced = True

    @property
    def busy(self) -> bool:
        return self._inflight

    @property
    def has_speech(self) -> bool:
        return self._utt is not None and self._utt.speech_samples >= _samples(MIN_SPEECH_MS)

    @property
    def final_due(self) -> bool:
        """Whether `poll` would ask for a final now if no decode were in flight: a partial still waiting for
        the engine is then better withdrawn (`withdraw`) than waited for."""
        utt = self._utt
        if utt is None:
            return False
        if self._cuts:
            return True
        if not self.has_speech or utt.guessed is not None:
            return False
        return self._forced or self._too_long or self._silence_ms(utt) >= self._speculate_ms

    @property
    def _speculate_ms(self) -> int:
        """When the final decode starts: after SPECULATE_MS of silence, or as soon as the turn is over when it
        ends sooner (Universal-3 Pro as LiveKit and Pipecat set it: 100 ms)."""
        return max(PARTIAL_SILENCE_MS, min(SPECULATE_MS, self.config.max_silence_ms))

    def _silence_ms(self, utt: _Utterance) -> float:
        return _ms(self.total - utt.speech_end)

    @property
    def _too_long(self) -> bool:
        """A monologue without pauses: cut here (whisper's window is 30 s)."""
        utt = self._utt
        return utt is not None and _ms(self.total - utt.start) >= MAX_UTTERANCE_MS

    def withdraw(self, request: DecodeRequest) -> None:
        """A partial `request` that never reached the engine: as if it had not been asked for."""
        if not request.final:
            self._inflight = False

    # --- policy --------------------------------------------------------------------------------------
    def poll(self) -> tuple[list[Event], DecodeRequest | None]:
        """Events ready now, and the decode to run next (None: nothing to decode, or one is running)."""
        utt = self._utt
        if utt is None:
            self._forced = False
            return [], None
        if self._cuts:
            return self._poll_cut(utt)
        if not self.has_speech:
            if self._forced or self._silence_ms(utt) > SPECULATE_MS:
                self._reset()  # a blip, not speech
            return [], None
        silence_ms = self._silence_ms(utt)
        final = utt.guessed
        if final is not None:
            cfg = self.config
            confident = final.end_of_turn_confidence > cfg.confidence_threshold
            enough = silence_ms >= cfg.max_silence_ms or (confident and silence_ms >= cfg.min_silence_ms)
            if self._forced or enough:
                self._reset()
                return [final], None
        if self._inflight:
            return [], None
        if self.final_due:
            return [], self._request(final=True, forced=self._forced or self._too_long)
        due = _ms(self.total - self._last_partial_at) >= self.config.partial_interval_ms
        if self.config.partials and silence_ms < PARTIAL_SILENCE_MS and due and not self._fading:
            self._last_partial_at = self.total
            return [], self._request(final=False)
        return [], None

    def complete(self, request: DecodeRequest, result: EngineResult) -> list[Event]:
        """The engine's result for `request` (word times in seconds from the request's first sample)."""
        self._inflight = False
        utt = self._utt
        if utt is None or request.generation != self._generation:
            return []  # the utterance ended meanwhile (forced): this result is stale
        found = [
            StreamWord(
                w.text,
                request.offset_ms + int(round(w.start * 1000)),
                request.offset_ms + int(round(w.end * 1000)),
                round(w.confidence, 4),
            )
            for w in result.words
            if any(ch.isalnum() for ch in w.text)  # not a lone ". . ." (whisper's guess at a noise)
        ]
        if request.final:
            final = Final(
                found,
                end_confidence(found),
                language=result.language,
                language_confidence=result.language_confidence,
                onset=utt.onset,
                samples=request.samples,
                offset_ms=request.offset_ms,
            )
            if request.resume is not None:
                self._next_turn()
                return [final]
            if request.forced:
                self._reset(keep_from=request.speech_end)  # speech that arrived during the decode goes on
                return [final]
            utt.candidate = (request.speech_end, final)
            return []
        if self._cuts:  # decoded across a pause that ends the turn: the words after it belong to the next
            found = [w for w in found if w.start * SAMPLE_RATE < self._cuts[0].resume * 1000]
        return self._agree(utt, found)

    # --- helpers -------------------------------------------------------------------------------------
    def _poll_cut(self, utt: _Utterance) -> tuple[list[Event], DecodeRequest | None]:
        """The oldest long pause ends the turn before it: its final (the speculative one if it covers that
        speech exactly, else a decode of the audio up to the pause), then the next turn starts after it."""
        cut = self._cuts[0]
        if cut.speech_before < _samples(MIN_SPEECH_MS):
            self._next_turn()  # a blip before the pause, not a turn
            return self.poll()
        if utt.candidate is not None and utt.candidate[0] == cut.speech_end:
            final = utt.candidate[1]
            self._next_turn()
            events, request = self.poll()  # the next turn may be due too (a Terminate that came meanwhile)
            return [final, *events], request
        if self._inflight:
            return [], None
        start = max(self._base, utt.start - _samples(PREROLL_MS))
        self._inflight = True
        request = DecodeRequest(
            samples=self._audio[start - self._base : cut.decoded_to - self._base],
            offset_ms=int(_ms(start)),
            final=True,
            speech_end=cut.speech_end,
            generation=self._generation,
            resume=cut.resume,
        )
        return [], request

    def _next_turn(self) -> None:
        """After a cut: the next turn starts where speech resumed, with up to `PREROLL_MS` of the pause before
        it. A pending ForceEndpoint or Terminate still applies to it."""
        cut = self._cuts.pop(0)
        utt = self._utt
        assert utt is not None
        self._generation += 1
        self._utt = _Utterance(start=cut.resume, speech_end=utt.speech_end, onset_prob=cut.onset_prob)
        self._utt.speech_samples = utt.speech_samples - cut.speech_before
        # later cuts count their speech from the new utterance's start
        self._cuts = [replace(c, speech_before=c.speech_before - cut.speech_before) for c in self._cuts]
        self._last_partial_at = cut.resume
        # the pre-roll may reach back into the pause the last final also decoded: silence in both, and without
        # it a short pause would clip the onset Silero notices late
        self._trim(max(cut.speech_end, cut.resume - _samples(PREROLL_MS)))

    def _agree(self, utt: _Utterance, hypothesis: list[StreamWord]) -> list[Event]:
        """LocalAgreement-2: extend the stable prefix by what this decode and the previous one share."""
        n = len(utt.committed)
        for new, old in zip(hypothesis[n:], utt.previous[n:], strict=False):
            if _key(new.text) != _key(old.text):
                break
            utt.committed.append(new)
        utt.previous = hypothesis
        words = utt.committed + hypothesis[len(utt.committed) :]
        shown = tuple(_key(w.text) for w in words)
        if not words or shown == utt.shown:
            return []
        utt.shown = shown
        return [Partial(words, len(utt.committed), utt.onset)]

    def _request(self, *, final: bool, forced: bool = False) -> DecodeRequest:
        utt = self._utt
        assert utt is not None
        start = max(self._base, utt.start - _samples(PREROLL_MS))
        end = self.total if (forced or not final) else min(self.total, utt.speech_end + _samples(TAIL_MS))
        self._inflight = True
        return DecodeRequest(
            samples=self._audio[start - self._base : end - self._base],
            offset_ms=int(_ms(start)),
            final=final,
            forced=forced,
            speech_end=utt.speech_end if not forced else end,
            generation=self._generation,
        )

    def _reset(self, keep_from: int | None = None) -> None:
        """The utterance is over. Speech after `keep_from` (where a cut or forced final ended) starts the
        next one there, without pre-roll: the final already holds the words before it."""
        self._generation += 1
        self._forced = False
        self._cuts.clear()
        utt = self._utt
        if keep_from is not None and utt is not None and utt.speech_end > keep_from:
            self._utt = _Utterance(start=keep_from, speech_end=utt.speech_end, onset_prob=utt.onset_prob)
            self._utt.speech_samples = min(utt.speech_samples, utt.speech_end - keep_from)
            self._last_partial_at = keep_from
            self._trim(keep_from)
            return
        self._utt = None
        self._trim(self.total - _samples(PREROLL_MS))

    def _trim(self, keep_from: int) -> None:
        cut = keep_from - self._base
        if cut > 0:
            self._audio = self._audio[cut:]
            self._base += cut


def _samples(ms: float) -> int:
    return int(ms * SAMPLE_RATE / 1000)


def _ms(samples: int) -> float:
    return samples * 1000 / SAMPLE_RATE
