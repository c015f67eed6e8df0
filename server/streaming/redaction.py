"""PII redaction of a stream's finished turns (docs/compatibility.md#v3-query), with the async path's
recognisers.

Only finals are redacted (partials, when a client asks for them with `include_partial_turns`, are sent as
heard); the words keep their times, `hash` turns each letter and digit into `#`, `entity_name` makes an
entity one word `[PERSON_NAME]` spanning its words.
"""

from __future__ import annotations

from server.engine.recognizer import StreamWord
from server.intelligence import pii
from server.text.formatting import join_text
from server.text.types import Word

ALL_POLICIES = tuple(pii.POLICY_SOURCES)  # `redact_pii_policies` absent: every policy served here
SUBSTITUTIONS = ("hash", "entity_name")


def redact(words: list[StreamWord], policies: list[str], sub: str, language: str | None) -> list[StreamWord]:
    """The turn's words with the requested PII replaced; runs off the event loop (NER)."""
    plain: list[Word] = [
        {"text": w.text, "start": w.start, "end": w.end, "confidence": w.confidence, "speaker": None}
        for w in words
    ]
    english = (language or "en").startswith("en")
    entities = pii.detect(join_text(plain), policies or list(ALL_POLICIES), english)
    if not entities:
        return words
    redacted, _ = pii.redact_words(plain, entities, sub)
    return [StreamWord(w["text"], w["start"], w["end"], w["confidence"]) for w in redacted]


def warm() -> None:
    """Load the NER ahead of the first turn."""
    pii.detect("My name is John Smith.", ["person_name"])
