"""Streams' pending windows decoded together: the decoder's batching rules (a fake engine that records its
calls) and the real engine's batched short-window path giving the words each window gets alone."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from server.config import Settings
from server.engine.base import AudioSource, EngineError, EngineResult, EngineWord, TranscribeOptions
from server.engine.recognizer import DecodeRequest, TurnConfig
from server.streaming.protocol import StreamOptions
from server.streaming.scheduler import DecodeScheduler
from tests.support.spec import AUDIO


class GatedEngine:
    """Records every call; the first call waits for `gate`, so that decodes pile up behind it."""

    name = "gated"
    live_batch = 8

    def __init__(self, fail_on: float | None = None) -> None:
        self.gate = threading.Event()
        self.calls: list[tuple[str, list[float]]] = []  # (method, first sample of each window)
        self.fail_on = fail_on

    def _result(self, samples: np.ndarray) -> EngineResult:
        if self.fail_on is not None and samples[0] == self.fail_on:
            raise EngineError("bad window")
        return EngineResult([EngineWord(f"w{samples[0]:g}", 0.0, 0.1, 0.9)], "en")

    def transcribe(
        self,
        samples: np.ndarray,
        options: TranscribeOptions,
        progress=None,
        *,
        source=None,  # noqa: ANN001
    ) -> EngineResult:
        self.calls.append(("transcribe", [float(samples[0])]))
        self.gate.wait(5)
        return self._result(samples)

    def transcribe_batch(self, items: Sequence[tuple[np.ndarray, TranscribeOptions]]) -> list[EngineResult]:
        self.calls.append(("batch", [float(s[0]) for s, _ in items]))
        self.gate.wait(5)
        if self.fail_on is not None and any(s[0] == self.fail_on for s, _ in items):
            raise EngineError("bad window in the batch")
        return [self._result(s) for s, _ in items]


def in_loop(case: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """Run an async test case in its own event loop (the suite has no async plugin)."""

    @functools.wraps(case)
    def run() -> None:
        asyncio.run(case())

    return run


def _stream(*, multilingual: bool = False) -> StreamOptions:
    return StreamOptions(16_000, "pcm_s16le", TurnConfig(), multilingual=multilingual)


def _request(tag: float, *, final: bool) -> DecodeRequest:
    return DecodeRequest(samples=np.full(1600, tag, dtype=np.float32), offset_ms=0, final=final)


async def _decoder_with_backlog(
    engine: GatedEngine, backlog: list[tuple[float, bool, StreamOptions]], batch_size: int = 8
) -> tuple[DecodeScheduler, list[asyncio.Task[EngineResult]]]:
    """One decode runs (blocked on the gate) while `backlog` (tag, final, stream) queues behind it."""
    decoder = DecodeScheduler(engine, Settings(stream_batch_size=batch_size))  # type: ignore[arg-type]
    english = _stream()
    tasks = [asyncio.create_task(decoder.run(_request(0, final=False), english))]
    await asyncio.sleep(0.05)
    for tag, final, stream in backlog:
        tasks.append(asyncio.create_task(decoder.run(_request(tag, final=final), stream)))
    await asyncio.sleep(0.05)
    return decoder, tasks


@in_loop
async def test_waiting_decodes_of_several_sessions_share_one_call_finals_first() -> None:
    engine = GatedEngine()
    english = _stream()
    backlog = [(1, False, english), (2, True, english), (3, False, english), (4, True, english)]
    decoder, tasks = await _decoder_with_backlog(engine, backlog)
    engine.gate.set()
    results = await asyncio.gather(*tasks)
    assert [r.words[0].text for r in results] == ["w0", "w1", "w2", "w3", "w4"]
    # the running partial, then both finals together, then both partials together
    assert engine.calls == [("batch", [0.0]), ("batch", [2.0, 4.0]), ("batch", [1.0, 3.0])]
    assert decoder.batch_sizes == [1, 2, 2]
    decoder.shutdown()


@in_loop
async def test_a_batch_holds_at_most_stream_batch_size_windows_of_one_model() -> None:
    engine = GatedEngine()
    english, multilingual = _stream(), _stream(multilingual=True)
    backlog = [(1, False, english), (2, False, multilingual), (3, False, english), (4, False, english)]
    decoder, tasks = await _decoder_with_backlog(engine, backlog, batch_size=2)
    engine.gate.set()
    await asyncio.gather(*tasks)
    # first come first served for the lead; tiny.en windows never share a call with base's
    assert engine.calls[1:] == [("batch", [1.0, 3.0]), ("batch", [2.0]), ("batch", [4.0])]
    decoder.shutdown()


@in_loop
async def test_a_sync_request_decodes_alone_ahead_of_partials() -> None:
    engine = GatedEngine()
    english = _stream()
    decoder, tasks = await _decoder_with_backlog(engine, [(1, False, english), (3, False, english)])
    sync = asyncio.create_task(
        decoder.transcribe(np.full(1600, 2, dtype=np.float32), TranscribeOptions(), AudioSource("a.wav"))
    )
    await asyncio.sleep(0.05)
    engine.gate.set()
    assert (await sync).words[0].text == "w2"
    await asyncio.gather(*tasks)
    assert engine.calls[1:] == [("transcribe", [2.0]), ("batch", [1.0, 3.0])]
    decoder.shutdown()


@in_loop
async def test_one_failing_window_fails_only_its_own_session() -> None:
    engine = GatedEngine(fail_on=3)
    english = _stream()
    decoder, tasks = await _decoder_with_backlog(engine, [(1, False, english), (3, False, english)])
    engine.gate.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(outcomes[2], EngineError)
    assert [o.words[0].text for o in outcomes[:2] if isinstance(o, EngineResult)] == ["w0", "w1"]
    # the batch failed, then each window alone
    assert engine.calls[1:] == [("batch", [1.0, 3.0]), ("transcribe", [1.0]), ("transcribe", [3.0])]
    decoder.shutdown()


@in_loop
async def test_a_decode_whose_session_ended_while_waiting_is_not_run() -> None:
    engine = GatedEngine()
    english = _stream()
    decoder, tasks = await _decoder_with_backlog(engine, [(1, False, english), (2, False, english)])
    tasks[1].cancel()  # its session closed
    await asyncio.sleep(0)
    engine.gate.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert engine.calls[1:] == [("batch", [2.0])]
    decoder.shutdown()


@in_loop
async def test_a_waiting_partial_can_be_withdrawn_but_not_one_the_engine_has() -> None:
    """A session whose final is due withdraws its partial that still waits (session.py `_run`)."""
    engine = GatedEngine()
    english = _stream()
    decoder = DecodeScheduler(engine, Settings())  # type: ignore[arg-type]
    running, waiting = _request(0, final=False), _request(1, final=False)
    tasks = [asyncio.create_task(decoder.run(r, english)) for r in (running, waiting)]
    await asyncio.sleep(0.05)
    assert not decoder.withdraw(running)  # the engine has it
    assert decoder.withdraw(waiting)
    assert not decoder.withdraw(waiting)  # once
    engine.gate.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(outcomes[0], EngineResult) and isinstance(outcomes[1], asyncio.CancelledError)
    assert engine.calls == [("batch", [0.0])]
    decoder.shutdown()


def test_a_partial_is_padded_less_than_a_final_and_neither_to_a_bucket() -> None:
    """The encoder's cost grows with the padded length: a window is padded by exactly what whisper needs (10 s
    for a final, which must close its sentence; 6 s for a partial), not rounded up to a batch bucket."""
    from server.engine.short_window import _Window

    features = np.zeros((80, 250), dtype=np.float32)  # 2.5 s
    scheduler = DecodeScheduler(GatedEngine(), Settings())  # type: ignore[arg-type]
    final, partial = (scheduler.options(_request(0, final=f), _stream()) for f in (True, False))
    frames = [_Window(0, np.zeros(1), o, 1, features, []).frames for o in (final, partial)]
    assert frames == [250 + 1000, 250 + 600]
    scheduler.shutdown()


@pytest.mark.real
def test_real_engine_batch_gives_each_window_the_words_it_gets_alone() -> None:
    from server.engine.whisper import WhisperEngine
    from server.media.decode import decode

    engine = WhisperEngine(default_model="tiny.en", models_dir=Path(__file__).parents[1] / "models")
    jfk = decode(AUDIO / "jfk.flac")
    austen = decode(AUDIO / "en_librivox_sense_and_sensibility_01_austen_64kb-0870.wav")
    windows = [jfk[:40_000], austen[:56_000], jfk[:88_000], austen[:100_000], np.zeros(16_000, np.float32)]
    for prompt in (None, "And so my fellow Americans"):
        items = [
            (
                samples,
                TranscribeOptions(
                    model="tiny.en",
                    language="en",
                    beam_size=1,
                    short_context=True,
                    prompt=prompt if i % 2 else None,
                ),
            )
            for i, samples in enumerate(windows)
        ]
        alone = [engine.transcribe(samples, options) for samples, options in items]
        together = engine.transcribe_batch(items)
        for one, batched in zip(alone, together, strict=True):
            assert [w.text for w in batched.words] == [w.text for w in one.words]
            for a, b in zip(one.words, batched.words, strict=True):
                assert abs(a.start - b.start) <= 0.05 and abs(a.end - b.end) <= 0.05
    assert "fellow americans" in " ".join(w.text for w in together[2].words).lower()


@pytest.mark.real
def test_real_engine_short_window_that_cuts_the_words_off_is_decoded_in_the_full_window() -> None:
    """`base` on a 10 s-padded window of TIMIT's sentence stops after "She had a dark suit"."""
    from server.engine.whisper import WhisperEngine
    from server.media.decode import decode

    engine = WhisperEngine(default_model="base", models_dir=Path(__file__).parents[1] / "models")
    timit = decode(AUDIO / "en_timit_LDC93S1.wav")
    options = TranscribeOptions(model="base", language="en", short_context=True)
    words = [w.text for w in engine.transcribe(timit, options).words]
    assert words[:4] == ["She", "had", "a", "dark"]
    assert words[-1] == "year." and len(words) >= 9


@pytest.mark.real
def test_real_engine_short_window_of_silence_has_no_words() -> None:
    """faster-whisper's no-speech rule on the short window: `base` writes "you." for a second of silence
    without it (a live window that the VAD took for speech, a breath after a sentence, is no turn)."""
    from server.engine.whisper import WhisperEngine

    engine = WhisperEngine(default_model="base", models_dir=Path(__file__).parents[1] / "models")
    options = TranscribeOptions(model="base", language="en", short_context=True, temperature=0.0)
    assert engine.transcribe(np.zeros(16_000, np.float32), options).words == []


def test_the_no_speech_rule_keeps_words_whisper_is_sure_of() -> None:
    from types import SimpleNamespace

    from server.engine.short_window import _silent

    def result(no_speech: float, score: float) -> SimpleNamespace:
        return SimpleNamespace(no_speech_prob=no_speech, scores=[score], sequences_ids=[[1, 2, 3]])

    assert _silent(result(0.9, -1.9))  # bets on silence, unsure of its words: nothing said
    assert not _silent(result(0.9, -0.5))  # bets on silence but sure of its words: kept
    assert not _silent(result(0.3, -1.9))  # unsure words on speech: kept


@in_loop
async def test_a_session_withdraws_its_waiting_partial_when_the_turn_ends() -> None:
    """The session's side (`SessionRunner._run`): its partial waits behind another session's decode; the
    speaker stops, the final falls due, and the session drops the partial instead of waiting for it."""
    from server.media.decode import decode
    from server.streaming.session import SessionRunner
    from server.streaming.v3 import V3Adapter

    engine = GatedEngine()
    decoder = DecodeScheduler(engine, Settings(stream_batch_size=1))  # type: ignore[arg-type]
    adapter = V3Adapter()
    stream = adapter.parse_query({"sample_rate": "16000"}, 250)
    runner = SessionRunner(
        None,  # type: ignore[arg-type]  # _run never touches the socket
        adapter,
        stream,
        decoder,
        max_session_s=60,
        idle_timeout_s=60,
        max_lead_s=60,
        heartbeat=lambda _: None,
    )
    busy = asyncio.create_task(decoder.run(_request(9, final=False), _stream()))  # another session's
    await asyncio.sleep(0.05)
    runner.recognizer.feed(decode(AUDIO / "jfk.flac")[: 2 * 16_000])  # "And so my fellow Americans"
    _, partial = runner.recognizer.poll()
    assert partial is not None and not partial.final
    mine = asyncio.create_task(runner._run(partial))
    await asyncio.sleep(0.05)
    assert not mine.done()  # waiting behind the other session's decode
    runner.recognizer.feed(np.zeros(8000, dtype=np.float32))  # half a second of silence: the turn ends
    runner.wake.set()
    assert await asyncio.wait_for(mine, 2) is None
    assert not runner.recognizer.busy
    _, final = runner.recognizer.poll()
    assert final is not None and final.final
    engine.gate.set()
    await busy
    assert engine.calls == [("batch", [9.0])]  # the withdrawn partial never reached the engine
    decoder.shutdown()
