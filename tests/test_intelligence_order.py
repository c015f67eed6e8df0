"""Order of features (docs/compatibility.md#transcript-object): every feature that reads the words reads what
was said; PII redaction comes last and changes only `text`, `words` and `utterances` (and what is derived from
them)."""

from __future__ import annotations

import numpy as np

from server.intelligence import FEATURES, enrich
from server.intelligence.document import Document
from server.text.types import Word
from server.transcript_request import TranscriptRequest

SAID = (
    "Hello, my name is Robert Johnson and I live in Seattle. Robert Johnson loves the rain in Seattle. "
    "The weather in Seattle is wonderful and Robert Johnson walks by the lake every morning. "
    "Robert Johnson thinks Seattle is the best city for coffee."
)


def _words(text: str) -> list[Word]:
    return [
        {"text": t, "start": i * 400, "end": i * 400 + 300, "confidence": 0.9, "speaker": None}
        for i, t in enumerate(text.split())
    ]


def _doc() -> Document:
    words = _words(SAID)
    params = TranscriptRequest(**{
        "redact_pii": True,
        "redact_pii_policies": ["person_name", "location"],
        "redact_pii_sub": "entity_name",
        "entity_detection": True,
        "summarization": True,
        "summary_model": "informative",
        "summary_type": "paragraph",
        "auto_highlights": True,
        "sentiment_analysis": True,
        "auto_chapters": True,
        "content_safety_confidence": 50,
    })
    return Document(
        words=words, text=SAID, samples=np.zeros(16000, np.float32), request=params, language_code="en_us"
    )


def test_redaction_is_the_last_feature() -> None:
    assert FEATURES[-1] == ("redact_pii", "pii")
    assert FEATURES[0] == ("speaker_labels", "diarization")


def test_results_keep_what_was_said_while_text_words_are_redacted() -> None:
    out = enrich(_doc())
    # what the API redacts
    assert "Robert" not in out["text"] and "Seattle" not in out["text"]
    assert "[PERSON_NAME]" in out["text"] and "[LOCATION]" in out["text"]
    assert not any(w["text"].startswith(("Robert", "Johnson", "Seattle")) for w in out["words"])
    # what it does not
    found = {(e["entity_type"], e["text"]) for e in out["entities"]}
    assert ("person_name", "Robert Johnson") in found and ("location", "Seattle") in found
    assert "Seattle" in out["summary"] or "Robert Johnson" in out["summary"]
    highlights = " ".join(r["text"] for r in out["auto_highlights_result"]["results"])
    assert "Robert Johnson" in highlights or "Seattle" in highlights
    assert any("Seattle" in s["text"] for s in out["sentiment_analysis_results"])
    chapter_text = " ".join(c["summary"] + " " + c["headline"] for c in out["chapters"])
    assert "Seattle" in chapter_text or "Robert" in chapter_text
