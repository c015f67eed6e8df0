"""Speech understanding (`speech_understanding.request`, docs/compatibility.md#speech-understanding): runs
each requested task after the audio-intelligence features and PII redaction, and answers
`speech_understanding.response` with a `status` for every task (the Python SDK requires one).

Order inside: speaker identification reads the unredacted utterances (names are PII) and renames every
speaker; translation then reads the audio (and is redacted when `redact_pii` is on); custom formatting
last rewrites `text`, which is already redacted, so a redacted phone number stays redacted. Tasks this
server does not implement (`summarization`, `action_items` of the newer SDKs) answer
`{"status": "unavailable", "reason": …}`; unknown keys are ignored.
"""

from __future__ import annotations

from typing import Any

from server.intelligence import speaker_identification, translation
from server.intelligence.document import Document
from server.text import custom_formatting

NOT_IMPLEMENTED = ("summarization", "action_items")


def _custom_formatting(doc: Document, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    done = custom_formatting.apply(doc.text, request)
    response: dict[str, Any] = {"status": "success", "formatted_text": done.text, "mapping": done.mapping}
    if request.get("format_utterances"):
        formatted = []
        for u in doc.utterances or []:
            part = custom_formatting.apply(u["text"], request)
            formatted.append({**u, "text": part.text})
            response["mapping"].update(part.mapping)
        response["formatted_utterances"] = formatted
    return response, {"text": done.text}


def run(doc: Document, results: dict[str, Any]) -> dict[str, Any]:
    """The Transcript keys speech understanding sets; renames speakers in `doc` and `results` in place."""
    request = doc.request.understanding_request
    response: dict[str, Any] = {}
    keys: dict[str, Any] = {}
    if request.get("speaker_identification") is not None:
        response["speaker_identification"] = speaker_identification.run(
            doc, results, request["speaker_identification"] or {}
        )
    if request.get("translation") is not None:
        response["translation"], more = translation.run(doc, request["translation"] or {})
        keys.update(more)
    if request.get("custom_formatting") is not None:
        response["custom_formatting"], more = _custom_formatting(doc, request["custom_formatting"] or {})
        keys.update(more)
    for task in NOT_IMPLEMENTED:
        if request.get(task) is not None:
            response[task] = {"status": "unavailable", "reason": f"{task} is not implemented by LocalScribe"}
    echo = doc.request.speech_understanding or {}
    return {"speech_understanding": {**echo, "response": response}, **keys}
