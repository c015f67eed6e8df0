"""Streaming with the real engine (tiny.en), at real-time pace, through the official v3 SDK and raw v2."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.conftest import StartServer
from tests.support.server import API_KEY, ServerProcess
from tests.test_streaming import JFK, chunks, drain, ws_url

pytestmark = pytest.mark.real
MODELS = Path(__file__).resolve().parents[1] / "models"
REFERENCE = (
    "and so my fellow americans ask not what your country can do for you ask what you can do for your country"
)


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


def paced(data: list[bytes], ms: int = 100) -> Iterator[bytes]:
    """Yield chunks no faster than real time, as a microphone would."""
    t0 = time.monotonic()
    for i, chunk in enumerate(data):
        time.sleep(max(0.0, t0 + i * ms / 1000 - time.monotonic()))
        yield chunk


@pytest.fixture
def backend() -> str:
    """SQLite only: recognition does not depend on the database (test_streaming.py covers both)."""
    return "sqlite"


@pytest.fixture
def real_server(start_server: StartServer) -> ServerProcess:
    return start_server(
        ["serve", "--no-workers"],
        LOCALSCRIBE_ENGINE="whisper",
        LOCALSCRIBE_STREAM_MODEL="tiny.en",
        LOCALSCRIBE_MODELS_DIR=str(MODELS),
    )


def test_v3_sdk_streams_jfk_in_real_time(real_server: ServerProcess) -> None:
    from assemblyai.streaming.v3 import (
        StreamingClient,
        StreamingClientOptions,
        StreamingEvents,
        StreamingParameters,
    )

    turns: list[Any] = []
    errors: list[Any] = []
    client = StreamingClient(
        StreamingClientOptions(
            api_key=API_KEY, api_host=real_server.url.replace("http://", "ws://"), terminate_timeout=60
        )
    )
    client.on(StreamingEvents.Turn, lambda _, e: turns.append(e))
    client.on(StreamingEvents.Error, lambda _, e: errors.append(e))
    client.connect(StreamingParameters(sample_rate=16000, format_turns=True))
    client.stream(paced(chunks(JFK)))
    client.disconnect(terminate=True)
    assert not errors
    finals = [t for t in turns if t.end_of_turn and t.turn_is_formatted]
    assert words(" ".join(t.transcript for t in finals)) == words(REFERENCE)
    assert any(t.transcript[:1].isupper() for t in finals)  # formatted turns are cased and punctuated
    partials = [t for t in turns if not t.end_of_turn]
    assert partials, "partial turns arrive while the speaker talks"
    for earlier, later in zip(partials, partials[1:], strict=False):  # the confirmed prefix only grows
        if earlier.turn_order == later.turn_order:
            assert words(later.transcript)[: len(words(earlier.transcript))] == words(earlier.transcript)


def test_v2_streams_jfk_with_word_times(real_server: ServerProcess) -> None:
    url = ws_url(real_server, "/v2/realtime/ws", sample_rate=16000)
    with connect(url, additional_headers={"Authorization": API_KEY}) as ws:
        json.loads(ws.recv(timeout=10))
        for chunk in paced(chunks(JFK)):
            ws.send(chunk)
        ws.send(json.dumps({"terminate_session": True}))
        messages, code, _ = drain(ws, timeout=60)
    finals = [m for m in messages if m.get("message_type") == "FinalTranscript"]
    assert words(" ".join(f["text"] for f in finals)) == words(REFERENCE) and code == 1000
    first_word = finals[0]["words"][0]
    assert first_word["text"] == "And" and 0 <= first_word["start"] < 600  # "And" starts at about 0.3 s


def test_short_context_decoding_matches_the_full_window() -> None:
    """Streaming decodes encode the audio plus 10 s, not 30 s: same words on jfk, and no runaway loops."""
    from server.engine.base import TranscribeOptions
    from server.engine.whisper import WhisperEngine
    from server.media.decode import decode
    from tests.support.spec import AUDIO

    engine = WhisperEngine(default_model="tiny.en", models_dir=MODELS)
    samples = decode(AUDIO / "jfk.flac")
    full = engine.transcribe(samples, TranscribeOptions(language="en", temperature=0.0))
    short = engine.transcribe(samples, TranscribeOptions(language="en", temperature=0.0, short_context=True))
    assert words(" ".join(w.text for w in short.words)) == words(" ".join(w.text for w in full.words))
    starts = [w.start for w in full.words]
    assert [w.start for w in short.words] == pytest.approx(starts, abs=0.5)
    # A prompt that invites repetition, on half a second of audio: the loop guard keeps the output short.
    looping = TranscribeOptions(language="en", short_context=True, prompt="word " * 60, beam_size=1)
    assert len(engine.transcribe(samples[:8000], looping).words) <= 3
