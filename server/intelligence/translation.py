"""Translation (`speech_understanding.request.translation`, docs/compatibility.md#speech-understanding).

The one offline translator installed is the speech engine itself: faster-whisper's `task="translate"` with
a multilingual model (`base`) turns speech in any language it knows into English text. So a target of
English (`en`, `en_us`, …) is translated from the audio; a target in the transcript's own language is the
transcript's text (nothing to translate; `force_translation` changes nothing there since no engine can
re-say it); every other target is not served, and the response says which and why instead of returning an
empty text. `doc.translate` (set by the job pipeline, which owns the engine) is None when no installed
model can translate. Status: `success` when every target was served, `partial` when some were (their texts
are in `translated_texts`), `unavailable` when none; `reason` names what was not served.
With `match_original_utterance` each utterance's own audio is translated into its `translated_texts`.
With `redact_pii` the translated texts are redacted too (docs/compatibility.md#transcript-object CHOICE),
English NER and patterns.
"""

from __future__ import annotations

from typing import Any

from server.intelligence.document import Document
from server.media.span import part
from server.transcript_request import TranscriptRequest

ENGINE_TARGET = "en"  # whisper translates into English only


def _base(code: str) -> str:
    return code.split("_")[0].split("-")[0].lower()


def _redact(text: str, request: TranscriptRequest) -> str:
    from server.intelligence import pii

    entities = pii.detect(text, list(request.redact_pii_policies or []), english=True)
    hashing = (request.redact_pii_sub or "hash") == "hash"
    for e in sorted(entities, key=lambda e: e.start, reverse=True):
        span = text[e.start : e.end]
        new = "".join("#" if c.isalnum() else c for c in span) if hashing else f"[{e.policy.upper()}]"
        text = text[: e.start] + new + text[e.end :]
    return text


def run(doc: Document, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the task's response, the Transcript keys it sets)."""
    source = _base(doc.language_code)
    served: dict[str, str] = {}
    missing: list[str] = []
    for target in request.get("target_languages") or []:
        base = _base(target)
        if base == source:
            served[target] = "same"
        elif base == ENGINE_TARGET and doc.translate is not None:
            served[target] = "engine"
        else:
            missing.append(target)
    reasons = []
    if missing:
        why = (
            "no installed model translates (the English-only model was used and no multilingual one is "
            "installed)"
            if doc.translate is None
            else "the installed engine (faster-whisper) translates only into English"
        )
        reasons.append(f"not translated into {', '.join(missing)}: {why}")
    if not served:
        return {"status": "unavailable", "reason": "; ".join(reasons)}, {}

    def say(target: str, samples_text: tuple[Any, str]) -> str:
        samples, text = samples_text
        out = text if served[target] == "same" else doc.translate(samples)  # type: ignore[misc]
        return _redact(out, doc.request) if doc.request.redact_pii and out else out

    whole = (doc.samples, doc.text)
    keys: dict[str, Any] = {"translated_texts": {t: say(t, whole) for t in served}}
    if request.get("match_original_utterance") and doc.utterances:
        offset = doc.samples_offset_ms
        for u in doc.utterances:
            spoken = part(doc.samples, u["start"] - offset, u["end"] - offset)
            u["translated_texts"] = {t: say(t, (spoken, u["text"])) for t in served}
    elif request.get("match_original_utterance"):
        reasons.append("match_original_utterance needs speaker_labels: true")
    response: dict[str, Any] = {"status": "partial" if missing else "success"}
    if reasons:
        response["reason"] = "; ".join(reasons)
    return response, keys
