"""Speech understanding through the official SDK on real audio with the real engine
(docs/compatibility.md#speech-understanding): whisper's own translation of the German, French, Spanish and
Portuguese clips into English, and speaker names taken from what is said in the two-speaker recording."""

from __future__ import annotations

import json
import re
from pathlib import Path

import assemblyai as aai
import pytest

from tests.conftest import raw_body
from tests.support.spec import AUDIO, assert_matches

OUT = Path(__file__).resolve().parents[1] / "bench" / "results"


@pytest.fixture
def backend() -> str:
    return "sqlite"


def assert_transcript(body: dict, task_schema: str) -> None:
    """The spec makes `speech_understanding.response` a oneOf of three schemas that each accept any object,
    so no response can be valid under exactly one: validate the rest of the Transcript, then the response
    against its own task's schema."""
    response = body["speech_understanding"].pop("response")
    assert_matches("Transcript", body)
    assert_matches(task_schema, response)
    body["speech_understanding"]["response"] = response


def _understanding(**tasks: object) -> aai.SpeechUnderstandingRequest:
    return aai.SpeechUnderstandingRequest(request=aai.SpeechUnderstandingFeatureRequests(**tasks))


# clip -> English words the translation must contain as whole words (not in the source sentence: "car" is
# not "carro"); the clips' own references translated by meaning, held loosely: `base` translates roughly
CLIPS = {
    "de_thorsten_eca9d4cc394847e6876b4ba43c046c5c.wav": ("de", ["headset"]),
    "fr_fleurs_005.ogg": ("fr", ["car", "race"]),
    "es_fleurs_002.ogg": ("es", ["funeral"]),
    "pt_fleurs_002.ogg": ("pt", ["control", "car"]),
}


@pytest.mark.real
@pytest.mark.timeout(900)
def test_translation_into_english_and_unavailable_targets(real_sdk: aai.Transcriber) -> None:
    side_by_side = []
    for clip, (language, _expected) in CLIPS.items():
        config = aai.TranscriptionConfig(
            language_code=language,
            speech_understanding=_understanding(
                translation=aai.TranslationRequest(target_languages=["en", "ja"])
            ),
        )
        t = real_sdk.transcribe(str(AUDIO / clip), config)
        assert t.status == aai.TranscriptStatus.completed, t.error
        body = raw_body(f"/v2/transcript/{t.id}")
        assert_transcript(body, "TranslationResponse")
        english = t.translated_texts["en"]
        assert "ja" not in t.translated_texts
        response = body["speech_understanding"]["response"]["translation"]
        assert response["status"] == "partial" and "ja" in response["reason"]
        assert t.speech_understanding.response.translation.status == "partial"
        side_by_side.append({"clip": clip, "language": language, "text": t.text, "english": english})
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "translation_side_by_side.json").write_text(json.dumps(side_by_side, indent=2, ensure_ascii=False))
    for row, (_, expected) in zip(side_by_side, CLIPS.values(), strict=True):
        assert all(re.search(rf"\b{word}\b", row["english"].lower()) for word in expected), row


@pytest.mark.real
@pytest.mark.timeout(900)
def test_speaker_names_from_self_introductions(real_sdk: aai.Transcriber) -> None:
    config = aai.TranscriptionConfig(
        speaker_labels=True,
        speakers_expected=2,
        speech_understanding=_understanding(
            speaker_identification=aai.SpeakerIdentificationRequest(speaker_type="name")
        ),
    )
    t = real_sdk.transcribe(str(AUDIO / "pyannote_sample.wav"), config)  # "This is Diane … I'm Sheila"
    assert t.status == aai.TranscriptStatus.completed, t.error
    assert_transcript(raw_body(f"/v2/transcript/{t.id}"), "SpeakerIdentificationResponse")
    mapping = t.speech_understanding.response.speaker_identification.mapping
    assert sorted(mapping.values()) == ["Diane", "Sheila"]
    assert {u.speaker for u in t.utterances} <= {"Diane", "Sheila"}
    assert all(w.speaker in {"Diane", "Sheila"} for w in t.words)
