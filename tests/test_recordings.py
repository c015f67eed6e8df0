"""Record and replay (issue 21, docs/testing.md#record-and-replay): record against a LocalScribe running the
real engine, replay against one running the mock engine; the replayed transcript is the recorded one."""

from __future__ import annotations

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
