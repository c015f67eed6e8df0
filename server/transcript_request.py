"""One validated `POST /v2/transcript` request, typed and frozen: what the job, the text options and the
intelligence features read (by attribute), and what the transcript row stores (as JSON).

Built at the end of validation (server/services/transcript_params.py, whose table says what each parameter
may hold); the defaults of absent parameters live here and nowhere else. Rows stored before this type
existed load too: a missing key takes its default, an unknown one is ignored.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any

BASE_URL_KEY = "_base_url"  # stored under this key (never echoed): the server as the client reached it


@dataclass(frozen=True)
class TranscriptRequest:
    audio_url: str = ""  # always given; a default only so that any stored row loads
    speech_model: str | None = None  # any non-null value is refused as deprecated
    speech_models: list[str] | None = None  # the effective priority list once validated
    language_code: str | None = None  # None while detection decides
    language_codes: list[str] | None = None
    language_detection: bool = False
    language_confidence_threshold: float | None = None
    language_detection_options: dict[str, Any] | None = None
    punctuate: bool = True
    format_text: bool = True
    disfluencies: bool = False
    filter_profanity: bool = False
    custom_spelling: list[dict[str, Any]] | None = None
    multichannel: bool = False
    dual_channel: bool | None = None
    speaker_labels: bool = False
    speakers_expected: int | None = None
    speaker_options: dict[str, Any] | None = None
    audio_start_from: int | None = None
    audio_end_at: int | None = None
    keyterms_prompt: list[str] | None = None
    keyterms_prompt_options: dict[str, Any] | None = None
    prompt: str | None = None
    temperature: float | None = None
    remove_audio_tags: str | None = None
    word_boost: list[str] = field(default_factory=list)
    boost_param: str | None = None
    domain: str | None = None
    auto_highlights: bool = False
    content_safety: bool = False
    content_safety_confidence: int = 50  # never echoed; the worker needs a concrete threshold
    iab_categories: bool = False
    custom_topics: bool = False
    topics: list[str] = field(default_factory=list)
    sentiment_analysis: bool = False
    entity_detection: bool = False
    auto_chapters: bool = False
    summarization: bool = False
    summary_model: str | None = None
    summary_type: str | None = None
    redact_pii: bool = False
    redact_pii_policies: list[str] | None = None
    redact_pii_sub: str | None = None
    redact_pii_audio: bool = False
    redact_pii_audio_quality: str | None = None
    redact_pii_audio_options: dict[str, Any] | None = None
    redact_pii_return_unredacted: bool = False
    speech_threshold: float | None = None
    speech_understanding: dict[str, Any] | None = None
    webhook_url: str | None = None
    webhook_auth_header_name: str | None = None
    webhook_auth_header_value: str | None = None  # a secret: never echoed
    speed_boost: bool = False
    webhook_auth: bool = False  # derived: a webhook auth header was given
    base_url: str | None = None  # ours, never echoed: for the `redacted_audio_ready` webhook's URL

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TranscriptRequest:
        """A stored row's parameters (old rows included: missing keys take their defaults)."""
        known = {f.name for f in fields(cls)} - {"base_url"}
        values = {name: value for name, value in data.items() if name in known}
        return cls(**values, base_url=data.get(BASE_URL_KEY))

    def to_json(self) -> dict[str, Any]:
        """What the row stores: every parameter by its API name, the base URL under its own key."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "base_url"}
        if self.base_url is not None:
            out[BASE_URL_KEY] = self.base_url
        return out

    @property
    def translation(self) -> dict[str, Any] | None:
        """The speech-understanding translation task, if one was asked for."""
        return self.understanding_request.get("translation")

    @property
    def understanding_request(self) -> dict[str, Any]:
        return (self.speech_understanding or {}).get("request") or {}


def default_of(name: str) -> Any:
    """The default of one parameter (a fresh list where the default is a list)."""
    spec = TranscriptRequest.__dataclass_fields__[name]
    return spec.default_factory() if spec.default_factory is not MISSING else spec.default
