"""Scripted results, the request journal and the in-process server for test suites (issue 21), through the
official SDK and `/admin` as a user would drive them (docs/testing.md)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import assemblyai as aai
import httpx
import pytest

from server.emulator.testing import LocalScribe
from tests.support.spec import AUDIO

CLIP = AUDIO / "en_timit_LDC93S1.wav"  # 2.9 s


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalScribe]:
    with LocalScribe(data_dir=tmp_path_factory.mktemp("emulator"), journal_max_entries=200) as s:
        yield s


@pytest.fixture
def ls(server: LocalScribe) -> Iterator[LocalScribe]:
    server.reset()
    with server.sdk():
        aai.settings.polling_interval = 0.05
        yield server


def admin(server: LocalScribe, token: str | None = None) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": token or server.admin_token})


def test_a_scripted_text_comes_back_exactly_through_the_pipeline(ls: LocalScribe) -> None:
    ls.script(text="Hello from the script.", audio_file=CLIP)
    t = aai.Transcriber().transcribe(str(CLIP))
    assert t.status == aai.TranscriptStatus.completed
    assert t.text == "Hello from the script."
    assert [w.text for w in t.words] == ["Hello", "from", "the", "script."]
    assert t.words[-1].end <= 2_950  # spread over the audio
    srt = t.export_subtitles_srt()
    assert "Hello from the script." in srt  # exports are the real ones, made from the scripted words


def test_text_options_still_apply_to_a_script(ls: LocalScribe) -> None:
    """A script replaces the engine, not the API: format_text/punctuate=false are applied as on speech."""
    ls.script(text="Hello, World.")
    config = aai.TranscriptionConfig(punctuate=False, format_text=False)
    t = aai.Transcriber().transcribe(str(CLIP), config)
    assert t.text == "hello world"


def test_scripted_words_utterances_and_speakers(ls: LocalScribe) -> None:
    utterances = [
        {"speaker": "A", "text": "Hi there.", "start": 0, "end": 1200},
        {"speaker": "B", "text": "Hello, how are you?", "start": 1400, "end": 2800},
    ]
    ls.script(utterances=utterances)
    t = aai.Transcriber().transcribe(str(CLIP), aai.TranscriptionConfig(speaker_labels=True))
    assert [(u.speaker, u.text) for u in t.utterances] == [("A", "Hi there."), ("B", "Hello, how are you?")]
    assert {w.speaker for w in t.words} == {"A", "B"}
    words = [{"text": "Exact.", "start": 100, "end": 600, "confidence": 0.5}]
    ls.script(words=words)
    t = aai.Transcriber().transcribe(str(CLIP))
    assert [(w.text, w.start, w.end, w.confidence) for w in t.words] == [("Exact.", 100, 600, 0.5)]
    assert t.utterances is None  # no speaker_labels asked: no utterances, as the API


def test_a_scripted_error_and_times(ls: LocalScribe) -> None:
    ls.script(error="Transcoding failed. File format not supported.", times=1)
    t = aai.Transcriber().transcribe(str(CLIP))
    assert t.status == aai.TranscriptStatus.error
    assert t.error == "Transcoding failed. File format not supported."
    assert aai.Transcriber().transcribe(str(CLIP)).status == aai.TranscriptStatus.completed  # used up


def test_scripts_match_like_fault_rules(ls: LocalScribe, tmp_path: Path) -> None:
    ls.script(text="By header.", header={"name": "X-Test-Case", "value": "42"})
    ls.script(text="Other audio.", audio_file=AUDIO / "jfk.flac")
    assert aai.Transcriber().transcribe(str(CLIP)).text != "By header."  # no header sent
    with httpx.Client(base_url=ls.base_url, headers={"Authorization": ls.api_key}) as c:
        url = c.post("/v2/upload", content=CLIP.read_bytes()).json()["upload_url"]
        tid = c.post("/v2/transcript", json={"audio_url": url}, headers={"X-Test-Case": "42"}).json()["id"]
    assert aai.Transcript.get_by_id(tid).wait_for_completion().text == "By header."


def test_a_script_is_still_validated_as_the_api(ls: LocalScribe) -> None:
    """The request's own validation runs first: a script can never answer a request the API refuses."""
    ls.script(text="never")
    with httpx.Client(base_url=ls.base_url, headers={"Authorization": ls.api_key}) as c:
        r = c.post("/v2/transcript", json={"audio_url": "http://x/a.wav", "speakers_expected": "two"})
    assert r.status_code == 400


def test_the_journal_shows_what_the_app_sent(ls: LocalScribe) -> None:
    ls.script(
        utterances=[{"speaker": "A", "text": "One.", "start": 0, "end": 900}]
    )  # no diarization to wait for
    config = aai.TranscriptionConfig(
        speaker_labels=True, speakers_expected=2, webhook_url="http://127.0.0.1:9/h"
    )
    config.set_webhook("http://127.0.0.1:9/h", "X-Secret", "s3cret-value")
    aai.Transcriber().transcribe(str(CLIP), config)
    sent = ls.requests("/v2/transcript", method="POST", speaker_labels=True, speakers_expected=2)
    assert len(sent) == 1
    entry = sent[0]
    assert entry["status"] == 200 and entry["account_id"]
    assert entry["audio"]["sha256"] and entry["audio"]["bytes"] == CLIP.stat().st_size
    polls = ls.requests("/v2/transcript/*", method="GET")  # answered by the poll fast path (issue 19)
    assert polls and all(p["status"] == 200 and p["account_id"] == entry["account_id"] for p in polls)
    text = json.dumps(ls.requests())
    assert "s3cret-value" not in text and ls.api_key not in text  # secrets are never kept
    uploads = ls.requests("/v2/upload")
    assert uploads[0]["audio"]["bytes"] == CLIP.stat().st_size and uploads[0]["params"] is None
    with admin(ls) as c:
        found = c.get(
            "/admin/requests", params={"path": "/v2/transcript", "params": '{"speakers_expected": 2}'}
        )
    assert [e["seq"] for e in found.json()["requests"]] == [entry["seq"]]


def test_the_journal_is_bounded_and_cleared_by_reset(ls: LocalScribe) -> None:
    with httpx.Client(base_url=ls.base_url, headers={"Authorization": ls.api_key}) as c:
        for _ in range(210):
            c.get("/v2/transcript", params={"limit": 1})
    entries = ls.requests()
    assert len(entries) == 200 and entries[-1]["seq"] - entries[0]["seq"] == 199  # the oldest went
    with admin(ls) as c:
        assert c.get("/admin/requests").json()["dropped"] == 10
        c.post("/admin/reset")
    assert ls.requests() == []


def test_a_scripted_streaming_session(ls: LocalScribe) -> None:
    from assemblyai.streaming.v3 import (
        StreamingClient,
        StreamingClientOptions,
        StreamingEvents,
        StreamingParameters,
    )

    ls.script(
        turns=[
            {"text": "Hello agent.", "start": 200, "end": 1200},
            {"text": "Book a table for two.", "start": 1500, "end": 2600},
            {"text": "Never reached.", "start": 9000, "end": 9500},
        ]
    )
    turns: list[Any] = []
    client = StreamingClient(StreamingClientOptions(api_key=ls.api_key, api_host=ls.streaming_host))
    client.on(StreamingEvents.Turn, lambda _, e: turns.append(e))
    client.connect(StreamingParameters(sample_rate=16_000, format_turns=True))
    pcm = bytes(16_000 * 2 * 3)  # 3 s of silence: the script, not the audio, says what was heard
    client.stream(pcm[i : i + 1600] for i in range(0, len(pcm), 1600))
    client.disconnect(terminate=True)
    formatted = [t.transcript for t in turns if t.end_of_turn and t.turn_is_formatted]
    assert formatted == ["Hello agent.", "Book a table for two."]
    assert any(not t.end_of_turn for t in turns)  # partials while a turn is being said
    [session] = ls.requests(kind="stream")
    assert session["path"] == "/v3/ws" and session["status"] == 1000
    assert session["params"]["format_turns"] == "True" and session["audio_s"] == 3.0
    assert session["messages"]["Termination"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"result": {"type": "result"}}, "result.result"),
        ({"result": {"type": "result", "text": "a", "words": []}}, "result.result.words"),
        (
            {"result": {"type": "turns", "turns": [{"text": "a", "start": 5, "end": 1}]}},
            "result.turns.turns.0",
        ),
        ({"result": {"type": "nope"}}, "result"),
        (
            {"match": {"audio_sha256": "xyz"}, "result": {"type": "error", "message": "m"}},
            "match.audio_sha256",
        ),
        (
            {
                "match": {"audio_url": "*"},
                "result": {"type": "turns", "turns": [{"text": "a", "start": 0, "end": 1}]},
            },
            "body",
        ),
        ({"result": {"type": "error", "message": "m"}, "color": 1}, "color"),
    ],
)
def test_a_malformed_script_is_a_400_naming_the_field(ls: LocalScribe, body: dict, field: str) -> None:
    with admin(ls) as c:
        r = c.post("/admin/scripts", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"].startswith(f"{field}") or field in r.json()["error"], r.text


def test_admin_routes_need_the_token(ls: LocalScribe) -> None:
    with admin(ls, token="wrong") as c:
        for method, path in [
            ("GET", "/admin/requests"),
            ("GET", "/admin/scripts"),
            ("POST", "/admin/scripts"),
        ]:
            assert c.request(method, path, json={}).status_code == 401
    with admin(ls) as c:
        created = c.post("/admin/scripts", json={"result": {"type": "result", "text": "x"}}).json()
        assert [s["id"] for s in c.get("/admin/scripts").json()["scripts"]] == [created["id"]]
        assert c.delete(f"/admin/scripts/{created['id']}").status_code == 200
        assert c.delete(f"/admin/scripts/{created['id']}").status_code == 404


def test_the_sdk_settings_come_back(server: LocalScribe) -> None:
    before = (aai.settings.base_url, aai.settings.api_key)
    with server.sdk():
        assert aai.settings.base_url == server.base_url
    assert (aai.settings.base_url, aai.settings.api_key) == before


def test_the_journal_keeps_the_sync_apis_config_and_audio_by_hash(ls: LocalScribe) -> None:
    audio = CLIP.read_bytes()
    files = {
        "config": (
            None,
            json.dumps({"language_code": "en", "keyterms_prompt": ["greasy"]}),
            "application/json",
        ),
        "audio": ("a.wav", audio, "audio/wav"),
    }
    headers = {"Authorization": ls.api_key, "X-AAI-Model": "universal-3-5-pro"}
    r = httpx.post(f"{ls.base_url}/v1/transcribe", files=files, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    [entry] = ls.requests("/v1/transcribe", keyterms_prompt=["greasy"])
    assert entry["status"] == 200 and entry["params"] == {
        "language_code": "en",
        "keyterms_prompt": ["greasy"],
    }
    assert entry["audio"]["bytes"] == len(audio)
    assert entry["audio"]["sha256"] == hashlib.sha256(audio).hexdigest()
