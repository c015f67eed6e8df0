"""Validation of `POST /v2/transcript` bodies (docs/compatibility.md#transcript-params, #http-errors,
#option-rules).

One table (`PARAMS`) says what every request parameter may hold; a generic checker walks it, then a short list
of cross-field rules and the per-language check run on the normalised values. Every message comes from
`server.errors`, so the wording stays uniform (docs/compatibility.md#http-errors CHOICE).
"""

from __future__ import annotations

import copy
import math
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from server import errors
from server.errors import MUST_BE_AT_LEAST, MUST_BE_URL, ApiError
from server.languages import is_known_language, normalize_language_code, unavailable_addons
from server.services.param_table import (
    CONDITIONAL_DEFAULTS,
    ECHO_FIELDS,
    PARAMS,
    SUMMARY_PAIRS,
    TYPE_NAMES,
    Param,
)
from server.transcript_request import TranscriptRequest, default_of


# --- generic checker --------------------------------------------------------------------------------------
def _bad(message: str) -> ApiError:
    return ApiError(400, message)


def _type_error(path: str, spec: Param) -> ApiError:
    return _bad(errors.must_be_type(path, TYPE_NAMES[spec.kind]))


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


def _check_text(path: str, spec: Param, value: object) -> str:
    """A string that leaves JSON (a text column, an HTTP header): PostgreSQL and HTTP refuse NUL."""
    text = _check_string(path, spec, value)
    if "\x00" in text:
        raise _bad(errors.JSON_NUL_CHARACTER.format(param=path))
    return text


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
    "text": _check_text,
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
    """http(s) with a host; control characters (NUL…) make it no URL at all (RFC 3986
    docs/compatibility.md#rest-operations)."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text.strip()):
        return False
    try:
        parts = urlsplit(text.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


# --- cross-field rules (docs/compatibility.md#option-rules), each returns the error message or None ---------
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


_SPEECH_UNDERSTANDING_TASKS = ("translation", "speaker_identification", "custom_formatting")


def _rule_speech_understanding_one_task(p: dict[str, Any]) -> str | None:
    """The spec's `oneOf`: a request naming no task, or two, is echoed as a Transcript that breaks it."""
    request = (p["speech_understanding"] or {}).get("request")
    if request is None or sum(task in request for task in _SPEECH_UNDERSTANDING_TASKS) == 1:
        return None
    return errors.SPEECH_UNDERSTANDING_ONE_TASK


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
    _rule_speech_understanding_one_task,
)


# --- the steps of validate_transcript_request -------------------------------------------------------------
def _check_audio_url(value: object) -> None:
    """Missing, null, empty and non-http(s) all get the one observed message
    (docs/compatibility.md#http-errors)."""
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
    for name, switch, value in CONDITIONAL_DEFAULTS:
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
) -> TranscriptRequest:
    """Validate a parsed `POST /v2/transcript` body; return every parameter normalised, defaults applied.

    The result holds every parameter of `PARAMS` plus `webhook_auth`. It includes values that must NOT be
    echoed (`webhook_auth_header_value`, `content_safety_confidence`, `word_boost`, ...): build the
    Transcript JSON with `echo_fields(result.to_json())`. Unknown keys are ignored
    (docs/compatibility.md#transcript-params CHOICE). Raises ApiError(400, ...).
    """
    if not isinstance(body, dict):
        raise _bad(errors.INVALID_JSON)
    _check_audio_url(body.get("audio_url"))
    if body.get("speech_model") is not None:
        raise _bad(errors.SPEECH_MODEL_DEPRECATED)

    params = {
        name: _check(name, spec, body[name]) if name in body else default_of(name)
        for name, spec in PARAMS.items()
    }
    sent = {name: params[name] for name in PARAMS if body.get(name) is not None}

    params["speech_models"] = _resolve_speech_models(
        params["speech_models"], default_speech_models, known_speech_models
    )
    if params["dual_channel"]:
        params["multichannel"] = True
    if params["language_detection"]:
        # detection wins over a given code (docs/compatibility.md#option-rules CHOICE)
        params["language_code"] = None
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
    return TranscriptRequest(**params)


def echo_fields(params: Mapping[str, Any]) -> dict[str, Any]:
    """The part of validated parameters that the Transcript object shows (never the webhook secret)."""
    return {
        name: params.get(name)
        for name, nullable in ECHO_FIELDS.items()
        if params.get(name) is not None or nullable
    }
