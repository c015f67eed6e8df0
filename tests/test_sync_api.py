"""The Sync API (docs/compatibility.md#sync-api) through the official SDK's `SyncTranscriber`, unchanged, on a
live server."""

from __future__ import annotations

import asyncio
import io
import json
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import assemblyai as aai
import httpx
import numpy as np
import pytest

from server.config import Settings
from server.engine.base import EngineResult, EngineWord
from server.engine.segmenter import PauseSegmenter
from server.media.incoming import IncomingAudio
from server.sync import transcribe as sync
from server.sync.config import SyncConfig
from tests.conftest import StartServer
from tests.support.server import API_KEY, ServerProcess
from tests.support.spec import AUDIO

TIMIT = AUDIO / "en_timit_LDC93S1.wav"  # 2.9 s, 16 kHz mono 16-bit PCM WAV
SCRIPTED = "Book a table for two at seven."


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the Sync API keeps nothing in the database but the accounts


def _point_sdk(server: ServerProcess) -> None:
    aai.settings.sync_base_url = server.url
    aai.settings.api_key = API_KEY


@pytest.fixture
def sync_server(start_server: StartServer) -> Iterator[ServerProcess]:
    server = start_server(LOCALSCRIBE_MOCK_TEXT=SCRIPTED)
    _point_sdk(server)
    yield server
    aai.settings.sync_base_url = "https://sync.assemblyai.com"


def _pcm(path: Path) -> tuple[bytes, int, int]:
    with wave.open(str(path)) as w:
        return w.readframes(w.getnframes()), w.getframerate(), w.getnchannels()


def _raw_body(server: ServerProcess, path: str, config: dict, audio: bytes, **headers: str) -> httpx.Response:
    files = {
        "config": (None, json.dumps(config), "application/json"),
        "audio": ("a.wav", audio, "audio/wav"),
    }
    merged = {"Authorization": API_KEY, "X-AAI-Model": "universal-3-5-pro", **headers}
    return httpx.post(server.url + path, files=files, headers=merged, timeout=30)


def _audio_head(content_type: str) -> bytes:
    disposition = 'Content-Disposition: form-data; name="audio"; filename="a"'
    return f"--b\r\n{disposition}\r\nContent-Type: {content_type}\r\n\r\n".encode()


def _validate(body: dict) -> aai.SyncTranscriptResponse:
    """Every key the server sends is one the SDK's model knows, and the model accepts the body."""
    model = aai.SyncTranscriptResponse.model_validate(body)
    assert set(body) <= set(aai.SyncTranscriptResponse.model_fields)
    for word in body["words"]:
        assert set(word) <= set(aai.types.SyncWord.model_fields)
    return model


# --- the SDK's calls ---------------------------------------------------------------------------------------


def test_transcribe_file_bytes_and_raw_pcm(sync_server: ServerProcess) -> None:
    transcriber = aai.SyncTranscriber()
    by_path = transcriber.transcribe(str(TIMIT))
    by_bytes = transcriber.transcribe(TIMIT.read_bytes())
    pcm, rate, channels = _pcm(TIMIT)
    by_pcm = transcriber.transcribe(pcm, aai.SyncTranscriptionConfig(sample_rate=rate, channels=channels))
    for result in (by_path, by_bytes, by_pcm):
        assert result.text == SCRIPTED
        assert result.audio_duration_ms == 2924
        assert all(w.start is None and w.end is None for w in result.words)  # no timestamps asked for
        assert 0 < result.confidence <= 1
    assert len({by_path.session_id, by_bytes.session_id, by_pcm.session_id}) == 3


def test_timestamps_in_ms_and_body_matches_sdk_models(sync_server: ServerProcess) -> None:
    result = aai.SyncTranscriber().transcribe(str(TIMIT), aai.SyncTranscriptionConfig(timestamps=True))
    assert [w.text for w in result.words] == SCRIPTED.split()
    assert result.words[0].start == 0 and all(w.end > w.start for w in result.words)
    assert result.words[-1].end <= result.audio_duration_ms
    # the raw bodies of both paths, checked against the SDK's pydantic models
    for path in ("/v1/transcribe", "/transcribe", "/v1/transcribe/live", "/v1/transcribe/stream"):
        response = _raw_body(sync_server, path, {"timestamps": True}, TIMIT.read_bytes())
        assert response.status_code == 200, response.text
        assert _validate(response.json()).text == SCRIPTED


def test_transcribe_async_fans_out_eight(sync_server: ServerProcess) -> None:
    transcriber = aai.SyncTranscriber(max_workers=8)
    futures = [transcriber.transcribe_async(TIMIT.read_bytes()) for _ in range(8)]
    results = [f.result(timeout=120) for f in futures]
    assert [r.text for r in results] == [SCRIPTED] * 8
    assert len({r.session_id for r in results}) == 8
    transcriber.close()


def test_transcribe_live_at_real_time_pace(sync_server: ServerProcess) -> None:
    pcm, rate, channels = _pcm(TIMIT)
    step = rate * 2 * channels // 20  # 50 ms

    def microphone() -> Iterator[bytes]:
        for i in range(0, len(pcm), step):
            time.sleep(0.05)
            yield pcm[i : i + step]

    config = aai.SyncTranscriptionConfig(sample_rate=rate, channels=channels, timestamps=True)
    result = aai.SyncTranscriber().transcribe_live(microphone(), config)
    assert result.text == SCRIPTED
    assert result.audio_duration_ms == 2924


def test_open_live_session(sync_server: ServerProcess) -> None:
    pcm, rate, channels = _pcm(TIMIT)
    transcriber = aai.SyncTranscriber()
    with transcriber.open_live(aai.SyncTranscriptionConfig(sample_rate=rate, channels=channels)) as session:
        for i in range(0, len(pcm), 1600):
            session.write(pcm[i : i + 1600])
    assert session.result().text == SCRIPTED
    transcriber.close()


def test_warm(sync_server: ServerProcess) -> None:
    assert aai.SyncTranscriber().warm() is True
    response = httpx.get(
        sync_server.url + "/v1/warm", headers={"Authorization": API_KEY, "X-AAI-Model": "nano"}
    )
    assert (response.status_code, response.json()) == (200, {})


# --- errors: each one a problem-details body whose title the SDK turns into error_code ---------------------


def _sdk_error(call) -> aai.types.SyncTranscriptError:  # noqa: ANN001
    with pytest.raises(aai.types.SyncTranscriptError) as caught:
        call()
    return caught.value


def test_errors_carry_the_sdk_error_code(sync_server: ServerProcess) -> None:
    transcriber = aai.SyncTranscriber()
    pcm, rate, _ = _pcm(TIMIT)
    pcm_config = aai.SyncTranscriptionConfig(sample_rate=rate, channels=1)
    cases = [
        (lambda: transcriber.transcribe(pcm[:1000], pcm_config), 400, "audio_too_short"),
        (lambda: transcriber.transcribe(b"\0" * (121 * rate * 2), pcm_config), 400, "audio_too_long"),
        (lambda: transcriber.transcribe(b"RIFF\x10\0\0\0WAVEnot audio at all"), 400, "bad_audio"),
        (lambda: transcriber.transcribe(b"<html>hello</html>" * 100), 400, "bad_audio"),
        (
            lambda: transcriber.transcribe(
                TIMIT.read_bytes(), aai.SyncTranscriptionConfig(model="whisper-9")
            ),
            400,
            "unknown_model",
        ),
        (
            lambda: transcriber.transcribe(TIMIT.read_bytes(), aai.SyncTranscriptionConfig(model="")),
            400,
            "bad_request",
        ),
        (
            lambda: transcriber.transcribe(str(TIMIT), aai.SyncTranscriptionConfig(language_codes=["xx"])),
            400,
            "invalid_config",
        ),
        (lambda: aai.SyncTranscriber(api_key="wrong").transcribe(str(TIMIT)), 401, "unauthorized"),
    ]
    for call, status, code in cases:
        error = _sdk_error(call)
        assert (error.status_code, error.error_code) == (status, code), str(error)
    # the server is still up and serving
    assert transcriber.transcribe(str(TIMIT)).text == SCRIPTED


def test_malformed_bodies(sync_server: ServerProcess) -> None:
    headers = {"Authorization": API_KEY, "X-AAI-Model": "universal-3-5-pro"}
    url = sync_server.url + "/v1/transcribe/live"
    not_multipart = httpx.post(url, content=b"hello", headers={**headers, "Content-Type": "audio/wav"})
    assert not_multipart.status_code == 400
    assert not_multipart.headers["content-type"] == "application/problem+json"
    assert not_multipart.json()["title"] == "Malformed Multipart"
    unclosed = b'--b\r\nContent-Disposition: form-data; name="config"\r\n\r\n{}\r\n--b\r\nContent-Dispo'
    response = httpx.post(
        url, content=unclosed, headers={**headers, "Content-Type": "multipart/form-data; boundary=b"}
    )
    assert (response.status_code, response.json()["title"]) == (400, "Malformed Multipart")
    audio_first = (
        _audio_head("audio/wav")
        + TIMIT.read_bytes()
        + b'\r\n--b\r\nContent-Disposition: form-data; name="config"\r\n\r\n{}\r\n--b--\r\n'
    )
    ctype = {"Content-Type": "multipart/form-data; boundary=b"}
    live = httpx.post(url, content=audio_first, headers={**headers, **ctype})
    assert live.json()["detail"] == "The config part must come before the audio part"
    buffered = httpx.post(
        sync_server.url + "/v1/transcribe", content=audio_first, headers={**headers, **ctype}
    )
    assert buffered.status_code == 200 and buffered.json()["text"] == SCRIPTED  # any order when buffered
    bad_config = _raw_body(sync_server, "/v1/transcribe", {"timestamps": "sometimes"}, TIMIT.read_bytes())
    assert (bad_config.status_code, bad_config.json()["title"]) == (400, "Invalid Config")
    assert bad_config.json()["detail"].startswith("timestamps:")


def test_too_large_and_stalled_uploads(start_server: StartServer) -> None:
    server = start_server(LOCALSCRIBE_SYNC_MAX_AUDIO_BYTES="50000", LOCALSCRIBE_SYNC_STALL_TIMEOUT_S="1")
    _point_sdk(server)
    error = _sdk_error(lambda: aai.SyncTranscriber().transcribe(TIMIT.read_bytes()))
    assert (error.status_code, error.error_code) == (413, "audio_too_large")

    head = b'--b\r\nContent-Disposition: form-data; name="config"\r\n\r\n{}\r\n' + _audio_head("audio/wav")

    async def stalled() -> httpx.Response:
        async def body():  # noqa: ANN202
            yield head + TIMIT.read_bytes()[:4000]
            await asyncio.sleep(3)
            yield b"\r\n--b--\r\n"

        headers = {
            "Authorization": API_KEY,
            "X-AAI-Model": "nano",
            "Content-Type": "multipart/form-data; boundary=b",
        }
        async with httpx.AsyncClient(timeout=30) as client:
            request = client.build_request(
                "POST", server.url + "/v1/transcribe/live", content=body(), headers=headers
            )
            response = await client.send(request)
            return response

    try:
        response = asyncio.run(stalled())
    except httpx.HTTPError:
        response = (
            None  # a client that cannot read the answer before its upload ends; the server must live on
        )
    if response is not None:
        assert (response.status_code, response.json()["title"]) == (408, "Request Timeout")
    assert httpx.get(server.url + "/health").status_code == 200


def test_capacity_exceeded_answers_429_at_once(start_server: StartServer) -> None:
    server = start_server(LOCALSCRIBE_SYNC_MAX_CONCURRENT="1", LOCALSCRIBE_MOCK_DELAY_S="2")
    _point_sdk(server)
    transcriber = aai.SyncTranscriber(max_workers=2)
    first = transcriber.transcribe_async(TIMIT.read_bytes())
    time.sleep(0.5)
    error = _sdk_error(lambda: transcriber.transcribe(TIMIT.read_bytes()))  # not queued behind the first
    assert (error.status_code, error.error_code, error.retry_after) == (429, "capacity_exceeded", 1)
    assert first.result(timeout=30).text
    transcriber.close()


def test_http_fault_rule_answers_problem_details(start_server: StartServer) -> None:
    server = start_server(LOCALSCRIBE_ADMIN_TOKEN="admin")
    _point_sdk(server)
    rule = {
        "match": {"path": "/v1/transcribe*"},
        "effect": {"type": "http", "status": 429, "retry_after_s": 3},
    }
    added = httpx.post(
        server.url + "/admin/faults", json={**rule, "times": 1}, headers={"Authorization": "admin"}
    )
    assert added.status_code == 201, added.text
    error = _sdk_error(lambda: aai.SyncTranscriber().transcribe(TIMIT.read_bytes()))
    assert (error.status_code, error.error_code, error.retry_after) == (429, "too_many_requests", 3)
    assert aai.SyncTranscriber().transcribe(TIMIT.read_bytes()).text  # `times: 1` ran out


# --- the live path, in process: segments are decoded before the last byte -----------------------------------


def test_segmenter_cuts_real_speech_at_pauses() -> None:
    from server.media.decode import decode

    samples = decode(AUDIO / "jfk.flac")
    segmenter = PauseSegmenter(cut_silence_ms=400, min_segment_s=2.0)
    segments = []
    for i in range(0, len(samples), 800):
        segments += segmenter.feed(samples[i : i + 800])
    rest = segmenter.finish()
    assert len(segments) >= 2 and rest is not None
    pieces = [s.samples for s in segments] + [rest.samples]
    assert np.array_equal(np.concatenate(pieces), samples)  # nothing lost, nothing twice
    assert [s.offset_s for s in segments] == sorted(s.offset_s for s in segments)


class _RecordingDecoder:
    """Stands in for the node's decoder: records when each segment was decoded."""

    def __init__(self) -> None:
        self.engine = type("E", (), {"can_transcribe": staticmethod(lambda model, language: True)})()
        self.calls: list[float] = []
        self.first = asyncio.Event()

    async def transcribe(self, samples, options, source=None):  # noqa: ANN001, ANN201
        self.calls.append(len(samples) / 16000)
        self.first.set()
        return EngineResult([EngineWord(f"w{len(self.calls)}", 0.1, 0.2, 0.9)], "en")


def test_live_path_decodes_before_the_last_byte() -> None:
    pcm = (np.clip(_speechlike(), -1, 1) * 32767).astype("<i2").tobytes()
    head = (
        b'--b\r\nContent-Disposition: form-data; name="config"\r\n\r\n'
        b'{"sample_rate": 16000, "channels": 1}\r\n' + _audio_head("audio/pcm")
    )
    decoder = _RecordingDecoder()
    seen_before_end: list[int] = []

    async def body():  # noqa: ANN202
        yield head
        for i in range(0, len(pcm), 1600):
            yield pcm[i : i + 1600]
        await asyncio.wait_for(decoder.first.wait(), 10)  # the first segment is decoded while we still send
        seen_before_end.append(len(decoder.calls))
        yield b"\r\n--b--\r\n"

    settings = Settings(engine="mock", sync_min_segment_s=1.0)
    job = sync.SyncJob("base", SyncConfig, live=True)
    result = asyncio.run(
        sync.transcribe_upload(body(), "multipart/form-data; boundary=b", job, settings, decoder)
    )
    assert seen_before_end and seen_before_end[0] >= 1
    assert len(decoder.calls) >= 2
    assert [w.text for w in result.words] == [f"w{i + 1}" for i in range(len(decoder.calls))]
    assert result.words[1].start > result.words[0].start  # each segment's words on the clip's timeline


def _speechlike() -> np.ndarray:
    """Two bursts of speech from a fixture with a second of silence between and after them."""
    from server.media.decode import decode

    speech = decode(TIMIT)[:24000]
    silence = np.zeros(16000, dtype=np.float32)
    return np.concatenate([speech, silence, speech, silence])


def test_incoming_wav_in_tiny_pieces_equals_whole() -> None:
    data = TIMIT.read_bytes()
    whole = IncomingAudio(pcm=False).feed(data)
    pieces = IncomingAudio(pcm=False)
    out = [pieces.feed(data[i : i + 7]) for i in range(0, len(data), 7)]
    assert np.array_equal(np.concatenate(out), whole)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:  # stereo: averaged to mono
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(np.repeat(np.arange(800, dtype="<i2"), 2).tobytes())
    stereo = IncomingAudio(pcm=False).feed(buffer.getvalue())
    assert len(stereo) == pytest.approx(1600, abs=40)


def test_cli_sync_and_dictate(sync_server: ServerProcess) -> None:
    import subprocess
    import sys

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "server.cli.main",
            *args,
            "--server",
            sync_server.url,
            "--key",
            API_KEY,
        ]
        return subprocess.run(command, capture_output=True, text=True, env=sync_server.env, timeout=120)

    done = cli("sync", str(TIMIT))
    assert (done.returncode, done.stdout.strip()) == (0, SCRIPTED), done.stderr
    dictated = cli("dictate", str(TIMIT), "--llm_instruction", "tidy", "--json")
    body = json.loads(dictated.stdout)
    assert (
        body["text"] == SCRIPTED and body["llm_response"] is None and "no LLM endpoint" in body["llm_error"]
    )
    refused = cli("sync", str(TIMIT), "--model", "whisper-9")
    assert refused.returncode == 1 and "Unknown Model" in refused.stderr


def test_a_body_of_other_parts_is_bounded_too(start_server: StartServer) -> None:
    server = start_server(LOCALSCRIBE_SYNC_MAX_AUDIO_BYTES="50000")
    filler = b'--b\r\nContent-Disposition: form-data; name="padding"\r\n\r\n' + b"x" * 2_000_000 + b"\r\n"
    body = filler + b'--b\r\nContent-Disposition: form-data; name="config"\r\n\r\n{}\r\n--b--\r\n'
    headers = {
        "Authorization": API_KEY,
        "X-AAI-Model": "nano",
        "Content-Type": "multipart/form-data; boundary=b",
    }
    response = httpx.post(server.url + "/v1/transcribe", content=body, headers=headers, timeout=30)
    assert (response.status_code, response.json()["title"]) == (413, "Audio Too Large")


def test_mock_dir_scripts_the_answer_by_file_name(start_server: StartServer, tmp_path: Path) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "order.wav.txt").write_text("two pizzas please")
    server = start_server(LOCALSCRIBE_MOCK_DIR=str(scripts))
    _point_sdk(server)
    clip = tmp_path / "order.wav"
    clip.write_bytes(TIMIT.read_bytes())
    assert aai.SyncTranscriber().transcribe(str(clip)).text == "two pizzas please"
