"""Validation of `POST /v2/transcript` bodies and `GET /v2/transcript` queries.

CONTRACT §2.2, §2.4, §4.1, §4.2.

One table (`PARAMS`) says what every request parameter may hold; a generic checker walks it, then a short list
of cross-field rules and the per-language check run on the normalised values. Every message comes from
`server.errors`, so the wording stays uniform (CONTRACT §4.1 CHOICE).
"""

from __future__ import annotations

import copy
import math
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from server import errors
from server.errors import MUST_BE_AT_LEAST, MUST_BE_URL, ApiError
from server.languages import is_known_language, normalize_language_code, unavailable_addons

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
# Which summary types each model supports (CONTRACT §4.2, docs "Summary models" table).
SUMMARY_PAIRS: dict[str, frozenset[str]] = {
    "informative": frozenset({"bullets", "bullets_verbose", "headline", "paragraph"}),
    "conversational": frozenset({"bullets", "bullets_verbose", "headline", "paragraph"}),
    "catchy": frozenset({"headline", "gist"}),
}
TRANSCRIPT_STATUSES: tuple[str, ...] = ("queued", "processing", "completed", "error")

# kind -> the type name in `<param> must be a <Type>`.
_TYPE_NAMES: dict[str, str] = {
    "bool": "Boolean",
    "int": "Integer",
    "number": "Number",
    "string": "String",
    "url": "String",
    "enum": "String",
    "language": "String",
    "list": "List",
    "object": "Object",
}


@dataclass(frozen=True)
class Param:
    """What one parameter may hold.

    kind: bool | int | number | string | url | enum | language | list | object.
    default: the value used when the key is absent (copied, so lists are safe); None means "echo null".
    open: an object that keeps keys it does not know (speech_understanding is echoed as sent); closed objects
    drop them, like the top level does (CONTRACT §2.2 CHOICE).
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
                "speakers": Param("list", items=Param("object", open=True)),
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
# the spec lacks (CONTRACT §2.2). Table order is validation order. Defaults follow the real `queued` echo
# [GO testdata/transcript/queued.json]: switches get their spec default, optional values stay null unless the
# worker needs a concrete value that is never echoed (content_safety_confidence).
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
    "word_boost": Param("list", items=Param("string"), default=[]),
    "boost_param": Param("enum", values=("low", "default", "high")),
    "domain": Param("string"),
    "auto_highlights": _BOOL_FALSE,
    "content_safety": _BOOL_FALSE,
    "content_safety_confidence": Param("int", minimum=25, maximum=100, default=50),
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
    "webhook_auth_header_name": Param("string", nullable=True),
    "webhook_auth_header_value": Param("string", nullable=True),
    "custom_topics": _BOOL_FALSE,
    "topics": Param("list", items=Param("string"), default=[]),
    "speed_boost": _BOOL_FALSE,
}

# (parameter, switch, value): defaults that only make sense once the switch is on, as the API fills them.
_CONDITIONAL_DEFAULTS: tuple[tuple[str, str, str], ...] = (
    ("summary_model", "summarization", "informative"),
    ("summary_type", "summarization", "bullets"),
    ("redact_pii_sub", "redact_pii", "hash"),
    ("redact_pii_audio_quality", "redact_pii_audio", "mp3"),
    ("boost_param", "word_boost", "default"),
)

# Transcript properties that echo the request -> nullable in OpenAPI `Transcript`. A None value of a
# non-nullable one is left out of the echo rather than written as null. `language_code` is null while
# detection is pending (CONTRACT §3 CHOICE) although the schema does not say nullable.
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


# --- generic checker --------------------------------------------------------------------------------------
def _bad(message: str) -> ApiError:
    return ApiError(400, message)


def _type_error(path: str, spec: Param) -> ApiError:
    return _bad(errors.must_be_type(path, _TYPE_NAMES[spec.kind]))


def _fmt(bound: float) -> str:
    """`0` not `0.0`: the bound as a person would write it."""
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _check_range(path: str, spec: Param, value: float) -> None:
    low, high = spec.minimum, spec.maximum
    if (low is None or value >= low) and (high is None or value <= high):
        return
    if high is not None:  # every bounded parameter has a minimum; only some have a maximum
        raise _bad(errors.MUST_BE_BETWEEN.format(param=path, min=_fmt(low or 0), max=_fmt(high)))
    raise _bad(MUST_BE_AT_LEAST.format(param=path, min=_fmt(low or 0)))


def _is_number(value: object) -> bool:
    """JSON numbers only: bool is an int subclass in Python, and NaN/Infinity are not JSON."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _check_int(path: str, spec: Param, value: object) -> int:
    # 5.0 is accepted as 5: JSON Schema's "integer" is any number with a zero fractional part.
    if isinstance(value, float) and _is_number(value) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _type_error(path, spec)
    _check_range(path, spec, value)
    return value


def _check_number(path: str, spec: Param, value: object) -> float:
    if not _is_number(value):
        raise _type_error(path, spec)
    _check_range(path, spec, value)  # type: ignore[arg-type]
    return value  # type: ignore[return-value]


def _check_string(path: str, spec: Param, value: object) -> str:
    if not isinstance(value, str):
        raise _type_error(path, spec)
    return value


def _check_url(path: str, spec: Param, value: object) -> str:
    text = _check_string(path, spec, value)
    if not _is_http_url(text):
        raise _bad(MUST_BE_URL.format(param=path))
    return text


def _check_enum(path: str, spec: Param, value: object) -> str:
    text = _check_string(path, spec, value)
    if text not in spec.values:
        raise _bad(errors.MUST_BE_ONE_OF.format(param=path, values=", ".join(spec.values)))
    return text


def _check_language(path: str, spec: Param, value: object) -> str:
    text = _check_string(path, spec, value)
    if not is_known_language(text):
        raise _bad(errors.INVALID_LANGUAGE_CODE.format(code=text))
    return normalize_language_code(text)


def _check_list(path: str, spec: Param, value: object) -> list[Any]:
    if not isinstance(value, list):
        raise _type_error(path, spec)
    assert spec.items is not None
    return [_check(f"{path}[{i}]", spec.items, item) for i, item in enumerate(value)]


def _check_object(path: str, spec: Param, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _type_error(path, spec)
    result: dict[str, Any] = {}
    if spec.open:  # echoed as sent
        result.update(copy.deepcopy({k: v for k, v in value.items() if k not in spec.fields}))
    for name, sub in spec.fields.items():
        sub_path = f"{path}.{name}"
        if name in value:
            result[name] = _check(sub_path, sub, value[name])
        elif name in spec.required:
            raise _type_error(sub_path, sub)  # absent is not a <Type> either
        elif sub.default is not None:
            result[name] = copy.deepcopy(sub.default)
    return result


def _check_bool(path: str, spec: Param, value: object) -> bool:
    if not isinstance(value, bool):  # JSON true/false only: not 0/1, not "true"
        raise _type_error(path, spec)
    return value


_CHECKERS: dict[str, Callable[[str, Param, object], Any]] = {
    "bool": _check_bool,
    "int": _check_int,
    "number": _check_number,
    "string": _check_string,
    "url": _check_url,
    "enum": _check_enum,
    "language": _check_language,
    "list": _check_list,
    "object": _check_object,
}


def _check(path: str, spec: Param, value: object) -> Any:
    """Validate one value against its table entry and return it normalised."""
    if value is None:
        if spec.nullable:
            return None
        raise _type_error(path, spec)
    return _CHECKERS[spec.kind](path, spec, value)


def _is_http_url(text: str) -> bool:
    try:
        parts = urlsplit(text.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


# --- cross-field rules (CONTRACT §4.2), each returns the error message or None ----------------------------
def _rule_one_of_chapters_summary(p: dict[str, Any]) -> str | None:
    return errors.ONLY_ONE_OF if p["auto_chapters"] and p["summarization"] else None


def _rule_prompt_and_keyterms(p: dict[str, Any]) -> str | None:
    return errors.PROMPT_AND_KEYTERMS if p["prompt"] and p["keyterms_prompt"] else None


def _rule_summary_together(p: dict[str, Any]) -> str | None:
    return errors.SUMMARY_TOGETHER if (p["summary_model"] is None) != (p["summary_type"] is None) else None


def _rule_summary_pair(p: dict[str, Any]) -> str | None:
    model, kind = p["summary_model"], p["summary_type"]
    if model is not None and kind is not None and kind not in SUMMARY_PAIRS[model]:
        return errors.SUMMARY_PAIR.format(type=kind, model=model)
    return None


def _rule_summary_needs_format(p: dict[str, Any]) -> str | None:
    if p["punctuate"] and p["format_text"]:
        return None
    feature = next((f for f in ("summarization", "auto_chapters") if p[f]), None)
    return errors.SUMMARY_NEEDS_FORMAT.format(feature=feature) if feature else None


def _rule_pii_needs_policy(p: dict[str, Any]) -> str | None:
    return errors.PII_NEEDS_POLICY if p["redact_pii"] and not p["redact_pii_policies"] else None


def _rule_pii_audio_needs_pii(p: dict[str, Any]) -> str | None:
    return errors.PII_AUDIO_NEEDS_PII if p["redact_pii_audio"] and not p["redact_pii"] else None


def _rule_speakers_min_max(p: dict[str, Any]) -> str | None:
    options = p["speaker_options"] or {}
    high = options.get("max_speakers_expected")
    return errors.SPEAKERS_MIN_MAX if high is not None and high < options["min_speakers_expected"] else None


def _rule_language_codes_need_en(p: dict[str, Any]) -> str | None:
    codes = p["language_codes"]
    return errors.LANGUAGE_CODES_NEED_EN if codes is not None and "en" not in codes else None


def _rule_audio_window(p: dict[str, Any]) -> str | None:
    end = p["audio_end_at"]
    return errors.AUDIO_END_BEFORE_START if end is not None and end <= (p["audio_start_from"] or 0) else None


_RULES: tuple[Callable[[dict[str, Any]], str | None], ...] = (
    _rule_one_of_chapters_summary,
    _rule_prompt_and_keyterms,
    _rule_summary_together,
    _rule_summary_pair,
    _rule_summary_needs_format,
    _rule_pii_needs_policy,
    _rule_pii_audio_needs_pii,
    _rule_speakers_min_max,
    _rule_language_codes_need_en,
    _rule_audio_window,
)


# --- the steps of validate_transcript_request -------------------------------------------------------------
def _check_audio_url(value: object) -> None:
    """Missing, null, empty and non-http(s) all get the one observed message (CONTRACT §4.1)."""
    if value is not None and not isinstance(value, str):
        raise _bad(errors.must_be_type("audio_url", "String"))
    if not value or not _is_http_url(value):
        raise _bad(errors.AUDIO_URL_NOT_HTTP)


def _resolve_speech_models(given: list[str] | None, default: list[str], known: set[str]) -> list[str]:
    """The effective priority list: the request's, or the configured default when absent or empty."""
    if not given:
        return list(default)
    unknown = list(dict.fromkeys(name for name in given if name not in known))
    if unknown:
        raise _bad(errors.SPEECH_MODELS_UNSUPPORTED.format(names=", ".join(unknown)))
    return given


def _fold_word_boost(terms: Iterable[str]) -> list[str]:
    """NFKD-fold each term to ASCII (`café` -> `cafe`); a character with no ASCII form is refused."""
    folded = []
    for term in terms:
        text = "".join(c for c in unicodedata.normalize("NFKD", term) if not unicodedata.combining(c))
        if not text.isascii():
            raise _bad(errors.WORD_BOOST_UNSUPPORTED.format(term=term))
        folded.append(text)
    return folded


def _apply_conditional_defaults(params: dict[str, Any]) -> None:
    for name, switch, value in _CONDITIONAL_DEFAULTS:
        if params[name] is None and params[switch]:
            params[name] = value


def _check_addons(params: dict[str, Any], sent: Mapping[str, Any]) -> None:
    """Per-language options, only when the language is explicit (detection decides later otherwise).

    Only what the user sent is checked, so server-applied defaults (punctuate/format_text true) never fail.
    """
    if params["language_detection"]:
        return
    names = unavailable_addons(params["language_code"], sent)
    if names:
        raise _bad(errors.ADDONS_NOT_AVAILABLE.format(names=", ".join(names)))


def validate_transcript_request(
    body: object, *, default_speech_models: list[str], known_speech_models: set[str]
) -> dict[str, Any]:
    """Validate a parsed `POST /v2/transcript` body; return every parameter normalised, defaults applied.

    The result holds every key of `PARAMS` plus `webhook_auth`. It includes values that must NOT be echoed
    (`webhook_auth_header_value`, `content_safety_confidence`, `word_boost`, ...): build the Transcript JSON
    with `echo_fields(result)`. Unknown keys are ignored (CONTRACT §2.2 CHOICE). Raises ApiError(400, ...).
    """
    if not isinstance(body, dict):
        raise _bad(errors.INVALID_JSON)
    _check_audio_url(body.get("audio_url"))
    if body.get("speech_model") is not None:
        raise _bad(errors.SPEECH_MODEL_DEPRECATED)

    params = {
        name: _check(name, spec, body[name]) if name in body else copy.deepcopy(spec.default)
        for name, spec in PARAMS.items()
    }
    sent = {name: params[name] for name in PARAMS if body.get(name) is not None}

    params["speech_models"] = _resolve_speech_models(
        params["speech_models"], default_speech_models, known_speech_models
    )
    if params["dual_channel"]:
        params["multichannel"] = True
    if params["language_detection"]:
        params["language_code"] = None  # detection wins over a given code (CONTRACT §4.2 CHOICE)
    elif params["language_code"] is None:
        params["language_code"] = "en_us"

    for rule in _RULES:
        message = rule(params)
        if message:
            raise _bad(message)
    params["word_boost"] = _fold_word_boost(params["word_boost"])
    _check_addons(params, sent)
    _apply_conditional_defaults(params)
    params["webhook_auth"] = params["webhook_auth_header_name"] is not None
    return params


def echo_fields(params: Mapping[str, Any]) -> dict[str, Any]:
    """The part of validated parameters that the Transcript object shows (never the webhook secret)."""
    return {
        name: params.get(name)
        for name, nullable in ECHO_FIELDS.items()
        if params.get(name) is not None or nullable
    }


# --- GET /v2/transcript -----------------------------------------------------------------------------------
_INT_RE = re.compile(r"^[+-]?\d+$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _query_limit(name: str, text: str) -> int:
    if not _INT_RE.match(text.strip()):
        raise _bad(errors.must_be_type(name, "Integer"))
    limit = int(text)
    if not 1 <= limit <= 200:
        raise _bad(errors.MUST_BE_BETWEEN.format(param=name, min=1, max=200))
    return limit


def _query_status(name: str, text: str) -> str:
    if text not in TRANSCRIPT_STATUSES:
        raise _bad(errors.MUST_BE_ONE_OF.format(param=name, values=", ".join(TRANSCRIPT_STATUSES)))
    return text


def _query_date(name: str, text: str) -> date:
    """YYYY-MM-DD exactly (3.11's fromisoformat alone would also take `20240311`)."""
    if _DATE_RE.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise _bad(errors.MUST_BE_DATE.format(param=name))


def _query_id(name: str, text: str) -> str:
    if not _UUID_RE.match(text):
        raise _bad(errors.MUST_BE_VALID_ID.format(param=name))
    return str(uuid.UUID(text))


def _query_bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in ("true", "false"):
        raise _bad(errors.must_be_type(name, "Boolean"))
    return lowered == "true"


# Query parameter -> (parser, value when absent) [OA `ListTranscriptParams`].
_LIST_QUERY: dict[str, tuple[Callable[[str, str], Any], Any]] = {
    "limit": (_query_limit, 10),
    "status": (_query_status, None),
    "created_on": (_query_date, None),
    "before_id": (_query_id, None),
    "after_id": (_query_id, None),
    "throttled_only": (_query_bool, False),
}


def validate_list_query(params: Mapping[str, str]) -> dict[str, Any]:
    """Validate the `GET /v2/transcript` query (CONTRACT §2.4); unknown keys are ignored.

    Returns limit (int), status, created_on (datetime.date), before_id/after_id (canonical lower-case uuid
    strings) and throttled_only (bool); absent filters are None. Comparing before_id/after_id needs the
    database, so LIST_BOUNDS_INVERTED is the caller's check.
    """
    return {
        name: parse(name, params[name]) if params.get(name) is not None else default
        for name, (parse, default) in _LIST_QUERY.items()
    }
