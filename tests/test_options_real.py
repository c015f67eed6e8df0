"""Speech options and exports, end to end through the SDK with the real engine on shared audio."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import assemblyai as aai
import numpy as np
import pytest
import srt
import webvtt

from tests.conftest import raw_body
from tests.support.spec import AUDIO, assert_matches

pytestmark = pytest.mark.real
NANO = ["nano"]  # tiny.en: fast, English


@pytest.fixture
def backend() -> str:
    return "sqlite"


def _words(text: str) -> list[str]:
    return [w.strip(".,;:!?").lower() for w in text.split()]


def test_exports_of_a_real_transcript(real_sdk: aai.Transcriber, tmp_path: Path) -> None:
    transcript = real_sdk.transcribe(str(AUDIO / "jfk.flac"), aai.TranscriptionConfig(speech_models=NANO))
    tid = transcript.id

    cues = list(srt.parse(transcript.export_subtitles_srt()))
    assert " ".join(c.content for c in cues).split() == transcript.text.split()
    assert cues[0].start.total_seconds() < 1 and cues[-1].end.total_seconds() <= 11
    short = list(srt.parse(transcript.export_subtitles_srt(chars_per_caption=20)))
    assert len(short) > len(cues) and all(len(c.content) <= 20 for c in short)
    vtt_path = tmp_path / "jfk.vtt"
    vtt_path.write_text(transcript.export_subtitles_vtt())
    assert " ".join(c.text for c in webvtt.read(str(vtt_path))).split() == transcript.text.split()

    sentences = transcript.get_sentences()
    assert "".join(s.text for s in sentences).replace(" ", "") == transcript.text.replace(" ", "")
    assert all(s.words and s.start <= s.end for s in sentences)
    assert_matches("SentencesResponse", raw_body(f"/v2/transcript/{tid}/sentences"))
    paragraphs = transcript.get_paragraphs()
    assert paragraphs and paragraphs[0].words[0].start == sentences[0].start
    assert_matches("ParagraphsResponse", raw_body(f"/v2/transcript/{tid}/paragraphs"))

    matches = {m.text: m for m in transcript.word_search(["country", "fellow americans", "zebra"])}
    assert matches["country"].count == 2 and len(matches["country"].timestamps) == 2
    assert matches["fellow americans"].count == 1
    assert matches["zebra"].count == 0
    first = matches["country"].indexes[0]
    assert transcript.words[first].text.lower().startswith("country")
    assert_matches(
        "WordSearchResponse", raw_body(f"/v2/transcript/{tid}/word-search?words=country,fellow%20americans")
    )


def test_span_custom_spelling_and_unformatted_text(real_sdk: aai.Transcriber) -> None:
    config = aai.TranscriptionConfig(
        speech_models=NANO, audio_start_from=3000, audio_end_at=8000, custom_spelling={"nation": "country"}
    )
    transcript = real_sdk.transcribe(str(AUDIO / "jfk.flac"), config)
    assert transcript.status == aai.TranscriptStatus.completed, transcript.error
    words = transcript.words
    assert words and all(w.start >= 2900 and w.end <= 8100 for w in words)  # relative to the whole file
    assert "nation" in _words(transcript.text) and "country" not in _words(transcript.text)
    assert "fellow" not in _words(transcript.text)  # "fellow Americans" is said before 3 s
    assert transcript.audio_duration == 11
    body = raw_body(f"/v2/transcript/{transcript.id}")
    assert (body["audio_start_from"], body["audio_end_at"]) == (3000, 8000)
    assert_matches("Transcript", body)


def test_multichannel_transcribes_each_channel(real_sdk: aai.Transcriber) -> None:
    config = aai.TranscriptionConfig(speech_models=NANO, multichannel=True)
    transcript = real_sdk.transcribe(str(AUDIO / "stereo_diarization.wav"), config)
    assert transcript.status == aai.TranscriptStatus.completed, transcript.error
    body = raw_body(f"/v2/transcript/{transcript.id}")
    assert_matches("Transcript", body)
    assert body["audio_channels"] == 2
    by_channel = {ch: " ".join(w["text"] for w in body["words"] if w["channel"] == ch) for ch in ("1", "2")}
    assert "wizard" in by_channel["1"].lower() and "curtain" in by_channel["1"].lower()
    assert "horizon" in by_channel["2"].lower() and "wizard" not in by_channel["2"].lower()
    assert {u["channel"] for u in body["utterances"]} == {"1", "2"}
    assert all(u["speaker"] == u["channel"] for u in body["utterances"])
    assert [u["start"] for u in body["utterances"]] == sorted(u["start"] for u in body["utterances"])
    # the text interleaves the channels' utterances by time
    assert body["text"] == " ".join(u["text"] for u in body["utterances"])


def test_word_boost_recognises_a_rare_term(real_sdk: aai.Transcriber) -> None:
    plain = real_sdk.transcribe(str(AUDIO / "hotwords.mp3"), aai.TranscriptionConfig(speech_models=NANO))
    assert "comfyui" not in plain.text.lower()
    boosted = real_sdk.transcribe(
        str(AUDIO / "hotwords.mp3"),
        aai.TranscriptionConfig(speech_models=NANO, word_boost=["ComfyUI"], boost_param="high"),
    )
    assert "comfyui" in boosted.text.lower()
    keyterms = real_sdk.transcribe(
        str(AUDIO / "hotwords.mp3"), aai.TranscriptionConfig(speech_models=NANO, keyterms_prompt=["ComfyUI"])
    )
    assert "comfyui" in keyterms.text.lower()


def test_speech_threshold(real_sdk: aai.Transcriber, tmp_path: Path) -> None:
    ok = real_sdk.transcribe(
        str(AUDIO / "jfk.flac"), aai.TranscriptionConfig(speech_models=NANO, speech_threshold=0.2)
    )
    assert ok.status == aai.TranscriptStatus.completed
    strict = real_sdk.transcribe(
        str(AUDIO / "jfk.flac"), aai.TranscriptionConfig(speech_models=NANO, speech_threshold=0.99)
    )
    assert strict.status == aai.TranscriptStatus.error and strict.text is None
    assert strict.error.startswith("Audio speech threshold 0.")
    assert strict.error.endswith("is below the requested speech threshold value 0.99")
    hum = tmp_path / "hum.wav"  # a 2 s tone: audio, but no speech
    tone = (0.2 * np.sin(2 * np.pi * 220 * np.arange(32000) / 16000) * 32767).astype("<i2")
    with wave.open(str(hum), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(tone.tobytes())
    none = real_sdk.transcribe(str(hum), aai.TranscriptionConfig(speech_models=NANO, speech_threshold=0.1))
    assert none.error == "Audio speech threshold 0.0000 is below the requested speech threshold value 0.1"


def test_language_confidence_threshold(real_sdk: aai.Transcriber) -> None:
    config = aai.TranscriptionConfig(language_detection=True, language_confidence_threshold=0.999999)
    transcript = real_sdk.transcribe(str(AUDIO / "fr_fleurs_005.ogg"), config)
    assert transcript.status == aai.TranscriptStatus.error
    assert transcript.error.startswith("detected language 'fr', confidence 0.")
    assert transcript.error.endswith("is below the requested confidence threshold value of '0.999999'")
    # a detected language that lacks a requested feature ends in the documented error
    config = aai.TranscriptionConfig(language_detection=True, disfluencies=True)
    transcript = real_sdk.transcribe(str(AUDIO / "fr_fleurs_005.ogg"), config)
    assert transcript.error == "The following addons are not available in this language: disfluencies"


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (make test installs it)")
def test_filter_profanity_on_synthesised_speech(real_sdk: aai.Transcriber, tmp_path: Path) -> None:
    speech = tmp_path / "swear.wav"
    text = "This is a good example, you know, and the shit hit the fan yesterday."
    subprocess.run(["espeak-ng", "-w", str(speech), text], check=True)
    plain = real_sdk.transcribe(str(speech), aai.TranscriptionConfig(speech_models=NANO))
    assert "shit" in _words(plain.text)
    filtered = real_sdk.transcribe(
        str(speech), aai.TranscriptionConfig(speech_models=NANO, filter_profanity=True)
    )
    assert "s***" in _words(filtered.text) and "shit" not in filtered.text.lower()
    assert "fan" in _words(filtered.text)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (make test installs it)")
def test_disfluencies_on_synthesised_speech(real_sdk: aai.Transcriber, tmp_path: Path) -> None:
    speech = tmp_path / "um.wav"
    subprocess.run(
        ["espeak-ng", "-w", str(speech), "So, um, I think, uh, we should, um, go home now."], check=True
    )
    kept = real_sdk.transcribe(str(speech), aai.TranscriptionConfig(disfluencies=True))  # base
    assert kept.status == aai.TranscriptStatus.completed, kept.error
    assert _words(kept.text).count("um") >= 2
    dropped = real_sdk.transcribe(str(speech), aai.TranscriptionConfig(disfluencies=False))
    assert "um" not in _words(dropped.text) and "uh" not in _words(dropped.text)
    assert "think" in _words(dropped.text)
