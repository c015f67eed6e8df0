"""The real faster-whisper engine behind a live server, driven by the official SDK (SQLite only: the
database code is the same as in the mock tests, the point here is the engine)."""

from __future__ import annotations

import json

import assemblyai as aai
import pytest

from tests.conftest import raw_body
from tests.support.spec import AUDIO, assert_matches

pytestmark = pytest.mark.real


@pytest.fixture
def backend() -> str:
    return "sqlite"


GERMAN = AUDIO / "de_thorsten_1386ecbb98a8f46dd0b0eb75d68ee0d0.wav"


def _manifest() -> dict[str, dict]:
    return {item["file"]: item for item in json.loads((AUDIO / "manifest.json").read_text())}


def test_jfk_with_tiny_en_word_timestamps(real_sdk: aai.Transcriber) -> None:
    config = aai.TranscriptionConfig(speech_models=["nano"])
    transcript = real_sdk.transcribe(str(AUDIO / "jfk.flac"), config=config)
    assert transcript.status == aai.TranscriptStatus.completed, transcript.error
    text = transcript.text.lower()
    for phrase in ("fellow americans", "ask not what your country can do for you",
                   "ask what you can do for your country"):
        assert phrase in text
    assert transcript.audio_duration == 11
    assert transcript.json_response["speech_model_used"] == "nano"
    words = transcript.words
    assert words[0].text == "And" and 0 <= words[0].start < 1000
    country = [w for w in words if w.text.lower().startswith("country")]
    assert len(country) == 2 and country[-1].end <= 11_000
    assert all(0 < w.confidence <= 1 for w in words)
    assert_matches("Transcript", raw_body(f"/v2/transcript/{transcript.id}"))


def test_unformatted_text_is_lowercase_without_punctuation(real_sdk: aai.Transcriber) -> None:
    config = aai.TranscriptionConfig(speech_models=["nano"], punctuate=False, format_text=False)
    transcript = real_sdk.transcribe(str(AUDIO / "jfk.flac"), config=config)
    assert "and so my fellow americans ask not what your country can do for you" in transcript.text
    assert transcript.text == transcript.text.lower()
    assert not any(ch in transcript.text for ch in ".,?!")


@pytest.mark.parametrize(("clip", "language", "keywords"), [
    ("de_thorsten_1386ecbb98a8f46dd0b0eb75d68ee0d0.wav", "de", None),
    ("es_fleurs_002.ogg", "es", None),
])
def test_language_detection_with_base(real_sdk: aai.Transcriber, clip: str, language: str,
                                      keywords: list[str] | None) -> None:
    config = aai.TranscriptionConfig(language_detection=True)
    transcript = real_sdk.transcribe(str(AUDIO / clip), config=config)
    assert transcript.status == aai.TranscriptStatus.completed, transcript.error
    assert transcript.json_response["language_code"] == language
    assert transcript.json_response["language_confidence"] > 0.5
    reference = _manifest()[clip]["reference"].lower()
    # a loose check that the words are the clip's own: most reference words are recognised
    said = {w.strip(".,;:!?¿¡\"'").lower() for w in transcript.text.split()}
    ref_words = [w.strip(".,;:!?¿¡\"'") for w in reference.split()]
    hits = sum(1 for w in ref_words if w in said)
    assert hits / len(ref_words) > 0.5, (transcript.text, reference)
    assert_matches("Transcript", raw_body(f"/v2/transcript/{transcript.id}"))


def test_english_only_model_cannot_serve_german(real_sdk: aai.Transcriber) -> None:
    config = aai.TranscriptionConfig(speech_models=["nano"], language_code="de")
    transcript = real_sdk.transcribe(str(GERMAN), config=config)
    assert transcript.status == aai.TranscriptStatus.error
    assert "cannot transcribe language 'de'" in transcript.error
    # with a multilingual fallback listed, the second model serves it
    config = aai.TranscriptionConfig(speech_models=["nano", "universal-2"], language_code="de")
    transcript = real_sdk.transcribe(str(GERMAN), config=config)
    assert transcript.status == aai.TranscriptStatus.completed
    assert transcript.json_response["speech_model_used"] == "universal-2"
