"""Hostile media and requests against what a job is allowed (issue 14): bombs, lies, greedy searches.

Each test bounds its own cost, also on code without the fix: the memory test kills its job past a cap,
the duration tests lower the limit or stop at it. The whole module runs in well under a minute.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest

from server import errors
from server.config import Settings
from server.engine.mock import MockEngine
from server.jobs import pipeline
from server.jobs.errors import JobError
from server.jobs.queue import ClaimedJob
from server.jobs.windows import windows
from server.media.decode import decode, decode_blocks
from server.media.errors import MediaError
from server.media.probe import measure_duration, probe
from server.media.redact import write_redacted
from server.text.word_search import MAX_TERMS
from server.transcript_request import TranscriptRequest
from tests.support.bombs import claim_total_samples, silent_flac
from tests.support.files import until
from tests.support.jobmem import REPO, run_job_process
from tests.support.server import API_KEY, ServerProcess
from tests.support.spec import AUDIO

SR = 16_000


def _job(path: Path, **params: object) -> ClaimedJob:
    body = {"speech_models": ["nano"], "language_code": "en_us", "punctuate": True, "format_text": True}
    return ClaimedJob("t1", "a", "upload", str(path), TranscriptRequest.from_json({**body, **params}), 1, 0.0)


# --- memory: flat in the audio's length ------------------------------------------------------------------


def test_three_hours_of_silent_flac_stay_under_a_gigabyte(tmp_path: Path) -> None:
    """37 kB of FLAC is 3 h of audio: decoded whole it was 1.4 GB of RSS (bench/job_memory.py)."""
    audio = silent_flac(tmp_path / "silence.flac", 3 * 3600)
    assert audio.stat().st_size < 64_000
    result = run_job_process(REPO, audio, "mock", "tiny.en", cap_gb=1.0, scratch=tmp_path / "data")
    assert result.get("error") is None, result
    assert result["audio_duration"] == 3 * 3600
    assert result["peak_kb"] < 1024 * 1024


def test_decode_blocks_match_one_decode_and_stop_at_the_limit(tmp_path: Path) -> None:
    whole = decode(AUDIO / "jfk.flac")
    blocks = list(decode_blocks(AUDIO / "jfk.flac", block_s=2.0))
    assert max(len(b) for b in blocks) == 2 * SR and len(blocks) == -(-len(whole) // (2 * SR))
    assert np.array_equal(np.concatenate(blocks), whole)
    with pytest.raises(MediaError) as caught:
        list(decode_blocks(AUDIO / "jfk.flac", max_s=3.0))
    assert str(caught.value) == errors.AUDIO_TOO_LONG


# --- duration: what decodes, not what the header says ------------------------------------------------------


def test_a_header_that_claims_one_second_gets_the_decoded_duration(tmp_path: Path) -> None:
    audio = claim_total_samples(silent_flac(tmp_path / "lie.flac", 95), SR)
    assert probe(audio).duration_s == 1.0  # the lie
    outcome = pipeline.run_job(_job(audio), MockEngine(), Settings(engine="mock", data_dir=tmp_path))
    assert outcome.audio_duration == 95


def test_the_limit_counts_decoded_samples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lower limit here stands for the 10 hours (the next test decodes those for real)."""
    monkeypatch.setattr(pipeline, "MAX_DURATION_S", 60)
    audio = claim_total_samples(silent_flac(tmp_path / "lie.flac", 90), SR)
    with pytest.raises(JobError) as caught:
        pipeline.run_job(_job(audio), MockEngine(), Settings(engine="mock", data_dir=tmp_path))
    assert caught.value.message == errors.AUDIO_TOO_LONG


def test_ten_hours_and_a_minute_that_claim_one_second_stop_at_ten_hours(tmp_path: Path) -> None:
    audio = claim_total_samples(silent_flac(tmp_path / "bomb.flac", 10 * 3600 + 60), SR)
    assert measure_duration(silent_flac(tmp_path / "ten.flac", 10 * 3600), pipeline.MAX_DURATION_S) == 36000
    with pytest.raises(MediaError) as caught:
        measure_duration(audio, pipeline.MAX_DURATION_S)
    assert str(caught.value) == errors.AUDIO_TOO_LONG


# --- windows: bounded, cut in pauses, words absolute -------------------------------------------------------


def test_windowed_job_gives_the_same_words_as_one_window(tmp_path: Path) -> None:
    audio = silent_flac(tmp_path / "s.flac", 130)
    engine = MockEngine(text="alpha beta gamma delta " * 40)
    one = pipeline.run_job(_job(audio), engine, Settings(engine="mock", data_dir=tmp_path))
    many = pipeline.run_job(
        _job(audio), engine, Settings(engine="mock", data_dir=tmp_path, transcribe_window_s=20)
    )
    assert [(w["text"], w["start"], w["end"]) for w in many.result["words"]] == [
        (w["text"], w["start"], w["end"]) for w in one.result["words"]
    ]
    assert len(one.result["words"]) == 160


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
def test_windows_are_cut_in_pauses_and_cover_the_audio(tmp_path: Path) -> None:
    wav = tmp_path / "speech.wav"
    text = " ".join(f"Sentence number {n} is spoken here without any hurry at all." for n in range(8))
    subprocess.run(["espeak-ng", "-s", "150", "-g", "12", "-w", str(wav), text], check=True)
    samples = decode(wav)
    cut = list(windows(decode_blocks(wav, block_s=3.0), window_s=8.0))
    assert len(cut) >= 3 and cut[-1].last and not cut[0].last
    assert np.array_equal(np.concatenate([w.samples for w in cut]), samples)
    for w in cut[1:]:  # each edge sits in a pause: quiet around it
        edge = int(w.start_s * SR)
        around = samples[max(0, edge - 800) : edge + 800]
        assert np.sqrt(np.mean(around**2)) < 0.25 * np.sqrt(np.mean(samples**2)), w.start_s


# --- word search: bounded and indexed -----------------------------------------------------------------------


def test_word_search_refuses_more_terms_than_the_limit(start_server, jfk: Path) -> None:
    server: ServerProcess = start_server()
    with httpx.Client(base_url=server.url, headers={"Authorization": API_KEY}, timeout=30) as c:
        url = c.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
        tid = c.post("/v2/transcript", json={"audio_url": url}).json()["id"]
        until(lambda: c.get(f"/v2/transcript/{tid}").json()["status"] == "completed", what="completed")
        ok = c.get(f"/v2/transcript/{tid}/word-search", params={"words": ",".join(["fox"] * MAX_TERMS)})
        assert ok.status_code == 200 and len(ok.json()["matches"]) == MAX_TERMS
        many = ",".join(f"term{i}" for i in range(1000))
        r = c.get(f"/v2/transcript/{tid}/word-search", params={"words": many})
        assert (r.status_code, r.json()) == (
            400,
            {"error": errors.WORD_SEARCH_TOO_MANY_TERMS.format(limit=MAX_TERMS)},
        )
        r = c.get(f"/v2/transcript/{tid}/word-search", params={"words": "one two three four five six"})
        assert r.status_code == 400
        assert c.get(f"/v2/transcript/{tid}/word-search", params={"words": "x" * 5000}).status_code == 400


def test_redacted_audio_from_blocks_equals_one_array(tmp_path: Path) -> None:
    """Redacted audio is written block by block; a span across a block edge is one continuous beep."""
    samples = decode(AUDIO / "jfk.flac")
    spans = [{"start": 1900, "end": 2600}, {"start": 7000, "end": 7300}]
    whole = write_redacted(samples, spans, SR, tmp_path / "whole.wav", "wav", offset_ms=500)
    cut = 2 * SR + 123  # inside the first span
    parts = write_redacted(
        iter([samples[:cut], samples[cut:]]), spans, SR, tmp_path / "parts.wav", "wav", offset_ms=500
    )
    assert np.array_equal(decode(whole), decode(parts))
    assert not np.array_equal(decode(whole), samples[: len(decode(whole))])
