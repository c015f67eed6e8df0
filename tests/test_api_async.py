"""The async API end to end through a live server (mock engine), on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

import assemblyai as aai
import httpx
import pytest

from tests.conftest import create_key
from tests.support.files import file_server, wait_for
from tests.support.server import API_KEY
from tests.support.spec import assert_matches


def test_sdk_transcribes_an_upload(sdk: aai.Transcriber, jfk: Path) -> None:
    transcript = sdk.transcribe(str(jfk))
    assert transcript.status == aai.TranscriptStatus.completed, transcript.error
    assert transcript.text.startswith("The quick brown fox")
    assert transcript.audio_duration == 11
    words = transcript.words
    assert len(words) >= 9
    assert all(0 <= w.start < w.end <= 11_000 for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)


def test_transcript_bodies_match_the_spec(client: httpx.Client, jfk: Path) -> None:
    upload = client.post("/v2/upload", content=jfk.read_bytes())
    assert upload.status_code == 200
    assert_matches("UploadedFile", upload.json())
    created = client.post(
        "/v2/transcript", json={"audio_url": upload.json()["upload_url"], "punctuate": False}
    )
    assert created.status_code == 200
    body = created.json()
    assert_matches("Transcript", body)
    assert body["status"] == "queued"
    assert body["punctuate"] is False and body["format_text"] is True and body["language_code"] == "en_us"
    assert body["text"] is None and body["words"] is None and "error" not in body
    done = wait_for(client, body["id"])
    assert_matches("Transcript", done)
    assert done["status"] == "completed"
    assert done["text"].startswith(
        "The quick brown fox jumps over the lazy dog The quick"
    )  # punctuate: false
    assert not any(ch in done["text"] for ch in ".,?!")
    assert done["speech_model"] is None and done["speech_model_used"] == "universal-3-pro"


def test_mock_text_comes_from_a_sidecar(start_server, tmp_path: Path, jfk: Path) -> None:
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    shutil.copy(jfk, fixtures / "jfk.flac")
    (fixtures / "jfk.flac.txt").write_text("And so my fellow Americans, ask not.")
    server = start_server(LOCALSCRIBE_MOCK_DIR=str(fixtures))
    with (
        file_server(fixtures) as base,
        httpx.Client(base_url=server.url, headers={"Authorization": API_KEY}) as c,
    ):
        tid = c.post("/v2/transcript", json={"audio_url": f"{base}/jfk.flac"}).json()["id"]
        done = wait_for(c, tid)
    assert done["text"] == "And so my fellow Americans, ask not."
    assert [w["text"] for w in done["words"]][:2] == ["And", "so"]


def test_mock_text_comes_from_a_tag(client: httpx.Client, tmp_path: Path) -> None:
    import av
    import numpy as np

    path = tmp_path / "tagged.flac"
    with av.open(str(path), "w") as out:
        out.metadata["LOCALSCRIBE_TEXT"] = "Hello from a tag."
        stream = out.add_stream("flac", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 32000), dtype=np.int16), format="s16", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    upload_url = client.post("/v2/upload", content=path.read_bytes()).json()["upload_url"]
    done = wait_for(client, create(client, {"audio_url": upload_url}))
    assert done["text"] == "Hello from a tag."
    # four words spread over the real 2 s: a 500 ms slot each, 90 % of it spoken
    spans = [(w["start"], w["end"]) for w in done["words"]]
    assert spans == [(0, 450), (500, 950), (1000, 1450), (1500, 1950)]
    assert done["audio_duration"] == 2


@pytest.mark.parametrize("headers", [{}, {"Authorization": "nope"}, {"Authorization": ""}])
def test_missing_or_wrong_key_is_401(server, headers: dict[str, str]) -> None:
    for method, path in [
        ("GET", "/v2/transcript"),
        ("POST", "/v2/transcript"),
        ("POST", "/v2/upload"),
        ("GET", "/v2/transcript/5551722f-6a2a-4a3d-9c8e-1f0e2a0b1c2d"),
    ]:
        r = httpx.request(method, server.url + path, headers=headers)
        assert r.status_code == 401
        assert r.json() == {"error": "Authentication error, API token missing/invalid"}


def test_bearer_prefix_is_accepted(server) -> None:
    r = httpx.get(server.url + "/v2/transcript", headers={"Authorization": f"Bearer {API_KEY}"})
    assert r.status_code == 200


def test_accounts_cannot_see_each_other(server, client: httpx.Client, jfk: Path) -> None:
    other = httpx.Client(base_url=server.url, headers={"Authorization": create_key(server, tier="free")})
    upload_url = client.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
    tid = client.post("/v2/transcript", json={"audio_url": upload_url}).json()["id"]
    wait_for(client, tid)
    lookup_error = {"error": "Transcript lookup error, transcript id not found"}
    for method, suffix in [
        ("GET", ""),
        ("DELETE", ""),
        ("GET", "/sentences"),
        ("GET", "/paragraphs"),
        ("GET", "/srt"),
        ("GET", "/vtt"),
        ("GET", "/word-search?words=fox"),
    ]:
        r = other.request(method, f"/v2/transcript/{tid}{suffix}")
        assert (r.status_code, r.json()) == (400, lookup_error), (method, suffix)
    assert other.get("/v2/transcript").json()["transcripts"] == []
    r = other.post("/v2/transcript", json={"audio_url": upload_url})
    assert (r.status_code, r.json()) == (403, {"error": "Cannot access uploaded file"})
    assert client.get(f"/v2/transcript/{tid}").status_code == 200


def test_unknown_transcript_and_route(client: httpx.Client) -> None:
    r = client.get("/v2/transcript/00000000-0000-0000-0000-000000000000")
    assert (r.status_code, r.json()) == (400, {"error": "Transcript lookup error, transcript id not found"})
    r = client.get("/v2/transcript/not-a-uuid")
    assert r.status_code == 400
    r = client.get("/v2/nothing-here")
    assert (r.status_code, r.json()) == (404, {"error": "Not found"})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"audio_url": "https://x.test/a.mp3", "format_text": "yes"}, "format_text must be a Boolean"),
        ({"audio_url": "ftp://x.test/a.mp3"}, "Transcript creation error, audio_url should start with http"),
        ({}, "Transcript creation error, audio_url should start with http"),
        (
            {"audio_url": "https://x.test/a.mp3", "speakers_expected": "2"},
            "speakers_expected must be an Integer",
        ),
        ({"audio_url": "https://x.test/a.mp3", "language_code": "xx"}, "Invalid language_code: xx"),
        (
            {"audio_url": "https://x.test/a.mp3", "content_safety_confidence": 5},
            "content_safety_confidence must be between 25 and 100",
        ),
    ],
)
def test_bad_requests_get_the_api_wording(client: httpx.Client, body: dict, message: str) -> None:
    r = client.post("/v2/transcript", json=body)
    assert (r.status_code, r.json()) == (400, {"error": message})


def test_body_that_is_not_json(client: httpx.Client) -> None:
    for content in (b"{not json", b"[1, 2]", b"", b"\xff\xfe"):
        r = client.post("/v2/transcript", content=content, headers={"Content-Type": "application/json"})
        assert (r.status_code, r.json()) == (400, {"error": "Request body must be valid JSON"})


def test_dual_channel_is_multichannel(client: httpx.Client, jfk: Path) -> None:
    upload_url = client.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
    created = client.post("/v2/transcript", json={"audio_url": upload_url, "dual_channel": True}).json()
    assert created["multichannel"] is True
    done = wait_for(client, created["id"])
    assert done["audio_channels"] == 2  # jfk.flac is stereo
    assert {w["channel"] for w in done["words"]} == {"1", "2"}
    assert {u["channel"] for u in done["utterances"]} == {"1", "2"}
    assert_matches("Transcript", done)


def test_unknown_fields_are_ignored(client: httpx.Client) -> None:
    r = client.post("/v2/transcript", json={"audio_url": "https://x.test/a.mp3", "no_such_option": 1})
    assert r.status_code == 200 and "no_such_option" not in r.json()


def test_empty_and_oversized_uploads(start_server) -> None:
    server = start_server(LOCALSCRIBE_MAX_UPLOAD_BYTES="1000")
    c = httpx.Client(base_url=server.url, headers={"Authorization": API_KEY})
    r = c.post("/v2/upload", content=b"")
    assert (r.status_code, r.json()) == (400, {"error": "Upload error, the request body is empty"})
    r = c.post("/v2/upload", content=b"x" * 1001)
    assert r.status_code == 413
    assert r.json() == {"error": "Upload error, the file exceeds the maximum upload size of 1000 bytes"}

    def chunks():  # no Content-Length: the cap holds while streaming
        for _ in range(5):
            yield b"y" * 300

    r = c.post("/v2/upload", content=chunks())
    assert r.status_code == 413
    assert not [p for p in (Path(server.data_dir) / "uploads").glob("*") if p.is_file()]
    assert c.get("/health").status_code == 200


def create(client: httpx.Client, body: dict) -> str:
    r = client.post("/v2/transcript", json=body)
    assert r.status_code == 200, r.text
    return r.json()["id"]


def _make_bad_media(root: Path, jfk: Path) -> None:
    import av
    import numpy as np

    (root / "page.html").write_text("<!doctype html><html><body>" + "hello " * 500 + "</body></html>")
    (root / "random.bin").write_bytes(np.random.default_rng(1).bytes(50_000))
    (root / "empty.wav").write_bytes(b"")
    (root / "truncated.flac").write_bytes(jfk.read_bytes()[:2000])
    with av.open(str(root / "video.mp4"), "w") as out:  # a video stream and no audio stream
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for _ in range(10):
            frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), dtype=np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


def test_bad_media_and_downloads_end_in_error(client: httpx.Client, tmp_path: Path, jfk: Path) -> None:
    root = tmp_path / "files"
    root.mkdir()
    _make_bad_media(root, jfk)
    with file_server(root) as base:
        cases = {
            f"{base}/missing.wav": f"Download error to {base}/missing.wav, 404 Client Error: "
            f"File not found for url: {base}/missing.wav",
            "http://127.0.0.1:9/nothing.wav": "Download error, unable to download http://127.0.0.1:9/nothing.wav."
            " Please make sure the file exists and is accessible from the internet.",
        }
        ids = {url: create(client, {"audio_url": url}) for url in cases}
        names = ("page.html", "random.bin", "empty.wav", "truncated.flac", "video.mp4")
        bad = {name: create(client, {"audio_url": f"{base}/{name}"}) for name in names}
        for url, message in cases.items():
            done = wait_for(client, ids[url])
            assert (done["status"], done["error"]) == ("error", message)
            assert done["text"] is None and done["words"] is None
            assert_matches("Transcript", done)
        for name, tid in bad.items():
            done = wait_for(client, tid)
            assert done["status"] == "error", name
            assert "File does not appear to contain audio" in done["error"], (name, done["error"])
        page = wait_for(client, bad["page.html"])
        assert page["error"].startswith("File does not appear to contain audio. File type is text/html")
    assert client.get("/health").status_code == 200


def test_list_and_pagination(client: httpx.Client, sdk: aai.Transcriber, jfk: Path) -> None:
    upload_url = client.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
    ids = [client.post("/v2/transcript", json={"audio_url": upload_url}).json()["id"] for _ in range(5)]
    for tid in ids:
        wait_for(client, tid)
    page = client.get("/v2/transcript", params={"limit": 2}).json()
    assert_matches("TranscriptList", page)
    assert [t["id"] for t in page["transcripts"]] == ids[::-1][:2]
    assert page["page_details"]["result_count"] == 2
    seen = [t["id"] for t in page["transcripts"]]
    while page["page_details"]["prev_url"]:
        page = httpx.get(page["page_details"]["prev_url"], headers={"Authorization": API_KEY}).json()
        assert_matches("TranscriptList", page)
        seen += [t["id"] for t in page["transcripts"]]
    assert seen == ids[::-1]
    older = client.get("/v2/transcript", params={"limit": 2, "before_id": ids[1]}).json()
    assert [t["id"] for t in older["transcripts"]] == [ids[0]] and older["page_details"]["prev_url"] is None
    newer = httpx.get(older["page_details"]["next_url"], headers={"Authorization": API_KEY}).json()
    assert [t["id"] for t in newer["transcripts"]] == [ids[2], ids[1]]
    # the SDK walks the same pages
    listed = aai.Transcriber().list_transcripts(aai.ListTranscriptParameters(limit=3))
    assert len(listed.transcripts) == 3
    assert client.get("/v2/transcript", params={"status": "error"}).json()["transcripts"] == []
    for query, message in [
        ({"limit": 0}, "limit must be between 1 and 200"),
        ({"limit": "x"}, "limit must be an Integer"),
    ]:
        r = client.get("/v2/transcript", params=query)
        assert (r.status_code, r.json()["error"]) == (400, message)
    r = client.get("/v2/transcript", params={"before_id": ids[0], "after_id": ids[3]})
    assert r.json() == {"error": "'after_id' must be a newer transcript than 'before_id'"}


def test_delete(server, client: httpx.Client, jfk: Path) -> None:
    upload_url = client.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
    assert len(list((Path(server.data_dir) / "uploads").iterdir())) == 1
    tid = client.post(
        "/v2/transcript", json={"audio_url": upload_url, "webhook_url": "http://127.0.0.1:9/h"}
    ).json()["id"]
    wait_for(client, tid)
    deleted = client.delete(f"/v2/transcript/{tid}")
    assert deleted.status_code == 200
    body = deleted.json()
    assert_matches("Transcript", body)
    assert body["text"] == "Deleted by user."
    assert body["audio_url"] == body["webhook_url"] == "http://deleted_by_user"
    assert body["words"] is None and body["audio_duration"] == 11 and body["status"] == "completed"
    assert client.get(f"/v2/transcript/{tid}").json() == body
    assert client.get("/v2/transcript").json()["transcripts"][0]["audio_url"] == "http://deleted_by_user"
    assert list((Path(server.data_dir) / "uploads").iterdir()) == []
    assert client.get(f"/v2/transcript/{tid}/srt").text == ""


def test_exports_and_delete_wait_for_completion(start_server, jfk: Path) -> None:
    server = start_server(LOCALSCRIBE_MOCK_DELAY_S="3")
    c = httpx.Client(base_url=server.url, headers={"Authorization": API_KEY})
    upload_url = c.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
    tid = create(c, {"audio_url": upload_url})
    for suffix in ("srt", "vtt", "sentences", "paragraphs", "word-search?words=fox"):
        r = c.get(f"/v2/transcript/{tid}/{suffix}")
        assert r.status_code == 400, suffix
        assert r.json()["error"] in ("Transcript is not completed. Current status: queued",
                                     "Transcript is not completed. Current status: processing")
    r = c.delete(f"/v2/transcript/{tid}")
    assert r.status_code == 400
    assert r.json() == {"error": "Transcript is still processing and cannot be deleted"}
    assert wait_for(c, tid)["status"] == "completed"


def test_sdk_error_transcript_is_returned_not_raised(sdk: aai.Transcriber) -> None:
    transcript = sdk.transcribe("http://127.0.0.1:9/missing.mp3")
    assert transcript.status == aai.TranscriptStatus.error
    assert transcript.error.startswith("Download error, unable to download http://127.0.0.1:9/missing.mp3")


def test_sdk_get_and_delete(sdk: aai.Transcriber, jfk: Path) -> None:
    transcript = sdk.transcribe(str(jfk))
    again = aai.Transcript.get_by_id(transcript.id)
    assert again.text == transcript.text
    aai.Transcript.delete_by_id(transcript.id)
    assert aai.Transcript.get_by_id(transcript.id).text == "Deleted by user."
    with pytest.raises(aai.types.TranscriptError, match="Transcript lookup error, transcript id not found"):
        aai.Transcript.get_by_id("00000000-0000-0000-0000-000000000000")


def test_metrics_count_jobs_and_timings(client: httpx.Client, jfk: Path) -> None:
    upload_url = client.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
    wait_for(client, create(client, {"audio_url": upload_url}))
    wait_for(client, create(client, {"audio_url": "http://127.0.0.1:9/x.wav"}))
    text = client.get("/metrics").text
    assert 'localscribe_jobs{status="completed"} 1.0' in text
    assert 'localscribe_jobs{status="error"} 1.0' in text
    assert "localscribe_processing_seconds_count 2.0" in text
    assert "localscribe_queue_wait_seconds_count 2.0" in text
    assert "localscribe_real_time_factor_count 1.0" in text
    assert 'localscribe_jobs_finished_total{status="error"} 1.0' in text
    assert client.get("/ready").json() == {"status": "ready", "database": True, "model": True}
