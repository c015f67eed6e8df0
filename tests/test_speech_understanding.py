"""Speech understanding (docs/compatibility.md#speech-understanding): custom formatting, speaker
identification and translation on hand-written transcripts (unit), the statuses of every task, and the order
against PII redaction."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from server.intelligence import enrich, speaker_identification
from server.intelligence.document import Document
from server.text.custom_formatting import apply, format_date, format_phone
from server.text.types import Word
from server.text.utterances import build_utterances
from server.transcript_request import TranscriptRequest

# --- custom formatting -------------------------------------------------------------------------------------

US = {"date": "mm/dd/yyyy", "phone_number": "(xxx)xxx-xxxx", "email": "username@domain.com"}


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("We met on March 5th, 2024 here.", "We met on 03/05/2024 here."),
        ("It was the 21st of December 2023.", "It was 12/21/2023."),
        ("Due 2024-01-09.", "Due 01/09/2024."),
        ("Call 555-123-4567 now.", "Call (555)123-4567 now."),
        ("Call (555) 123 4567 now.", "Call (555)123-4567 now."),
        ("Call 1-800-555-0199.", "Call (800)555-0199."),
        ("Write to john dot smith at gmail dot com today.", "Write to john.smith@gmail.com today."),
        ("Write to Jane.Doe@Example.org.", "Write to jane.doe@example.org."),
        ("Nothing to change on May 5 or at 12345.", "Nothing to change on May 5 or at 12345."),
    ],
)
def test_custom_formatting_rewrites_dates_phones_and_emails(said: str, expected: str) -> None:
    assert apply(said, US).text == expected


def test_custom_formatting_follows_the_pattern_and_maps_originals() -> None:
    done = apply(
        "On March 5th, 2024 call 555.123.4567.", {"date": "dd.mm.yyyy", "phone_number": "xxx-xxx-xxxx"}
    )
    assert done.text == "On 05.03.2024 call 555-123-4567."
    assert done.mapping == {"March 5th, 2024": "05.03.2024", "555.123.4567": "555-123-4567"}
    assert apply("On March 5th, 2024.", {"phone_number": "xxx"}).text == "On March 5th, 2024."  # not asked
    from datetime import date

    assert format_date(date(2024, 3, 5), "yyyy-mm-dd") == "2024-03-05"
    assert format_phone("15551234567", "+1 xxx xxx xxxx") == "+1 555 123 4567"
    assert format_phone("5551234", "(xxx)xxx-xxxx") is None


# --- documents ---------------------------------------------------------------------------------------------


def _words(turns: list[tuple[str, str]]) -> list[Word]:
    words: list[Word] = []
    t = 0
    for speaker, text in turns:
        for token in text.split():
            words.append({"text": token, "start": t, "end": t + 300, "confidence": 0.9, "speaker": speaker})
            t += 400
        t += 800
    return words


def _doc(turns: list[tuple[str, str]], request: dict[str, Any], **params: Any) -> Document:
    words = _words(turns)
    return Document(
        words=words,
        text=" ".join(w["text"] for w in words),
        samples=np.zeros(16000, np.float32),
        request=TranscriptRequest(
            speech_understanding={"request": request}, speaker_labels=False, **params
        ),
        language_code="en_us",
        utterances=build_utterances(words),
    )


CALL = [
    ("A", "Hello and welcome to the show. My name is Maria Lopez and I host it."),
    ("B", "Thanks for having me."),
    ("A", "Tell us about your book, Daniel."),
    ("B", "I'm Daniel Brooks, and I wrote it over two winters in Oslo."),
    ("A", "Great. Call us on 555-123-4567 to win a copy."),
]


def test_speaker_identification_by_name_from_what_is_said() -> None:
    request = {"speaker_identification": {"speaker_type": "name"}}
    doc = _doc(CALL, request)
    out = enrich(doc)
    response = out["speech_understanding"]["response"]["speaker_identification"]
    assert response == {"status": "success", "mapping": {"A": "Maria Lopez", "B": "Daniel Brooks"}}
    assert {u["speaker"] for u in out["utterances"]} == {"Maria Lopez", "Daniel Brooks"}
    assert all(w["speaker"] in {"Maria Lopez", "Daniel Brooks"} for w in out["words"])
    assert all(w["speaker"] == u["speaker"] for u in out["utterances"] for w in u["words"])


def test_speaker_identification_uses_known_values_as_written() -> None:
    request = {"speaker_type": "name", "known_values": ["Dan Brooks", "Maria"]}
    mapping = speaker_identification.identify(build_utterances(_words(CALL)), request)
    assert mapping == {"A": "Maria", "B": "Dan Brooks"}


def test_speaker_identification_by_role_from_descriptions() -> None:
    turns = [
        ("A", "Thank you for calling support, how can I help you today? Can I have your account number?"),
        ("B", "My internet has been down since yesterday and I want a refund for this month."),
        ("A", "I am sorry about that. I will reset your router from our side and open a ticket."),
        ("B", "Okay, I am at home now and the light on my modem is red."),
    ]
    request = {
        "speaker_identification": {
            "speaker_type": "role",
            "speakers": [
                {"role": "Customer", "description": "calls because their service is broken"},
                {"role": "Agent", "description": "works for the company and helps the caller"},
            ],
        }
    }
    out = enrich(_doc(turns, request))
    assert out["speech_understanding"]["response"]["speaker_identification"]["mapping"] == {
        "A": "Agent",
        "B": "Customer",
    }


def test_speaker_identification_renames_sentiment_results_too() -> None:
    request = {"speaker_identification": {"speaker_type": "name"}}
    out = enrich(_doc(CALL, request, sentiment_analysis=True))
    assert {s["speaker"] for s in out["sentiment_analysis_results"]} == {"Maria Lopez", "Daniel Brooks"}


def test_names_are_found_before_redaction_and_text_is_formatted_after() -> None:
    request = {
        "speaker_identification": {"speaker_type": "name"},
        "custom_formatting": {"phone_number": "xxx.xxx.xxxx", "format_utterances": True},
    }
    doc = _doc(
        CALL, request, redact_pii=True, redact_pii_policies=["person_name"], redact_pii_sub="entity_name"
    )
    out = enrich(doc)
    response = out["speech_understanding"]["response"]
    assert response["speaker_identification"]["mapping"] == {"A": "Maria Lopez", "B": "Daniel Brooks"}
    assert "Maria" not in out["text"] and "[PERSON_NAME]" in out["text"]  # the text stays redacted
    assert "555.123.4567" in out["text"] and response["custom_formatting"]["formatted_text"] == out["text"]
    assert response["custom_formatting"]["mapping"] == {"555-123-4567": "555.123.4567"}
    assert any("555.123.4567" in u["text"] for u in response["custom_formatting"]["formatted_utterances"])
    assert all("555.123.4567" not in u["text"] for u in out["utterances"])  # utterances unchanged
    assert response["custom_formatting"]["status"] == "success"


# --- translation -------------------------------------------------------------------------------------------


def test_translation_into_english_uses_the_engine_and_other_targets_say_why() -> None:
    request = {"translation": {"target_languages": ["en", "de"], "match_original_utterance": True}}
    doc = _doc([("A", "Hallo zusammen."), ("B", "Guten Tag.")], request)
    doc.language_code = "de"
    heard: list[float] = []
    doc.translate = lambda audio: heard.append(audio.duration_s) or f"english of {len(heard)}"
    out = enrich(doc)
    response = out["speech_understanding"]["response"]["translation"]
    assert response["status"] == "success"  # en from the engine, de is the source language itself
    assert out["translated_texts"] == {"en": "english of 1", "de": doc.text}
    assert [u["translated_texts"]["en"] for u in out["utterances"]] == ["english of 2", "english of 3"]
    assert out["utterances"][0]["translated_texts"]["de"] == "Hallo zusammen."


def test_translation_no_engine_serves_is_unavailable_with_a_reason() -> None:
    request = {"translation": {"target_languages": ["es"]}}
    doc = _doc([("A", "Hello there.")], request)
    out = enrich(doc)
    response = out["speech_understanding"]["response"]["translation"]
    assert response["status"] == "unavailable" and "es" in response["reason"]
    assert "translated_texts" not in out
    doc = _doc([("A", "Hello there.")], {"translation": {"target_languages": ["en", "es"]}})
    doc.language_code = "fr"
    doc.translate = lambda audio: "Hello there."
    out = enrich(doc)
    assert out["speech_understanding"]["response"]["translation"]["status"] == "partial"
    assert out["translated_texts"] == {"en": "Hello there."}


def test_tasks_not_implemented_answer_unavailable_and_request_is_echoed() -> None:
    request = {"summarization": {"summary_type": "bullets"}, "custom_formatting": {"date": "mm/dd/yyyy"}}
    out = enrich(_doc([("A", "Hello.")], request))
    su = out["speech_understanding"]
    assert su["request"] == request
    assert su["response"]["summarization"]["status"] == "unavailable"
    assert su["response"]["custom_formatting"]["status"] == "success"
