"""Audio intelligence: one module per API option, each run only when the request asks for it.

`enrich` is the only entry point the job pipeline uses. Each feature module exposes
`run(doc: Document) -> dict[str, Any]`, returning the `Transcript` keys it fills; heavy models are
imported inside the module's functions so a plain transcription never loads them.
"""

from __future__ import annotations

import importlib
from typing import Any

from server.intelligence.document import Document

# (request flag, module) in the order they must run: speakers first (later features read `speaker`);
# every feature that reads the words reads what was said; PII redaction last, applied only to what the API
# says it redacts: `text`, `words`, `utterances` and what is derived from them
# (docs/compatibility.md#transcript-object, #intelligence).
FEATURES: tuple[tuple[str, str], ...] = (
    ("speaker_labels", "diarization"),
    ("auto_highlights", "highlights"),
    ("entity_detection", "entities"),
    ("sentiment_analysis", "sentiment"),
    ("summarization", "summary"),
    ("auto_chapters", "chapters"),
    ("iab_categories", "topics"),
    ("content_safety", "content_safety"),
    ("redact_pii", "pii"),
)


def enrich(doc: Document) -> dict[str, Any]:
    """Run the requested features in order; returns the Transcript keys they set."""
    out: dict[str, Any] = {}
    for flag, module in FEATURES:
        if getattr(doc.request, flag):
            if module == "pii" and doc.utterances is not None:
                doc.said_utterances = [dict(u) for u in doc.utterances]  # speaker identification
            feature = importlib.import_module(f"server.intelligence.{module}")
            out.update(feature.run(doc))
    understood: dict[str, Any] = {}
    if doc.request.understanding_request:
        from server.intelligence import understanding

        # after redaction: docs/compatibility.md#speech-understanding, module docstring
        understood = understanding.run(doc, out)
    out["text"] = doc.text
    out["words"] = doc.words
    if doc.utterances is not None:
        out["utterances"] = doc.utterances
    out.update(understood)  # custom formatting rewrites `text` only (words and utterances unchanged)
    return out
