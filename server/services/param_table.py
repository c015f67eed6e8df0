"""What every `POST /v2/transcript` parameter may hold: one table, copied from the OpenAPI spec.

Tests compare it with `TranscriptOptionalParams`, the enums and the `Transcript` schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# --- enums, copied from the OpenAPI spec in spec order (tests compare them) -------------------------------
PII_POLICIES: tuple[str, ...] = (
    "account_number", "banking_information", "blood_type", "credit_card_cvv", "credit_card_expiration",
    "credit_card_number", "date", "date_interval", "date_of_birth", "drivers_license", "drug", "duration",
    "email_address", "event", "filename", "gender_sexuality", "healthcare_number", "injury", "ip_address",
    "language", "location", "marital_status", "medical_condition", "medical_process", "money_amount",
    "nationality", "number_sequence", "occupation", "organization", "passport_number", "password",
    "person_age", "person_name", "phone_number", "physical_attribute", "political_affiliation", "religion",
    "statistics", "time", "url", "us_social_security_number", "username", "vehicle_id", "zodiac_sign",
)  # fmt: skip
SUMMARY_MODELS: tuple[str, ...] = ("informative", "conversational", "catchy")
SUMMARY_TYPES: tuple[str, ...] = ("bullets", "bullets_verbose", "gist", "headline", "paragraph")
# Which summary types each model supports (docs/compatibility.md#option-rules, docs "Summary models" table).
SUMMARY_PAIRS: dict[str, frozenset[str]] = {
    "informative": frozenset({"bullets", "bullets_verbose", "headline", "paragraph"}),
    "conversational": frozenset({"bullets", "bullets_verbose", "headline", "paragraph"}),
    "catchy": frozenset({"headline", "gist"}),
}

# kind -> the type name in `<param> must be a <Type>`.
TYPE_NAMES: dict[str, str] = {
    "bool": "Boolean",
    "int": "Integer",
    "number": "Number",
    "string": "String",
    "text": "String",  # a string stored outside JSON: no NUL
    "url": "String",
    "enum": "String",
    "language": "String",
    "list": "List",
    "object": "Object",
}


@dataclass(frozen=True)
class Param:
    """What one parameter may hold.

    kind: bool | int | number | string | text | url | enum | language | list | object.
    default: inside an object, the value used when the field is absent (copied, so lists are safe); the
    top-level parameters' defaults are `TranscriptRequest`'s.
    open: an object that keeps keys it does not know (speech_understanding is echoed as sent); closed objects
    drop them, like the top level does (docs/compatibility.md#transcript-params CHOICE).
    """

    kind: str
    nullable: bool = False
    minimum: int | float | None = None
    maximum: int | float | None = None
    values: tuple[str, ...] = ()
    items: Param | None = None
    fields: Mapping[str, Param] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    open: bool = False
    default: Any = None


_BOOL_FALSE = Param("bool", default=False)
_BOOL_TRUE = Param("bool", default=True)
_STRINGS = Param("list", items=Param("string"))
_FRACTION = Param("number", minimum=0, maximum=1)

_SPEECH_UNDERSTANDING_REQUEST = Param(
    "object",
    open=True,
    fields={
        "translation": Param(
            "object",
            open=True,
            required=("target_languages",),
            fields={
                "target_languages": _STRINGS,
                "formal": Param("bool"),
                "match_original_utterance": Param("bool"),
            },
        ),
        "speaker_identification": Param(
            "object",
            open=True,
            required=("speaker_type",),
            fields={
                "speaker_type": Param("enum", values=("role", "name")),
                "known_values": _STRINGS,
                "speakers": Param(
                    "list",
                    items=Param(
                        "object",
                        open=True,  # "any additional custom properties (e.g. company, title)" [OA]
                        fields={k: Param("string") for k in ("role", "name", "description")},
                    ),
                ),
            },
        ),
        "custom_formatting": Param(
            "object",
            open=True,
            fields={"date": Param("string"), "phone_number": Param("string"), "email": Param("string")},
        ),
    },
)

# Every request parameter: OpenAPI TranscriptParams + TranscriptOptionalParams, plus the keys SDKs send that
# the spec lacks (docs/compatibility.md#transcript-params). Table order is validation order. The defaults of
# absent parameters live in `server/transcript_request.py` `TranscriptRequest`; a `default` here only fills
# a field inside an object that was sent.
PARAMS: dict[str, Param] = {
    "audio_url": Param("string"),  # checked first, with its own message
    "speech_model": Param("string", nullable=True),  # any non-null value is rejected as deprecated
    "speech_models": _STRINGS,
    "language_code": Param("language", nullable=True),
    "language_codes": Param("list", nullable=True, items=Param("language")),
    "language_detection": _BOOL_FALSE,
    "language_confidence_threshold": _FRACTION,
    "language_detection_options": Param(
        "object",
        fields={
            "expected_languages": Param("list", items=Param("string"), default=["all"]),
            "fallback_language": Param("string", default="auto"),
            "code_switching": _BOOL_FALSE,
            "code_switching_confidence_threshold": Param("number", minimum=0, maximum=1, default=0.3),
        },
    ),
    "punctuate": _BOOL_TRUE,
    "format_text": _BOOL_TRUE,
    "disfluencies": _BOOL_FALSE,
    "filter_profanity": _BOOL_FALSE,
    "multichannel": _BOOL_FALSE,
    "dual_channel": Param("bool"),  # legacy alias of multichannel
    "speaker_labels": _BOOL_FALSE,
    "speakers_expected": Param("int", nullable=True, minimum=1),
    "speaker_options": Param(
        "object",
        fields={
            "min_speakers_expected": Param("int", minimum=1, default=1),
            "max_speakers_expected": Param("int", minimum=1),
        },
    ),
    "audio_start_from": Param("int", minimum=0),
    "audio_end_at": Param("int", minimum=0),
    "custom_spelling": Param(
        "list",
        items=Param("object", required=("from", "to"), fields={"from": _STRINGS, "to": Param("string")}),
    ),
    "keyterms_prompt": _STRINGS,
    "keyterms_prompt_options": Param(
        "object", fields={"keyterms_match_strength": Param("enum", values=("high", "standard"))}
    ),
    "prompt": Param("string"),
    "temperature": _FRACTION,
    "remove_audio_tags": Param("enum", nullable=True, values=("all",)),
    "word_boost": Param("list", items=Param("string")),
    "boost_param": Param("enum", values=("low", "default", "high")),
    "domain": Param("string"),
    "auto_highlights": _BOOL_FALSE,
    "content_safety": _BOOL_FALSE,
    "content_safety_confidence": Param("int", minimum=25, maximum=100),
    "iab_categories": _BOOL_FALSE,
    "sentiment_analysis": _BOOL_FALSE,
    "entity_detection": _BOOL_FALSE,
    "auto_chapters": _BOOL_FALSE,
    "summarization": _BOOL_FALSE,
    # The spec's own examples send `summary_model: null, summary_type: null`, so null means "not given".
    "summary_model": Param("enum", nullable=True, values=SUMMARY_MODELS),
    "summary_type": Param("enum", nullable=True, values=SUMMARY_TYPES),
    "redact_pii": _BOOL_FALSE,
    "redact_pii_policies": Param("list", items=Param("enum", values=PII_POLICIES)),
    "redact_pii_sub": Param("enum", nullable=True, values=("entity_name", "hash")),
    "redact_pii_audio": _BOOL_FALSE,
    "redact_pii_audio_quality": Param("enum", values=("mp3", "wav")),
    "redact_pii_audio_options": Param(
        "object",
        fields={
            "return_redacted_no_speech_audio": _BOOL_FALSE,
            "override_audio_redaction_method": Param("enum", values=("silence",)),
        },
    ),
    "redact_pii_return_unredacted": _BOOL_FALSE,
    "speech_threshold": Param("number", nullable=True, minimum=0, maximum=1),
    "speech_understanding": Param(
        "object", open=True, required=("request",), fields={"request": _SPEECH_UNDERSTANDING_REQUEST}
    ),
    "webhook_url": Param("url"),
    "webhook_auth_header_name": Param("text", nullable=True),
    "webhook_auth_header_value": Param("text", nullable=True),
    "custom_topics": _BOOL_FALSE,
    "topics": Param("list", items=Param("string")),
    "speed_boost": _BOOL_FALSE,
}

# (parameter, switch, value): defaults that only make sense once the switch is on, as the API fills them.
CONDITIONAL_DEFAULTS: tuple[tuple[str, str, str], ...] = (
    ("summary_model", "summarization", "informative"),
    ("summary_type", "summarization", "bullets"),
    ("redact_pii_sub", "redact_pii", "hash"),
    ("redact_pii_audio_quality", "redact_pii_audio", "mp3"),
    ("boost_param", "word_boost", "default"),
)

# Transcript properties that echo the request -> nullable in OpenAPI `Transcript`. A None value of a
# non-nullable one is left out of the echo rather than written as null. `language_code` is null while
# detection is pending (docs/compatibility.md#status CHOICE) although the schema does not say nullable.
ECHO_FIELDS: dict[str, bool] = {
    "audio_url": False,
    "speech_model": True,
    "speech_models": True,
    "language_code": True,
    "language_codes": True,
    "language_detection": True,
    "language_confidence_threshold": True,
    "language_detection_options": False,
    "punctuate": True,
    "format_text": True,
    "disfluencies": True,
    "filter_profanity": True,
    "multichannel": True,
    "speaker_labels": True,
    "speakers_expected": True,
    "audio_start_from": True,
    "audio_end_at": True,
    "custom_spelling": True,
    "keyterms_prompt": False,
    "prompt": False,
    "temperature": True,
    "remove_audio_tags": True,
    "auto_highlights": False,
    "content_safety": True,
    "iab_categories": True,
    "sentiment_analysis": True,
    "entity_detection": True,
    "auto_chapters": True,
    "summarization": False,
    "summary_model": True,
    "summary_type": True,
    "redact_pii": False,
    "redact_pii_policies": True,
    "redact_pii_sub": False,
    "redact_pii_audio": True,
    "redact_pii_audio_quality": True,
    "redact_pii_audio_options": False,
    "speech_threshold": True,
    "speech_understanding": False,
    "webhook_url": True,
    "webhook_auth": False,
    "webhook_auth_header_name": True,
    "custom_topics": True,
    "topics": False,
    "speed_boost": True,
}
