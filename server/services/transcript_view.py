"""How a stored transcript row looks to a client: the API's Transcript and TranscriptListItem objects."""

from __future__ import annotations

from typing import Any

from server.clock import iso
from server.db.models import Transcript, TranscriptStatus
from server.services.transcript_params import echo_fields

# Every property of OA `#/components/schemas/Transcript` (additionalProperties: false), in spec order.
TRANSCRIPT_KEYS: tuple[str, ...] = (
    "audio_channels",
    "audio_duration",
    "audio_end_at",
    "audio_start_from",
    "audio_url",
    "auto_chapters",
    "auto_highlights",
    "auto_highlights_result",
    "chapters",
    "confidence",
    "content_safety",
    "content_safety_labels",
    "custom_spelling",
    "disfluencies",
    "entities",
    "entity_detection",
    "error",
    "filter_profanity",
    "format_text",
    "iab_categories",
    "iab_categories_result",
    "id",
    "keyterms_prompt",
    "language_code",
    "language_codes",
    "language_confidence",
    "language_confidence_threshold",
    "language_detection",
    "language_detection_options",
    "multichannel",
    "prompt",
    "punctuate",
    "redact_pii",
    "redact_pii_audio",
    "redact_pii_audio_options",
    "redact_pii_audio_quality",
    "redact_pii_policies",
    "redact_pii_sub",
    "sentiment_analysis",
    "sentiment_analysis_results",
    "speaker_labels",
    "speakers_expected",
    "speech_model_used",
    "speech_models",
    "speech_threshold",
    "speech_understanding",
    "status",
    "summarization",
    "summary",
    "summary_model",
    "summary_type",
    "remove_audio_tags",
    "temperature",
    "text",
    "throttled",
    "utterances",
    "webhook_auth",
    "webhook_auth_header_name",
    "webhook_status_code",
    "webhook_url",
    "words",
    "acoustic_model",
    "custom_topics",
    "language_model",
    "speech_model",
    "speed_boost",
    "topics",
    "translated_texts",
)
# Keys the spec does not let be null: present only when they carry something (`error` only on error,
# `audio_channels` only with multichannel, `language_code` only once known, …).
_OMIT_WHEN_NONE = frozenset(
    {
        "audio_channels",
        "error",
        "keyterms_prompt",
        "language_code",
        "language_detection_options",
        "prompt",
        "redact_pii_audio_options",
        "redact_pii_sub",
        "speech_model_used",
        "speech_understanding",
        "topics",
        "translated_texts",
    }
)
_DELETED_FALSE = (
    "auto_highlights",
    "redact_pii",
    "webhook_auth",
    "summarization",
    "multichannel",
    "language_detection",
    "sentiment_analysis",
    "entity_detection",
)
DELETED_URL = "http://deleted_by_user"


def render_transcript(t: Transcript) -> dict[str, Any]:
    """The full Transcript object: every documented key, null where not requested or not yet known."""
    if t.deleted_at is not None:
        return _render_deleted(t)
    out: dict[str, Any] = dict.fromkeys(TRANSCRIPT_KEYS)
    out.update(echo_fields(t.params))
    out.update(
        id=t.id,
        status=t.status,
        audio_url=t.audio_url,
        throttled=t.throttled,
        speech_model=None,
        language_model="assemblyai_default",
        acoustic_model="assemblyai_default",
        webhook_auth=bool(t.params.get("webhook_auth_header_name")),
        webhook_status_code=t.webhook_status_code,
        audio_duration=t.audio_duration,
    )
    if t.params.get("language_detection"):
        out["language_code"] = None  # CHOICE docs/compatibility.md#status: unknown until detected
    if t.status == TranscriptStatus.COMPLETED and t.result:
        out.update({k: v for k, v in t.result.items() if k in TRANSCRIPT_KEYS})
    if t.status == TranscriptStatus.ERROR:
        out["error"] = t.error or ""
    return _drop_unset(out)


def _drop_unset(out: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in out.items() if v is not None or k not in _OMIT_WHEN_NONE}


def _render_deleted(t: Transcript) -> dict[str, Any]:
    """docs/compatibility.md#delete: the deleted form keeps id, status, duration and a few echoes; the rest is
    gone."""
    out: dict[str, Any] = dict.fromkeys(TRANSCRIPT_KEYS)
    out.update(dict.fromkeys(_DELETED_FALSE, False))
    out.update(
        id=t.id,
        status=t.status,
        audio_duration=t.audio_duration,
        text="Deleted by user.",
        audio_url=DELETED_URL,
        webhook_url=DELETED_URL,
        language_model="assemblyai_default",
        acoustic_model="assemblyai_default",
        disfluencies=t.params.get("disfluencies", False),
    )
    if t.status == TranscriptStatus.ERROR:
        out["error"] = t.error or ""
    return _drop_unset(out)


def render_list_item(t: Transcript, base_url: str) -> dict[str, Any]:
    return {
        "id": t.id,
        "resource_url": f"{base_url}/v2/transcript/{t.id}",
        "status": t.status,
        "created": iso(t.created_at),
        "completed": iso(t.completed_at),
        "audio_url": DELETED_URL if t.deleted_at else t.audio_url,
        "error": t.error if t.status == TranscriptStatus.ERROR else None,
    }
