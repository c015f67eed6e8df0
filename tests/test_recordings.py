"""Record and replay (issue 21, docs/testing.md#record-and-replay): record against a LocalScribe running the
real engine, replay against one running the mock engine; the replayed transcript is the recorded one."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import assemblyai as aai
import httpx
import pytest

from server.emulator.testing import LocalScribe
from tests.support.server import API_KEY, ServerProcess, server_env
from tests.support.spec import AUDIO

CLIP = AUDIO / "en_timit_LDC93S1.wav"  # 2.9 s: "She had your dark suit in greasy wash water all year."
MODELS = Path(__file__).resolve().parents[1] / "models"
OWN = {"id", "audio_url"}  # the request's own: everything else must be as recorded


def serve(folder: Path, **overrides: str) -> ServerProcess:
    folder.mkdir()
    return ServerProcess(folder, server_env(folder, None, **overrides)).start()


def transcribe(url: str, **params: object) -> dict:
    """Upload, create, poll, and the raw transcript JSON (not the SDK's re-serialised one)."""
    with httpx.Client(base_url=url, headers={"Authorization": API_KEY}, timeout=60) as c:
        upload = c.post("/v2/upload", content=CLIP.read_bytes()).json()["upload_url"]
        tid = c.post("/v2/transcript", json={"audio_url": upload, **params}).json()["id"]
        for _ in range(1200):
            body = c.get(f"/v2/transcript/{tid}").json()
            if body["status"] in ("completed", "error"):
                return body
            import time

            time.sleep(0.1)
    raise AssertionError("never finished")


@pytest.mark.real
def test_record_against_the_real_engine_then_replay_on_the_mock(tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    upstream = serve(
        tmp_path / "upstream",
        LOCALSCRIBE_ENGINE="whisper",
        LOCALSCRIBE_MODEL="tiny.en",
        LOCALSCRIBE_WORKERS="1",
        LOCALSCRIBE_MODELS_DIR=str(MODELS),
    )
    common = {"LOCALSCRIBE_RECORDINGS_DIR": str(recordings)}
    recorder = serve(
        tmp_path / "recorder",
        LOCALSCRIBE_RECORDINGS_MODE="record",
        LOCALSCRIBE_UPSTREAM_URL=upstream.url,
        LOCALSCRIBE_UPSTREAM_API_KEY=API_KEY,
        **common,
    )
    replayer = serve(tmp_path / "replayer", LOCALSCRIBE_RECORDINGS_MODE="replay", **common)
    try:
        params = {"speech_models": ["nano"], "speaker_labels": True, "auto_highlights": True}
        recorded = transcribe(recorder.url, **params)
        replayed = transcribe(replayer.url, **params)
        with httpx.Client(base_url=upstream.url, headers={"Authorization": API_KEY}) as c:
            [item] = c.get("/v2/transcript").json()["transcripts"]
            original = c.get(f"/v2/transcript/{item['id']}").json()
            upstream_srt = c.get(f"/v2/transcript/{item['id']}/srt").text
        with httpx.Client(base_url=replayer.url, headers={"Authorization": API_KEY}) as c:
            replayed_srt = c.get(f"/v2/transcript/{replayed['id']}/srt").text
    finally:
        for s in (recorder, replayer, upstream):
            s.stop(timeout=10)
    assert original["status"] == "completed" and "greasy wash water" in original["text"].lower()
    assert original["speech_model_used"] == "nano"
    strip = lambda t: {k: v for k, v in t.items() if k not in OWN}  # noqa: E731
    assert strip(recorded) == strip(original)
    assert strip(replayed) == strip(original)  # the mock engine would have said something else entirely
    assert replayed["id"] != original["id"] and replayed_srt == upstream_srt
    [file] = list(recordings.glob("*.json"))
    text = file.read_text()
    assert API_KEY not in text and "/v2/upload/" not in text  # no key, no presigned/upload URL
    saved = json.loads(text)
    assert saved["params"]["speech_models"] == ["nano"] and saved["exports"]["srt"] == upstream_srt


@pytest.fixture
def replaying(tmp_path: Path) -> Iterator[LocalScribe]:
    with (
        LocalScribe(
            data_dir=tmp_path / "data", recordings_mode="replay", recordings_dir=tmp_path / "rec"
        ) as s,
        s.sdk(),
    ):
        aai.settings.polling_interval = 0.05
        yield s


def test_a_replay_miss_is_an_error_naming_the_key(replaying: LocalScribe) -> None:
    t = aai.Transcriber().transcribe(str(CLIP))
    assert t.status == aai.TranscriptStatus.error
    assert t.error.startswith("No recording for this audio (sha256 ")
    assert "LOCALSCRIBE_RECORDINGS_MODE=record" in t.error


def test_a_malformed_recording_is_an_error_naming_the_field(replaying: LocalScribe, tmp_path: Path) -> None:
    from server.emulator.recordings import file_sha256, recording_path
    from server.services.transcript_params import validate_transcript_request

    params = validate_transcript_request(
        {"audio_url": "http://x/a.wav"},
        default_speech_models=["universal-3-pro", "universal-2"],
        known_speech_models={"universal-3-pro", "universal-2"},
    )
    path = recording_path(tmp_path / "rec", file_sha256(CLIP), params.to_json())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": 1, "audio_sha256": "0" * 64, "audio_bytes": 1, "params": {}}))
    t = aai.Transcriber().transcribe(str(CLIP))
    assert t.status == aai.TranscriptStatus.error
    assert t.error == f"Recording {path.name}: recorded_at: Field required"


def test_a_scripted_job_is_never_replayed(replaying: LocalScribe) -> None:
    replaying.script(text="Scripted wins.")
    assert aai.Transcriber().transcribe(str(CLIP)).text == "Scripted wins."


# --- replayed exports ---------------------------------------------------------------------------------------
def test_a_replayed_job_serves_the_recorded_exports(replaying: LocalScribe, tmp_path: Path) -> None:
    """The recorded SRT and sentences come back as recorded (the words would make different ones)."""
    from server.emulator.recordings import FORMAT, file_sha256, recording_path
    from server.services.transcript_params import validate_transcript_request

    params = validate_transcript_request(
        {"audio_url": "http://x/a.wav"},
        default_speech_models=["universal-3-pro", "universal-2"],
        known_speech_models={"universal-3-pro", "universal-2"},
    )
    words = [{"text": "Hello.", "start": 100, "end": 600, "confidence": 0.9, "speaker": None}]
    srt = "1\n00:00:00,100 --> 00:00:00,600\nAs the upstream cut it.\n\n"
    sentences = {"id": "upstream-id", "confidence": 0.9, "audio_duration": 3.0, "sentences": [{"text": "X"}]}
    path = recording_path(tmp_path / "rec", file_sha256(CLIP), params.to_json())
    path.parent.mkdir(parents=True, exist_ok=True)
    recording = {
        "format": FORMAT,
        "audio_sha256": file_sha256(CLIP),
        "audio_bytes": CLIP.stat().st_size,
        "params": {},
        "recorded_at": "2026-01-01T00:00:00",
        "upstream": "https://api.assemblyai.com",
        "transcript": {"id": "upstream-id", "status": "completed", "text": "Hello.", "words": words},
        "exports": {"srt": srt, "sentences": sentences},
    }
    path.write_text(json.dumps(recording))
    t = aai.Transcriber().transcribe(str(CLIP))
    assert t.status == aai.TranscriptStatus.completed and t.text == "Hello."
    with httpx.Client(base_url=replaying.base_url, headers={"Authorization": replaying.api_key}) as c:
        assert c.get(f"/v2/transcript/{t.id}/srt").text == srt
        assert c.get(f"/v2/transcript/{t.id}/sentences").json() == {**sentences, "id": t.id}
        made = c.get(f"/v2/transcript/{t.id}/srt", params={"chars_per_caption": 32}).text
        assert "Hello." in made  # another width than the recorded one: made from the words
        paragraphs = c.get(f"/v2/transcript/{t.id}/paragraphs").json()  # not recorded: made from the words
        assert paragraphs["id"] == t.id and paragraphs["paragraphs"][0]["text"] == "Hello."


# --- streaming ----------------------------------------------------------------------------------------------
OWN_STREAM_FIELDS = {"Begin": {"id", "expires_at"}, "Termination": {"session_duration_seconds"}}


def stream(server: ServerProcess, audio: bytes, **query: object) -> tuple[list[dict], int | None, str]:
    """One v3 session: every chunk as fast as the server takes it, Terminate, each message until the close."""
    from websockets.exceptions import ConnectionClosed

    from tests.test_streaming import chunks, drain, open_ws, ws_url

    with open_ws(ws_url(server, "/v3/ws", sample_rate=16000, **query)) as ws:
        with contextlib.suppress(ConnectionClosed):  # a session refused mid-stream: what it said, below
            for chunk in chunks(audio):
                ws.send(chunk)
            ws.send(json.dumps({"type": "Terminate"}))
        return drain(ws, timeout=120)


def session_free(messages: list[dict]) -> list[dict]:
    """The messages without what belongs to one session (its id, its expiry, how long it lasted)."""
    own = lambda m: OWN_STREAM_FIELDS.get(m.get("type"), set())  # noqa: E731
    return [{k: v for k, v in m.items() if k not in own(m)} for m in messages]


def check_recorded_and_replayed(
    recordings: Path, recorder: ServerProcess, replayer: ServerProcess
) -> list[dict]:
    """Record one session of JFK, replay it: the same messages; returns the recorded ones."""
    from tests.test_streaming import JFK

    recorded, code, _ = stream(recorder, JFK, format_turns="true")
    assert code == 1000 and recorded[0]["type"] == "Begin" and recorded[-1]["type"] == "Termination"
    [file] = list(recordings.glob("stream-*.json"))
    text = file.read_text()
    assert API_KEY not in text
    saved = json.loads(text)
    assert saved["params"] == {"format_turns": "true", "sample_rate": "16000"}
    assert saved["audio_bytes"] == len(JFK) and [m["message"] for m in saved["messages"]] == recorded
    positions = [m["audio_ms"] for m in saved["messages"]]
    assert positions == sorted(positions) and positions[-1] == len(JFK) * 1000 // 32000

    replayed, code, _ = stream(replayer, JFK, format_turns="true")
    assert code == 1000
    assert replayed[0]["id"] != recorded[0]["id"]
    assert session_free(replayed) == session_free(recorded)
    return recorded


@pytest.fixture(scope="module")
def scripted_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A mock-engine upstream whose sessions say scripted turns (a known answer, in no time)."""
    tmp = tmp_path_factory.mktemp("upstream")
    server = ServerProcess(tmp, server_env(tmp, None, LOCALSCRIBE_ADMIN_TOKEN="admin")).start()
    turns = [
        {"text": "And so, my fellow Americans,", "start": 300, "end": 3000},
        {"text": "ask not what your country can do for you.", "start": 3400, "end": 8000},
    ]
    body = {"match": {}, "result": {"type": "turns", "turns": turns}}
    answer = httpx.post(f"{server.url}/admin/scripts", json=body, headers={"Authorization": "admin"})
    answer.raise_for_status()
    yield server
    server.stop(timeout=10)


@pytest.fixture(scope="module")
def stream_recorded(
    tmp_path_factory: pytest.TempPathFactory, scripted_upstream: ServerProcess
) -> Iterator[tuple[Path, list[dict], ServerProcess]]:
    """One recorded session and a replaying server (misses err) on its recordings."""
    tmp = tmp_path_factory.mktemp("streams")
    recordings = tmp / "recordings"
    common = {"LOCALSCRIBE_RECORDINGS_DIR": str(recordings)}
    recorder = serve(
        tmp / "recorder",
        LOCALSCRIBE_RECORDINGS_MODE="record",
        LOCALSCRIBE_UPSTREAM_URL=scripted_upstream.url,
        LOCALSCRIBE_UPSTREAM_API_KEY=API_KEY,
        **common,
    )
    replayer = serve(tmp / "replayer", LOCALSCRIBE_RECORDINGS_MODE="replay", **common)
    try:
        recorded = check_recorded_and_replayed(recordings, recorder, replayer)
        yield recordings, recorded, replayer
    finally:
        for s in (recorder, replayer):
            s.stop(timeout=10)


def test_a_stream_recorded_from_a_scripted_upstream_replays_as_recorded(stream_recorded) -> None:
    _, recorded, _ = stream_recorded
    finals = [m["transcript"] for m in recorded if m.get("end_of_turn") and m.get("turn_is_formatted")]
    assert finals == ["And so, my fellow Americans,", "ask not what your country can do for you."]


def test_a_stream_replay_miss_closes_with_an_error_naming_the_key(stream_recorded) -> None:
    from tests.test_streaming import JFK

    _, _, replayer = stream_recorded
    messages, code, _ = stream(replayer, JFK, format_turns="false")  # other parameters: another key
    assert code == 3005 and messages[-1]["type"] == "Error"
    assert messages[-1]["error"].startswith("No recording for this stream (first second of audio sha256 ")
    assert not [m for m in messages if m["type"] == "Turn"]


def test_a_stream_whose_audio_differs_after_the_key_is_refused(stream_recorded) -> None:
    from tests.test_streaming import JFK

    _, _, replayer = stream_recorded
    changed = JFK[:64_000] + bytes(len(JFK) - 64_000)  # the same first two seconds, then silence
    messages, code, _ = stream(replayer, changed, format_turns="true")
    assert code == 3005 and messages[-1]["type"] == "Error"
    assert "is not the audio of recording stream-" in messages[-1]["error"]
    assert "SHA-256 differs" in messages[-1]["error"]
    shorter, code, _ = stream(replayer, JFK[:200_000], format_turns="true")
    assert code == 3005 and "ended after 200000 of its" in shorter[-1]["error"]


def test_a_malformed_stream_recording_names_the_field(stream_recorded) -> None:
    from tests.test_streaming import JFK

    recordings, _, replayer = stream_recorded
    [file] = list(recordings.glob("stream-*.json"))
    saved = json.loads(file.read_text())
    broken = {**saved, "messages": [{"audio_ms": -1, "message": {}}]}
    file.write_text(json.dumps(broken))
    try:
        messages, code, _ = stream(replayer, JFK, format_turns="true")
    finally:
        file.write_text(json.dumps(saved))
    assert code == 3005
    assert messages[-1]["error"].startswith(f"Recording {file.name}: messages.0.audio_ms: ")


def test_a_stream_replay_miss_can_fall_through_to_the_engine(tmp_path: Path) -> None:
    from tests.test_streaming import JFK

    replayer = serve(
        tmp_path / "replayer",
        LOCALSCRIBE_RECORDINGS_MODE="replay",
        LOCALSCRIBE_REPLAY_MISS="engine",
        LOCALSCRIBE_RECORDINGS_DIR=str(tmp_path / "none"),
    )
    try:
        messages, code, _ = stream(replayer, JFK)
    finally:
        replayer.stop(timeout=10)
    assert code == 1000 and messages[-1]["type"] == "Termination"
    assert [m for m in messages if m["type"] == "Turn" and m["end_of_turn"]], "the mock engine's turns"


@pytest.mark.real
def test_stream_record_against_the_real_engine_then_replay_on_the_mock(tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    upstream = serve(
        tmp_path / "upstream",
        LOCALSCRIBE_ENGINE="whisper",
        LOCALSCRIBE_STREAM_MODEL="tiny.en",
        LOCALSCRIBE_WORKERS="1",
        LOCALSCRIBE_MODELS_DIR=str(MODELS),
    )
    common = {"LOCALSCRIBE_RECORDINGS_DIR": str(recordings)}
    recorder = serve(
        tmp_path / "recorder",
        LOCALSCRIBE_RECORDINGS_MODE="record",
        LOCALSCRIBE_UPSTREAM_URL=upstream.url,
        LOCALSCRIBE_UPSTREAM_API_KEY=API_KEY,
        **common,
    )
    replayer = serve(tmp_path / "replayer", LOCALSCRIBE_RECORDINGS_MODE="replay", **common)
    try:
        recorded = check_recorded_and_replayed(recordings, recorder, replayer)
    finally:
        for s in (recorder, replayer, upstream):
            s.stop(timeout=10)
    finals = " ".join(m["transcript"] for m in recorded if m.get("end_of_turn") and m["turn_is_formatted"])
    assert "fellow americans" in finals.lower() and "your country" in finals.lower()  # the real engine's


class FakeInner:
    """The real recognizer's place: what a replay miss hands over to."""

    def __init__(self) -> None:
        self.samples = 0
        self.forced = 0
        self.busy = self.has_speech = False

    def feed(self, samples: object) -> None:
        self.samples += len(samples)  # type: ignore[arg-type]

    def force_end(self) -> None:
        self.forced += 1

    def poll(self) -> tuple[list, None]:
        return [], None


def replayer_on(tmp_path: Path, audio: bytes, messages: list[tuple[int, dict]], **settings: str):
    """A ReplayRecognizer over one recording of `audio` (written by hand) and its fake inner recognizer."""
    from server.config import Settings
    from server.emulator.stream_recording_file import AudioTally, StreamRecording, stream_recording_path
    from server.emulator.stream_replay import ReplayRecognizer
    from server.streaming.close_codes import V3_RECORDING
    from server.streaming.protocol import Ready, Refused

    params = {"sample_rate": "16000"}
    tally = AudioTally("pcm_s16le", 16000)
    tally.add(audio)
    recording = StreamRecording(
        format=1,
        key_sha256=tally.key_sha256(),
        audio_sha256=tally.sha256(),
        audio_bytes=len(audio),
        params=params,
        recorded_at="2026-01-01T00:00:00",
        upstream="wss://streaming.assemblyai.com",
        messages=[{"audio_ms": ms, "message": m} for ms, m in messages],
    )
    path = stream_recording_path(tmp_path, recording.key_sha256, params)
    path.write_text(recording.model_dump_json())
    ending = [False]
    inner = FakeInner()
    options = Settings(_env_file=None, recordings_mode="replay", recordings_dir=tmp_path, **settings)
    replayer = ReplayRecognizer(
        inner,  # type: ignore[arg-type]
        params,
        AudioTally("pcm_s16le", 16000),
        options,
        ending=lambda: ending[0],
        as_is=Ready,  # what the node hands it (server/node.py)
        refuse=lambda message: Refused(V3_RECORDING.format(message=message)),
    )
    return replayer, inner, ending


def hear(replayer, data: bytes) -> list[dict]:
    """One frame in, as the session runner gives it (bytes, then samples), and what is sent after it."""
    import numpy as np

    replayer.hear(data)
    replayer.feed(np.zeros(len(data) // 2, dtype=np.float32))
    events, request = replayer.poll()
    assert request is None
    return [e.payload for e in events]


def test_replayed_messages_go_out_when_the_audio_passes_their_position(tmp_path: Path) -> None:
    audio = bytes(range(256)) * 250  # 2 s of 16 kHz PCM16
    turn = lambda text: {"type": "Turn", "transcript": text}  # noqa: E731
    recorded = [(0, {"type": "Begin", "id": "old"}), (500, turn("a")), (1500, turn("b")), (1999, turn("c"))]
    recorded += [(2000, turn("d")), (2000, {"type": "Termination", "session_duration_seconds": 9})]
    replayer, _, ending = replayer_on(tmp_path, audio, recorded)
    step = 3200  # 100 ms
    sent = [hear(replayer, audio[i : i + step]) for i in range(0, len(audio), step)]
    # nothing before the first second picks the recording; then each message once its position has passed
    assert sent[:9] == [[]] * 9
    assert sent[9] == [turn("a")]  # due at 500 ms, known at 1000 ms
    assert sent[14] == [turn("b")] and sent[19] == [turn("c"), turn("d")]
    assert sum(sent, []) == [turn(t) for t in "abcd"]  # Begin and Termination: the session's own
    ending[0] = True
    replayer.force_end()
    assert replayer.poll() == ([], None)


def test_a_replay_shorter_than_its_key_is_found_when_it_ends(tmp_path: Path) -> None:
    audio = bytes(9600)  # 300 ms
    replayer, _, ending = replayer_on(tmp_path, audio, [(300, {"type": "Turn", "transcript": "short"})])
    assert hear(replayer, audio) == []
    replayer.force_end()  # a ForceEndpoint: more audio may come, the key is not complete
    assert replayer.poll() == ([], None)
    ending[0] = True  # a Terminate: all the audio there is is the key
    assert [e.payload for e in replayer.poll()[0]] == [{"type": "Turn", "transcript": "short"}]


def test_a_replay_miss_hands_the_audio_so_far_to_the_engine(tmp_path: Path) -> None:
    audio = bytes(64_000)
    replayer, inner, _ = replayer_on(tmp_path, audio, [], replay_miss="engine")
    other = b"\x01" * 64_000  # another first second: a miss
    hear(replayer, other[:16_000])
    assert inner.samples == 0  # held until the key is known
    hear(replayer, other[16_000:])
    assert replayer.engine and inner.samples == 32_000  # all of it, the held part included


def test_the_sdk_gets_the_recorded_turns_on_replay(stream_recorded) -> None:
    from assemblyai.streaming.v3 import (
        StreamingClient,
        StreamingClientOptions,
        StreamingEvents,
        StreamingParameters,
    )

    from tests.test_streaming import JFK, chunks

    _, recorded, replayer = stream_recorded
    turns: list = []
    problems: list = []
    client = StreamingClient(
        StreamingClientOptions(api_key=API_KEY, api_host=replayer.url.replace("http://", "ws://"))
    )
    client.on(StreamingEvents.Turn, lambda _, e: turns.append(e))
    client.on(StreamingEvents.Error, lambda _, e: problems.append(e))
    client.connect(StreamingParameters(sample_rate=16000, format_turns=True))
    client.stream(iter(chunks(JFK)))
    client.disconnect(terminate=True)
    assert not problems
    want = [m for m in recorded if m["type"] == "Turn"]
    assert [(t.transcript, t.end_of_turn, t.turn_is_formatted) for t in turns] == [
        (m["transcript"], m["end_of_turn"], m["turn_is_formatted"]) for m in want
    ]
