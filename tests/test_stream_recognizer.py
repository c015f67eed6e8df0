"""The protocol-free streaming recognizer, driven directly: real speech through the real VAD, decodes by the
mock engine (words read off the session timeline), so the policy is checked without a model or a socket."""

from __future__ import annotations

import numpy as np
import pytest

from server.engine.base import TranscribeOptions
from server.engine.mock import MockEngine
from server.engine.recognizer import DecodeRequest, Final, Partial, StreamRecognizer, TurnConfig
from server.engine.vad import FRAME, StreamingVad
from server.media.decode import decode
from server.media.rate import SAMPLE_RATE
from tests.support.spec import AUDIO

JFK = decode(AUDIO / "jfk.flac")
ENGINE = MockEngine(text="one two three four five six seven eight nine ten")


def run(
    recognizer: StreamRecognizer, samples: np.ndarray, chunk: int = 1600, force_at: int | None = None
) -> list:  # noqa: E501
    """Feed `samples` chunk by chunk, decoding synchronously whenever the recognizer asks; all events."""
    events: list = []
    for i in range(0, len(samples), chunk):
        recognizer.feed(samples[i : i + chunk])
        if force_at is not None and i >= force_at:
            recognizer.force_end()
            force_at = None
        while True:
            ready, request = recognizer.poll()
            events += ready
            if request is None:
                break
            options = TranscribeOptions(offset_s=request.offset_ms / 1000)
            events += recognizer.complete(request, ENGINE.transcribe(request.samples, options))
    return events


def with_silence(samples: np.ndarray, seconds: float = 2.0) -> np.ndarray:
    return np.concatenate([samples, np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)])


def test_vad_fed_in_any_chunks_matches_one_pass() -> None:
    whole = StreamingVad().feed(JFK)
    for size in (160, 1000, 7777):
        vad = StreamingVad()
        pieces = np.concatenate([vad.feed(JFK[i : i + size]) for i in range(0, len(JFK), size)])
        assert np.allclose(pieces, whole[: len(pieces)], atol=1e-5)


def test_partials_grow_and_finals_come_at_pauses() -> None:
    events = run(StreamRecognizer(TurnConfig(min_silence_ms=700, max_silence_ms=700)), with_silence(JFK))
    finals = [e for e in events if isinstance(e, Final)]
    assert len(finals) >= 2  # jfk pauses after "Americans" and after "for you"
    starts = [w.start for f in finals for w in f.words]
    assert starts == sorted(set(starts))  # turns follow each other: no word is said twice
    stable_before: list[str] = []
    for event in events:
        if isinstance(event, Final):
            stable_before = []
            continue
        assert isinstance(event, Partial)
        stable = [w.text for w in event.words[: event.stable]]
        assert stable[: len(stable_before)] == stable_before  # the confirmed prefix only grows
        stable_before = stable


def test_longer_silence_threshold_means_fewer_turns() -> None:
    short = run(StreamRecognizer(TurnConfig(min_silence_ms=300, max_silence_ms=300)), with_silence(JFK))
    long = run(StreamRecognizer(TurnConfig(min_silence_ms=5000, max_silence_ms=5000)), with_silence(JFK, 6))
    count = lambda events: sum(isinstance(e, Final) for e in events)  # noqa: E731
    assert count(long) == 1 < count(short)


@pytest.mark.parametrize(("threshold", "expected_turns"), [(0.0, "many"), (1.0, "one")])
def test_end_of_turn_confidence_picks_the_silence(threshold: float, expected_turns: str) -> None:
    config = TurnConfig(min_silence_ms=300, max_silence_ms=10_000, confidence_threshold=threshold)
    finals = [e for e in run(StreamRecognizer(config), with_silence(JFK, 11)) if isinstance(e, Final)]
    assert (len(finals) > 1) == (expected_turns == "many")


def test_force_end_finishes_the_turn_and_keeps_what_follows() -> None:
    recognizer = StreamRecognizer(TurnConfig(min_silence_ms=20_000, max_silence_ms=20_000))
    events = run(recognizer, with_silence(JFK), force_at=3 * SAMPLE_RATE)
    finals = [e for e in events if isinstance(e, Final)]
    assert finals and finals[0].words[-1].end <= 3300  # the forced turn ends where it was forced
    recognizer.force_end()  # the speech after the forced end is still there, and finishes now
    (rest,), _ = recognizer.poll()
    assert isinstance(rest, Final) and rest.words[0].start >= 3000 and rest.words[-1].end > 9000


def test_silence_alone_never_opens_an_utterance() -> None:
    recognizer = StreamRecognizer(TurnConfig())
    assert run(recognizer, np.zeros(5 * SAMPLE_RATE, dtype=np.float32)) == []
    assert not recognizer.has_speech


def run_slow(recognizer: StreamRecognizer, samples: np.ndarray, lag_chunks: int, chunk: int = 1600) -> list:
    """As `run`, but each decode's result arrives `lag_chunks` chunks after it was asked for (a busy
    machine)."""
    events: list = []
    pending = None  # (request, the chunk count at which its result arrives)
    for n, i in enumerate(range(0, len(samples), chunk)):
        recognizer.feed(samples[i : i + chunk])
        while True:
            if pending is not None and n >= pending[1]:
                request, pending = pending[0], None
                options = TranscribeOptions(offset_s=request.offset_ms / 1000)
                events += recognizer.complete(request, ENGINE.transcribe(request.samples, options))
            ready, request = recognizer.poll()
            events += ready
            if request is not None:
                pending = (request, n + lag_chunks)
            if pending is None or n < pending[1]:
                break
    if pending is not None:  # the decode in flight when the audio ends comes back later
        request = pending[0]
        options = TranscribeOptions(offset_s=request.offset_ms / 1000)
        events += recognizer.complete(request, ENGINE.transcribe(request.samples, options))
    return events


def test_a_slow_decoder_ends_turns_where_the_audio_paused() -> None:
    """A pause of max_silence_ms ends the turn in the audio's time, not the decoder's: a machine that returns
    each decode a second late sends the same turns, later, instead of merging them into one."""
    config = TurnConfig(min_silence_ms=600, max_silence_ms=600)
    audio = with_silence(JFK, 3)
    fast = run(StreamRecognizer(config), audio)
    prompt = [[w.start for w in e.words] for e in fast if isinstance(e, Final)]
    slow = run_slow(StreamRecognizer(config), audio, lag_chunks=10)
    late = [[w.start for w in e.words] for e in slow if isinstance(e, Final)]
    assert len(prompt) >= 2
    assert [turn[0] for turn in late] == [turn[0] for turn in prompt]
    assert sum(late, []) == sorted(set(sum(late, [])))  # no word twice


@pytest.mark.parametrize("lag_chunks", [0, 3, 10])
def test_terminate_after_pauses_finishes_every_turn(lag_chunks: int) -> None:
    """Terminate right after speech, on a machine whose decodes come back late: the pauses before it have
    queued turn ends (some with their speculative final ready); the session's decode loop (poll, decode, poll
    again, else wait for audio) must finish them all without waiting for audio that will never come."""
    recognizer = StreamRecognizer(TurnConfig(min_silence_ms=100, max_silence_ms=100))
    finals = [e for e in run_slow(recognizer, JFK, lag_chunks) if isinstance(e, Final)]
    recognizer.force_end()
    for _ in range(100):
        events, request = recognizer.poll()
        finals += [e for e in events if isinstance(e, Final)]
        if request is None:
            break  # the session would now wait for audio
        options = TranscribeOptions(offset_s=request.offset_ms / 1000)
        finals += [e for e in recognizer.complete(request, ENGINE.transcribe(request.samples, options))]
    assert not recognizer.has_speech and not recognizer.busy
    assert len(finals) >= 2 and finals[-1].words[-1].end > 9000


def test_terminate_when_the_speculative_final_of_a_pause_comes_back_after_speech_resumed() -> None:
    """The final guessed at a pause returns only after speech has resumed, then Terminate: that final ends
    its turn, and the speech after the pause must still be decoded (no waiting for audio that never comes)."""
    recognizer = StreamRecognizer(TurnConfig(min_silence_ms=100, max_silence_ms=100))
    pause = np.zeros(SAMPLE_RATE, dtype=np.float32)
    held = None
    for part in (JFK[: 2 * SAMPLE_RATE], pause, JFK[3 * SAMPLE_RATE : 6 * SAMPLE_RATE]):
        for i in range(0, len(part), 800):
            recognizer.feed(part[i : i + 800])
            if held is not None:
                continue
            _, request = recognizer.poll()
            if request is None:
                continue
            if request.final:
                held = request  # its decode takes long
            else:
                recognizer.complete(
                    request,
                    ENGINE.transcribe(request.samples, TranscribeOptions(offset_s=request.offset_ms / 1000)),
                )  # noqa: E501
    assert held is not None
    recognizer.complete(
        held, ENGINE.transcribe(held.samples, TranscribeOptions(offset_s=held.offset_ms / 1000))
    )
    recognizer.force_end()
    events, request = recognizer.poll()
    assert [type(e) for e in events] == [Final]
    assert request is not None and request.final  # the speech after the pause is decoded next


def test_a_decode_of_punctuation_alone_is_no_turn() -> None:
    """Whisper writes ". . ." for a noise; as a turn it would also become the next decodes' prompt."""
    from server.engine.base import EngineResult, EngineWord

    recognizer = StreamRecognizer(TurnConfig(min_silence_ms=100, max_silence_ms=100))
    recognizer.feed(with_silence(JFK[: SAMPLE_RATE * 2], 1.0))
    events: list = []
    while True:
        ready, request = recognizer.poll()
        events += ready
        if request is None:
            break
        noise = [EngineWord(".", 0.1, 0.2, 0.5), EngineWord(". .", 0.2, 0.4, 0.5)]
        events += recognizer.complete(request, EngineResult(noise, "en"))
    finals = [e for e in events if isinstance(e, Final)]
    assert finals and all(not f.words for f in finals)
    assert not [e for e in events if isinstance(e, Partial)]


def test_a_partial_still_waiting_when_the_final_is_due_is_withdrawn_and_the_final_asked_for() -> None:
    """A busy machine holds each partial back for a while (here: 10 chunks, 1 s). When the turn's final
    falls due meanwhile, the session withdraws the partial (scheduler `withdraw`); the recognizer then asks
    for the final at once, and the turns are those of a machine without the wait."""
    config = TurnConfig(min_silence_ms=600, max_silence_ms=600)
    audio = with_silence(JFK, 3)
    fast = run(StreamRecognizer(config), audio)
    prompt = [[w.start for w in e.words] for e in fast if isinstance(e, Final)]
    recognizer = StreamRecognizer(config)

    def decode(request: DecodeRequest) -> list:
        options = TranscribeOptions(offset_s=request.offset_ms / 1000)
        return recognizer.complete(request, ENGINE.transcribe(request.samples, options))

    events: list = []
    waiting: DecodeRequest | None = None  # a partial the engine has not started
    asked_at = withdrawn = 0
    for n, i in enumerate(range(0, len(audio), 1600)):
        recognizer.feed(audio[i : i + 1600])
        if waiting is not None and recognizer.final_due:
            recognizer.withdraw(waiting)
            waiting, withdrawn = None, withdrawn + 1
            _, request = recognizer.poll()
            assert request is not None and request.final  # at once, not after the partial
            events += decode(request)
        if waiting is not None and n - asked_at >= 10:
            events += decode(waiting)
            waiting = None
        while waiting is None:
            ready, request = recognizer.poll()
            events += ready
            if request is None:
                break
            if request.final:
                events += decode(request)
            else:
                waiting, asked_at = request, n
    late = [[w.start for w in e.words] for e in events if isinstance(e, Final)]
    assert withdrawn >= 1
    assert [turn[0] for turn in late] == [turn[0] for turn in prompt]


def _first_final_request_silence_ms(config: TurnConfig) -> float:
    """How much silence had followed the first turn's speech when the recognizer asked for its final."""
    recognizer = StreamRecognizer(config)
    audio = with_silence(JFK[: int(2.5 * SAMPLE_RATE)], 1.0)  # "And so my fellow Americans", then silence
    for i in range(0, len(audio), 320):  # 20 ms chunks: the silence is measured to a chunk
        recognizer.feed(audio[i : i + 320])
        while True:
            _, request = recognizer.poll()
            if request is None:
                break
            if request.final:
                return (recognizer.total - request.speech_end) * 1000 / SAMPLE_RATE
            options = TranscribeOptions(offset_s=request.offset_ms / 1000)
            recognizer.complete(request, ENGINE.transcribe(request.samples, options))
    raise AssertionError("no final asked for")


def test_a_turn_that_ends_after_100_ms_has_its_final_asked_for_then() -> None:
    """LiveKit and Pipecat set Universal-3 Pro's turn silence to 100 ms: the final decode starts when the turn
    is over, not after the 150 ms that longer turn silences wait before speculating."""
    short = _first_final_request_silence_ms(TurnConfig(min_silence_ms=100, max_silence_ms=100))
    long = _first_final_request_silence_ms(TurnConfig(min_silence_ms=700, max_silence_ms=700))
    assert 100 <= short < 130
    assert 150 <= long < 180


class _ScriptedVad:
    """Speech probabilities per VAD frame, as given: the recognizer's policy without Silero's judgement."""

    def __init__(self, probabilities: list[float]) -> None:
        self.probabilities = probabilities
        self.pending = 0

    def feed(self, samples: np.ndarray) -> np.ndarray:
        self.pending += len(samples)
        frames, self.pending = divmod(self.pending, FRAME)
        out, self.probabilities = self.probabilities[:frames], self.probabilities[frames:]
        return np.array(out + [0.0] * (frames - len(out)), dtype=np.float32)


@pytest.mark.parametrize(("fading", "partials_while_fading"), [(0.4, 0), (0.9, 2)])
def test_no_partial_starts_while_speech_fades(fading: float, partials_while_fading: int) -> None:
    """Under the onset threshold (0.5) but over the offset one (0.35) speech is ending: a partial started
    then would still be decoding when the final falls due, and hold it back."""
    speech, fade = 40, 20  # frames of 32 ms: 1.3 s of speech, then 0.64 s fading (or still speaking)
    recognizer = StreamRecognizer(TurnConfig(min_silence_ms=700, max_silence_ms=700))
    recognizer._vad = _ScriptedVad([0.9] * speech + [fading] * fade)  # type: ignore[assignment]
    asked_at: list[int] = []
    for i in range(0, (speech + fade) * FRAME, FRAME):
        recognizer.feed(np.zeros(FRAME, dtype=np.float32))
        _, request = recognizer.poll()
        if request is not None:
            asked_at.append(i // FRAME)
            recognizer.complete(request, ENGINE.transcribe(request.samples, TranscribeOptions(offset_s=0)))
    assert asked_at and asked_at[0] < speech  # partials while speech is clear
    assert len([frame for frame in asked_at if frame >= speech + 1]) == partials_while_fading
