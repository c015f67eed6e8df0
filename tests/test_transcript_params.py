"""server.services.transcript_params: POST/GET /v2/transcript request validation
(docs/compatibility.md#transcript-params, #list, #http-errors)."""

from __future__ import annotations

import copy
import json
import warnings
from datetime import date
from typing import Any

import pytest
import yaml

from server import errors
from server.errors import MUST_BE_AT_LEAST, ApiError
from server.languages import CHECKED_PARAMS
from server.services.list_params import TRANSCRIPT_STATUSES, validate_list_query
from server.services.param_table import (
    ECHO_FIELDS,
    PARAMS,
    PII_POLICIES,
    SUMMARY_MODELS,
    SUMMARY_TYPES,
    TYPE_NAMES,
)
from server.services.transcript_params import echo_fields, validate_transcript_request
from tests.support.spec import SPEC_PATH

URL = "https://example.com/audio.mp3"
DEFAULT_MODELS = ["universal-3-pro", "universal-2"]
ADDONS = "The following addons are not available in this language: "
KNOWN_MODELS = {"universal-3-pro", "universal-2", "nano", "best", "tiny.en"}



@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text())["components"]["schemas"]


def validate(body: object) -> dict[str, Any]:
    """The validated request as the transcript row stores it (`TranscriptRequest.to_json`)."""
    return validate_transcript_request(
        body, default_speech_models=DEFAULT_MODELS, known_speech_models=KNOWN_MODELS
    ).to_json()


def ok(**params: Any) -> dict[str, Any]:
    return validate({"audio_url": URL, **params})


def error_of(body: object) -> str:
    with pytest.raises(ApiError) as info:
        validate(body)
    assert info.value.status == 400
    return info.value.message


def error(**params: Any) -> str:
    return error_of({"audio_url": URL, **params})


# --- body and audio_url -----------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [[], "x", None, 5, True, [{"audio_url": URL}]])
def test_body_must_be_an_object(body: object) -> None:
    assert error_of(body) == "Request body must be valid JSON"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"audio_url": None},
        {"audio_url": ""},
        {"audio_url": "ftp://x.com/a.mp3"},
        {"audio_url": "x.com/a.mp3"},
        {"audio_url": "http://"},
        {"audio_url": "file:///etc/passwd"},
        {"punctuate": True},
    ],
)
def test_audio_url_must_be_http(body: dict) -> None:
    assert error_of(body) == "Transcript creation error, audio_url should start with http"


def test_audio_url_wrong_type() -> None:
    assert error_of({"audio_url": 5}) == "audio_url must be a String"


@pytest.mark.parametrize("url", ["http://x.com/a.mp3", "HTTPS://x.com/a", "https://localhost:8000/upload/1"])
def test_audio_url_accepted_and_echoed(url: str) -> None:
    assert validate({"audio_url": url})["audio_url"] == url


# --- types ------------------------------------------------------------------------------------------------
_WRONG_VALUE = {
    "bool": "true",
    "int": "5",
    "number": "0.5",
    "string": 5,
    "text": 5,
    "url": 5,
    "enum": 5,
    "language": 5,
    "list": "x",
    "object": "x",
}
_TYPE_CHECKED = [name for name in PARAMS if name not in ("audio_url", "speech_model")]


@pytest.mark.parametrize("name", _TYPE_CHECKED)
def test_every_parameter_rejects_a_wrong_type(name: str) -> None:
    kind = PARAMS[name].kind
    assert error(**{name: _WRONG_VALUE[kind]}) == errors.must_be_type(name, TYPE_NAMES[kind])


@pytest.mark.parametrize("name", _TYPE_CHECKED)
def test_null_only_where_nullable(name: str) -> None:
    spec = PARAMS[name]
    if spec.nullable:
        assert ok(**{name: None})  # accepted
    else:
        assert error(**{name: None}) == errors.must_be_type(name, TYPE_NAMES[spec.kind])


@pytest.mark.parametrize(
    "params, message",
    [
        ({"format_text": 1}, "format_text must be a Boolean"),  # the one real sample (OA Error.example)
        ({"punctuate": 0}, "punctuate must be a Boolean"),
        ({"speaker_labels": "true"}, "speaker_labels must be a Boolean"),
        ({"dual_channel": "yes"}, "dual_channel must be a Boolean"),
        ({"speakers_expected": 2.5}, "speakers_expected must be an Integer"),
        ({"speakers_expected": True}, "speakers_expected must be an Integer"),
        ({"content_safety_confidence": "50"}, "content_safety_confidence must be an Integer"),
        ({"audio_start_from": 1.5}, "audio_start_from must be an Integer"),
        ({"language_confidence_threshold": "0.5"}, "language_confidence_threshold must be a Number"),
        ({"temperature": True}, "temperature must be a Number"),
        ({"speech_threshold": float("nan")}, "speech_threshold must be a Number"),
        ({"temperature": float("inf")}, "temperature must be a Number"),
        ({"prompt": 5}, "prompt must be a String"),
        ({"prompt": ["a"]}, "prompt must be a String"),
        ({"webhook_url": 5}, "webhook_url must be a String"),
        ({"language_code": 5}, "language_code must be a String"),
        ({"summary_model": 1, "summary_type": "bullets"}, "summary_model must be a String"),
        ({"keyterms_prompt": "a"}, "keyterms_prompt must be a List"),
        ({"keyterms_prompt": ["a", 1]}, "keyterms_prompt[1] must be a String"),
        ({"speech_models": "nano"}, "speech_models must be a List"),
        ({"speech_models": ["nano", None]}, "speech_models[1] must be a String"),
        ({"word_boost": [1]}, "word_boost[0] must be a String"),
        ({"redact_pii_policies": "person_name"}, "redact_pii_policies must be a List"),
        ({"language_codes": ["en", 5]}, "language_codes[1] must be a String"),
        ({"speaker_options": []}, "speaker_options must be an Object"),
        (
            {"speaker_options": {"min_speakers_expected": "2"}},
            "speaker_options.min_speakers_expected must be an Integer",
        ),
        (
            {"speaker_options": {"max_speakers_expected": None}},
            "speaker_options.max_speakers_expected must be an Integer",
        ),
        ({"custom_spelling": {"from": ["a"], "to": "b"}}, "custom_spelling must be a List"),
        ({"custom_spelling": ["x"]}, "custom_spelling[0] must be an Object"),
        ({"custom_spelling": [{"from": "a", "to": "b"}]}, "custom_spelling[0].from must be a List"),
        ({"custom_spelling": [{"from": ["a"]}]}, "custom_spelling[0].to must be a String"),
        ({"custom_spelling": [{"to": "b"}]}, "custom_spelling[0].from must be a List"),
        (
            {"custom_spelling": [{"from": ["a"], "to": "b"}, {"from": [1], "to": "c"}]},
            "custom_spelling[1].from[0] must be a String",
        ),
        (
            {"language_detection_options": {"code_switching": "yes"}},
            "language_detection_options.code_switching must be a Boolean",
        ),
        (
            {"language_detection_options": {"expected_languages": "en"}},
            "language_detection_options.expected_languages must be a List",
        ),
        (
            {"redact_pii_audio_options": {"return_redacted_no_speech_audio": 1}},
            "redact_pii_audio_options.return_redacted_no_speech_audio must be a Boolean",
        ),
        ({"keyterms_prompt_options": []}, "keyterms_prompt_options must be an Object"),
        ({"speech_understanding": []}, "speech_understanding must be an Object"),
        ({"speech_understanding": {}}, "speech_understanding.request must be an Object"),
        (
            {"speech_understanding": {"request": {"translation": {}}}},
            "speech_understanding.request.translation.target_languages must be a List",
        ),
        (
            {
                "speech_understanding": {
                    "request": {"translation": {"target_languages": ["es"], "formal": "yes"}}
                }
            },
            "speech_understanding.request.translation.formal must be a Boolean",
        ),
        (
            {"speech_understanding": {"request": {"speaker_identification": {}}}},
            "speech_understanding.request.speaker_identification.speaker_type must be a String",
        ),
    ],
)
def test_type_errors(params: dict, message: str) -> None:
    assert error(**params) == message


def test_integral_floats_are_integers() -> None:
    params = ok(
        speakers_expected=2.0, content_safety_confidence=60.0, speaker_options={"max_speakers_expected": 3.0}
    )
    assert params["speakers_expected"] == 2 and isinstance(params["speakers_expected"], int)
    assert params["content_safety_confidence"] == 60 and isinstance(params["content_safety_confidence"], int)
    assert params["speaker_options"] == {"min_speakers_expected": 1, "max_speakers_expected": 3}


def test_huge_integers() -> None:
    assert ok(speakers_expected=10**400)["speakers_expected"] == 10**400
    assert error(content_safety_confidence=10**400) == "content_safety_confidence must be between 25 and 100"
    assert error(temperature=10**400) == "temperature must be between 0 and 1"


def test_numbers_accept_ints() -> None:
    assert ok(speech_threshold=1, temperature=0)["speech_threshold"] == 1


# --- ranges -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params, message",
    [
        ({"content_safety_confidence": 24}, "content_safety_confidence must be between 25 and 100"),
        ({"content_safety_confidence": 101}, "content_safety_confidence must be between 25 and 100"),
        ({"language_confidence_threshold": 1.5}, "language_confidence_threshold must be between 0 and 1"),
        ({"language_confidence_threshold": -0.1}, "language_confidence_threshold must be between 0 and 1"),
        ({"speech_threshold": 2}, "speech_threshold must be between 0 and 1"),
        ({"temperature": -1}, "temperature must be between 0 and 1"),
        (
            {"language_detection_options": {"code_switching_confidence_threshold": 1.1}},
            "language_detection_options.code_switching_confidence_threshold must be between 0 and 1",
        ),
        ({"speakers_expected": 0}, "speakers_expected must be at least 1"),
        (
            {"speaker_options": {"min_speakers_expected": 0}},
            "speaker_options.min_speakers_expected must be at least 1",
        ),
        ({"audio_start_from": -1}, "audio_start_from must be at least 0"),
        ({"audio_end_at": -5}, "audio_end_at must be at least 0"),
    ],
)
def test_ranges(params: dict, message: str) -> None:
    assert error(**params) == message


@pytest.mark.parametrize(
    "params",
    [
        {"content_safety_confidence": 25},
        {"content_safety_confidence": 100},
        {"language_confidence_threshold": 0},
        {"language_confidence_threshold": 1},
        {"speech_threshold": 0.5},
        {"temperature": 1.0},
        {"speakers_expected": 1},
    ],
)
def test_range_bounds_inclusive(params: dict) -> None:
    assert ok(**params)


def test_at_least_wording_is_of_the_family() -> None:
    assert MUST_BE_AT_LEAST.format(param="x", min=1) == "x must be at least 1"


# --- enums ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"summary_model": "fancy", "summary_type": "gist"},
            "summary_model must be one of: informative, conversational, catchy",
        ),
        (
            {"summary_model": "catchy", "summary_type": "long"},
            "summary_type must be one of: bullets, bullets_verbose, gist, headline, paragraph",
        ),
        ({"redact_pii_sub": "entity_type"}, "redact_pii_sub must be one of: entity_name, hash"),
        ({"redact_pii_audio_quality": "flac"}, "redact_pii_audio_quality must be one of: mp3, wav"),
        ({"remove_audio_tags": "some"}, "remove_audio_tags must be one of: all"),
        ({"boost_param": "max"}, "boost_param must be one of: low, default, high"),
        (
            {"redact_pii": True, "redact_pii_policies": ["person_name", "ssn"]},
            "redact_pii_policies[1] must be one of: " + ", ".join(PII_POLICIES),
        ),
        (
            {"redact_pii_audio_options": {"override_audio_redaction_method": "beep"}},
            "redact_pii_audio_options.override_audio_redaction_method must be one of: silence",
        ),
        (
            {"keyterms_prompt_options": {"keyterms_match_strength": "max"}},
            "keyterms_prompt_options.keyterms_match_strength must be one of: high, standard",
        ),
        (
            {"speech_understanding": {"request": {"speaker_identification": {"speaker_type": "x"}}}},
            "speech_understanding.request.speaker_identification.speaker_type must be one of: role, name",
        ),
    ],
)
def test_enums(params: dict, message: str) -> None:
    assert error(**params) == message


# --- speech models ----------------------------------------------------------------------------------------
def test_speech_model_is_deprecated() -> None:
    assert error(speech_model="best") == errors.SPEECH_MODEL_DEPRECATED


def test_speech_model_null_is_fine_and_echoed_null() -> None:
    assert ok(speech_model=None)["speech_model"] is None


@pytest.mark.parametrize(
    "given, effective",
    [
        (None, DEFAULT_MODELS),
        ([], DEFAULT_MODELS),
        (["nano"], ["nano"]),
        (["tiny.en", "best"], ["tiny.en", "best"]),
    ],
)
def test_speech_models(given: list[str] | None, effective: list[str]) -> None:
    params = ok() if given is None else ok(speech_models=given)
    assert params["speech_models"] == effective


def test_default_speech_models_not_shared() -> None:
    ok()["speech_models"].append("x")
    assert DEFAULT_MODELS == ["universal-3-pro", "universal-2"]


def test_unknown_speech_models() -> None:
    message = error(speech_models=["nano", "foo", "bar", "foo"])
    assert message == "The following speech models are not supported: foo, bar"


# --- language ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params, code",
    [
        ({}, "en_us"),
        ({"language_code": None}, "en_us"),
        ({"language_code": "fr"}, "fr"),
        ({"language_code": "EN_US"}, "en_us"),
        ({"language_code": "en-AU"}, "en_au"),
        ({"language_code": "no"}, "no"),
        ({"language_detection": True}, None),
        ({"language_detection": True, "language_code": "fr"}, None),
        ({"language_detection": False, "language_code": "de"}, "de"),
    ],
)
def test_language_code(params: dict, code: str | None) -> None:
    assert ok(**params)["language_code"] == code


@pytest.mark.parametrize(
    "params",
    [
        {"language_code": "xx"},
        {"language_code": "english"},
        {"language_detection": True, "language_code": "xx"},
    ],
)
def test_invalid_language_code(params: dict) -> None:
    assert error(**params) == f"Invalid language_code: {params['language_code']}"


# --- docs/compatibility.md#option-rules rules ---------------------------------------------------------------
_PII = {"redact_pii": True, "redact_pii_policies": ["person_name"]}


@pytest.mark.parametrize(
    "params, message",
    [
        ({"auto_chapters": True, "summarization": True}, errors.ONLY_ONE_OF),
        ({"prompt": "Transcribe names.", "keyterms_prompt": ["Decarlo"]}, errors.PROMPT_AND_KEYTERMS),
        ({"summary_model": "informative"}, errors.SUMMARY_TOGETHER),
        ({"summary_type": "gist", "summary_model": None}, errors.SUMMARY_TOGETHER),
        (
            {"summary_model": "catchy", "summary_type": "bullets"},
            "summary_type bullets is not supported by summary_model catchy",
        ),
        (
            {"summary_model": "informative", "summary_type": "gist"},
            "summary_type gist is not supported by summary_model informative",
        ),
        (
            {"summarization": True, "punctuate": False},
            "punctuate and format_text must be enabled when summarization is enabled",
        ),
        (
            {"summarization": True, "format_text": False},
            "punctuate and format_text must be enabled when summarization is enabled",
        ),
        (
            {"auto_chapters": True, "format_text": False},
            "punctuate and format_text must be enabled when auto_chapters is enabled",
        ),
        ({"redact_pii": True}, errors.PII_NEEDS_POLICY),
        ({"redact_pii": True, "redact_pii_policies": []}, errors.PII_NEEDS_POLICY),
        ({"redact_pii_audio": True}, errors.PII_AUDIO_NEEDS_PII),
        ({"redact_pii_audio": True, "redact_pii": False}, errors.PII_AUDIO_NEEDS_PII),
        (
            {"speaker_options": {"min_speakers_expected": 3, "max_speakers_expected": 2}},
            errors.SPEAKERS_MIN_MAX,
        ),
        ({"language_codes": ["es", "fr"]}, errors.LANGUAGE_CODES_NEED_EN),
        ({"language_codes": []}, errors.LANGUAGE_CODES_NEED_EN),
        ({"language_codes": ["en", "xx"]}, "Invalid language_code: xx"),
        ({"audio_start_from": 200, "audio_end_at": 100}, errors.AUDIO_END_BEFORE_START),
        ({"audio_start_from": 200, "audio_end_at": 200}, errors.AUDIO_END_BEFORE_START),
        ({"audio_end_at": 0}, errors.AUDIO_END_BEFORE_START),
    ],
)
def test_cross_field_rules(params: dict, message: str) -> None:
    assert error(**params) == message


@pytest.mark.parametrize(
    "params",
    [
        {"prompt": "Transcribe names."},
        {"keyterms_prompt": ["Decarlo"]},
        {"prompt": "", "keyterms_prompt": []},
        {"summary_model": "catchy", "summary_type": "gist"},
        {"summary_model": "conversational", "summary_type": "paragraph"},
        {"summary_model": None, "summary_type": None},
        {"summarization": True, "punctuate": True, "format_text": True},
        {"auto_chapters": True},
        {"punctuate": False, "format_text": False},
        _PII,
        {**_PII, "redact_pii_audio": True},
        {"speaker_options": {"min_speakers_expected": 2, "max_speakers_expected": 2}},
        {"speaker_options": {"max_speakers_expected": 1}},
        {"speakers_expected": 2, "speaker_options": {"min_speakers_expected": 3}},
        {"language_codes": ["en", "es"]},
        {"language_codes": ["ES", "EN"]},
        {"language_codes": None},
        {"audio_start_from": 200, "audio_end_at": 300},
        {"audio_end_at": 1},
        {"audio_start_from": 5000},
    ],
)
def test_allowed_combinations(params: dict) -> None:
    assert ok(**params)


def test_language_codes_normalised() -> None:
    assert ok(language_codes=["ES", "EN"])["language_codes"] == ["es", "en"]


# --- word boost -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "terms, folded",
    [
        (["café", "naïve"], ["cafe", "naive"]),
        (["ﬁle"], ["file"]),
        (["AssemblyAI", "x-ray 2"], ["AssemblyAI", "x-ray 2"]),
        ([], []),
    ],
)
def test_word_boost_folded_to_ascii(terms: list[str], folded: list[str]) -> None:
    assert ok(word_boost=terms)["word_boost"] == folded


@pytest.mark.parametrize("term", ["日本", "straße", "Привет", "ok😀"])
def test_word_boost_unsupported(term: str) -> None:
    assert error(word_boost=["fine", term]) == errors.WORD_BOOST_UNSUPPORTED.format(term=term)


@pytest.mark.parametrize(
    "params, boost",
    [({}, None), ({"word_boost": ["a"]}, "default"), ({"word_boost": ["a"], "boost_param": "high"}, "high")],
)
def test_boost_param_default(params: dict, boost: str | None) -> None:
    assert ok(**params)["boost_param"] == boost


# --- per-language options ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params, message",
    [
        ({"language_code": "fr", "auto_highlights": True}, ADDONS + "auto_highlights"),
        ({"language_code": "zh", "filter_profanity": True}, ADDONS + "filter_profanity"),
        (
            {
                "language_code": "es",
                "sentiment_analysis": True,
                "auto_highlights": True,
                "speaker_labels": True,
            },
            ADDONS + "auto_highlights, sentiment_analysis",
        ),
        ({"language_code": "no", "speaker_labels": True}, ADDONS + "speaker_labels"),
        ({"language_code": "de", **_PII, "redact_pii_audio": True}, ADDONS + "redact_pii_audio"),
        ({"language_code": "fr", "summarization": True}, ADDONS + "summarization"),
        (
            {
                "language_code": "hy",
                "redact_pii": True,
                "redact_pii_policies": ["person_name"],
                "entity_detection": True,
            },
            ADDONS + "entity_detection, redact_pii",
        ),
    ],
)
def test_addons_not_available(params: dict, message: str) -> None:
    assert error(**params) == message


@pytest.mark.parametrize(
    "params",
    [
        {"language_code": "de", "speaker_labels": True},
        {"language_code": "es", **_PII, "redact_pii_audio": True},
        {
            "language_code": "fr",
            "punctuate": True,
            "format_text": True,
            "custom_spelling": [{"from": ["a"], "to": "b"}],
        },
        {"language_code": "hy", "multichannel": True, "dual_channel": True},
        {"language_detection": True, "auto_highlights": True, "sentiment_analysis": True},
        {"language_detection": True, "language_code": "fr", "auto_highlights": True},
        {"language_code": "fr", "auto_highlights": False},
        {"language_code": "sq", "word_boost": ["a"], "keyterms_prompt": ["b"]},
        {
            p: True
            for p in CHECKED_PARAMS
            - {"auto_chapters", "redact_pii", "redact_pii_audio", "language_detection", "custom_spelling"}
        },
    ],
)
def test_addons_available(params: dict) -> None:
    assert ok(**params)


# --- aliases, unknown keys, defaults, echo ----------------------------------------------------------------
@pytest.mark.parametrize(
    "params, multichannel",
    [
        ({"dual_channel": True}, True),
        ({"dual_channel": False}, False),
        ({"multichannel": True, "dual_channel": False}, True),
    ],
)
def test_dual_channel_alias(params: dict, multichannel: bool) -> None:
    assert ok(**params)["multichannel"] is multichannel


def test_unknown_keys_ignored() -> None:
    params = ok(
        foo=1,
        language_detection_results={"x": 1},
        speaker_options={"max_speakers_expected": 4, "use_two_stage_clustering": True},
        language_detection_options={"on_low_language_confidence": "fallback"},
    )
    assert "foo" not in params and "language_detection_results" not in params
    assert params["speaker_options"] == {"min_speakers_expected": 1, "max_speakers_expected": 4}
    assert "on_low_language_confidence" not in params["language_detection_options"]
    assert "foo" not in echo_fields(params)


def test_defaults_of_a_bare_request() -> None:
    echo = echo_fields(ok())
    assert echo == {
        "audio_url": URL,
        "speech_model": None,
        "speech_models": DEFAULT_MODELS,
        "language_code": "en_us",
        "language_codes": None,
        "language_detection": False,
        "language_confidence_threshold": None,
        "punctuate": True,
        "format_text": True,
        "disfluencies": False,
        "filter_profanity": False,
        "multichannel": False,
        "speaker_labels": False,
        "speakers_expected": None,
        "audio_start_from": None,
        "audio_end_at": None,
        "custom_spelling": None,
        "temperature": None,
        "remove_audio_tags": None,
        "auto_highlights": False,
        "content_safety": False,
        "iab_categories": False,
        "sentiment_analysis": False,
        "entity_detection": False,
        "auto_chapters": False,
        "summarization": False,
        "summary_model": None,
        "summary_type": None,
        "redact_pii": False,
        "redact_pii_policies": None,
        "redact_pii_audio": False,
        "redact_pii_audio_quality": None,
        "speech_threshold": None,
        "webhook_url": None,
        "webhook_auth": False,
        "webhook_auth_header_name": None,
        "custom_topics": False,
        "topics": [],
        "speed_boost": False,
    }


def test_worker_values_present_but_not_echoed() -> None:
    params = ok(
        webhook_url="https://hook.example/x",
        webhook_auth_header_name="X-Secret",
        webhook_auth_header_value="s3cret",
        word_boost=["a"],
        content_safety=True,
    )
    assert params["content_safety_confidence"] == 50
    assert params["webhook_auth_header_value"] == "s3cret"
    echo = echo_fields(params)
    assert echo["webhook_auth"] is True and echo["webhook_auth_header_name"] == "X-Secret"
    assert echo["webhook_url"] == "https://hook.example/x"
    assert "s3cret" not in json.dumps(echo)
    for hidden in (
        "webhook_auth_header_value",
        "content_safety_confidence",
        "word_boost",
        "boost_param",
        "dual_channel",
        "domain",
        "keyterms_prompt_options",
        "redact_pii_return_unredacted",
    ):
        assert hidden not in echo


def test_result_has_every_parameter() -> None:
    assert set(ok()) == set(PARAMS) | {"webhook_auth"}


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"summarization": True}, {"summary_model": "informative", "summary_type": "bullets"}),
        (
            {"summarization": True, "summary_model": "catchy", "summary_type": "gist"},
            {"summary_model": "catchy", "summary_type": "gist"},
        ),
        (_PII, {"redact_pii_sub": "hash", "redact_pii_audio_quality": None}),
        ({**_PII, "redact_pii_sub": "entity_name"}, {"redact_pii_sub": "entity_name"}),
        ({**_PII, "redact_pii_audio": True}, {"redact_pii_audio_quality": "mp3"}),
        (
            {**_PII, "redact_pii_audio": True, "redact_pii_audio_quality": "wav"},
            {"redact_pii_audio_quality": "wav"},
        ),
    ],
)
def test_conditional_defaults(params: dict, expected: dict) -> None:
    result = ok(**params)
    assert {k: result[k] for k in expected} == expected


def test_nested_defaults() -> None:
    params = ok(language_detection=True, language_detection_options={}, redact_pii_audio_options={})
    assert params["language_detection_options"] == {
        "expected_languages": ["all"],
        "fallback_language": "auto",
        "code_switching": False,
        "code_switching_confidence_threshold": 0.3,
    }
    assert params["redact_pii_audio_options"] == {"return_redacted_no_speech_audio": False}
    assert ok()["language_detection_options"] is None
    assert "language_detection_options" not in echo_fields(ok())


def test_nested_defaults_not_shared() -> None:
    ok(language_detection_options={})["language_detection_options"]["expected_languages"].append("x")
    ok()["topics"].append("x")
    assert ok(language_detection_options={})["language_detection_options"]["expected_languages"] == ["all"]
    assert ok()["topics"] == []


def test_speech_understanding_echoed_as_sent() -> None:
    request = {
        "translation": {"target_languages": ["es", "de"], "formal": True, "match_original_utterance": True},
        "summarization": {"summary_type": "bullets"},
    }
    params = ok(speech_understanding={"request": copy.deepcopy(request)})
    assert echo_fields(params)["speech_understanding"] == {"request": request}


def test_custom_spelling_echo() -> None:
    spelling = [{"from": ["dicarlo", "di carlo"], "to": "Decarlo"}]
    assert echo_fields(ok(custom_spelling=spelling))["custom_spelling"] == spelling


@pytest.mark.parametrize("url", ["not a url", "ftp://x.com/hook", "//x.com/hook", ""])
def test_webhook_url_must_be_http(url: str) -> None:
    assert error(webhook_url=url) == "webhook_url must be a valid URL"


def test_input_not_mutated() -> None:
    body = {"audio_url": URL, "speaker_options": {"max_speakers_expected": 3}, "dual_channel": True}
    before = copy.deepcopy(body)
    validate(body)
    assert body == before


# --- against the OpenAPI spec -----------------------------------------------------------------------------
def _is_nullable(schema: dict) -> bool:
    types = schema.get("type")
    if types == "null" or (isinstance(types, list) and "null" in types):
        return True
    return any(_is_nullable(option) for option in schema.get("oneOf", []) + schema.get("anyOf", []))


def test_table_covers_every_spec_parameter(schemas: dict) -> None:
    spec_params = set(schemas["TranscriptOptionalParams"]["properties"]) | {"audio_url"}
    assert spec_params <= set(PARAMS), spec_params - set(PARAMS)
    extras = set(PARAMS) - spec_params
    contract_extras = {
        "word_boost",
        "boost_param",
        "dual_channel",
        "redact_pii_return_unredacted",
        "keyterms_prompt_options",
        "domain",
        "speed_boost",
    }
    assert extras == contract_extras


def test_table_agrees_with_spec(schemas: dict) -> None:
    props = schemas["TranscriptOptionalParams"]["properties"]
    # The spec's own request examples send these as null, so null must be accepted (CHOICE).
    nullable_by_example = {"summary_model", "summary_type"}
    for name, prop in props.items():
        spec = PARAMS[name]
        assert spec.nullable == (_is_nullable(prop) or name in nullable_by_example), name
        if "minimum" in prop:
            assert (spec.minimum, spec.maximum) == (prop["minimum"], prop.get("maximum")), name
        if prop.get("type") == "boolean":
            assert spec.kind == "bool" and spec.default == prop["default"], name


@pytest.mark.parametrize(
    "values, schema",
    [
        (PII_POLICIES, "PiiPolicy"),
        (SUMMARY_MODELS, "SummaryModel"),
        (SUMMARY_TYPES, "SummaryType"),
        (PARAMS["redact_pii_sub"].values, "SubstitutionPolicy"),
        (PARAMS["redact_pii_audio_quality"].values, "RedactPiiAudioQuality"),
        (PARAMS["boost_param"].values, "TranscriptBoostParam"),
        (TRANSCRIPT_STATUSES, "TranscriptStatus"),
    ],
)
def test_enums_equal_spec(schemas: dict, values: tuple[str, ...], schema: str) -> None:
    assert list(values) == schemas[schema]["enum"]


def test_echo_fields_are_transcript_properties(schemas: dict) -> None:
    props = schemas["Transcript"]["properties"]
    assert set(ECHO_FIELDS) <= set(props), set(ECHO_FIELDS) - set(props)
    for name, nullable in ECHO_FIELDS.items():
        if name != "language_code":  # null while detection runs: docs/compatibility.md#status CHOICE
            assert nullable == _is_nullable(props[name]), name


def test_echo_of_bare_request_validates_against_transcript_schema(schemas: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    transcript = dict(schemas["Transcript"])
    transcript["required"] = []  # only the echoed part is checked here
    transcript["properties"] = {k: v for k, v in transcript["properties"].items() if k in ECHO_FIELDS}
    body = echo_fields(
        ok(
            **_PII,
            speaker_labels=True,
            speaker_options={"max_speakers_expected": 3},
            language_detection=False,
            summarization=True,
            custom_spelling=[{"from": ["a"], "to": "b"}],
            webhook_url="https://hook.example/x",
            speech_understanding={"request": {"translation": {"target_languages": ["es"]}}},
        )
    )
    resolver_root = {"components": {"schemas": schemas}}
    jsonschema.validate(body, {**transcript, "components": resolver_root["components"]})


@pytest.mark.parametrize("schema", ["TranscriptParams", "TranscriptOptionalParams"])
def test_spec_example_is_accepted(schemas: dict, schema: str) -> None:
    example = {"audio_url": URL, **schemas[schema]["example"]}
    params = validate(example)
    assert params["language_code"] is None  # language_detection: true in the example
    assert params["multichannel"] is True and params["redact_pii_sub"] == "hash"


# --- the Python SDK's own request bodies ------------------------------------------------------------------
def test_python_sdk_request_round_trip() -> None:
    aai = pytest.importorskip("assemblyai")
    from assemblyai import types
    from assemblyai.prerecorded.v2._base import config_from_response

    config = aai.TranscriptionConfig(
        language_code="en",
        speaker_labels=True,
        speakers_expected=2,
        summarization=True,
        word_boost=["café"],
        boost_param=aai.WordBoost.high,
        webhook_url="https://hook.example/x",
        webhook_auth_header_name="X",
        webhook_auth_header_value="s",
        content_safety=True,
        content_safety_confidence=60,
        auto_highlights=True,
        speaker_options=aai.SpeakerOptions(
            min_speakers_expected=1, max_speakers_expected=3, use_two_stage_clustering=True
        ),
        language_detection_options=aai.LanguageDetectionOptions(
            expected_languages=["en"], code_switching=True
        ),
    )
    config.set_redact_pii(policies=[aai.PIIRedactionPolicy.person_name], redact_audio=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = config.raw.dict(exclude_none=True)
        body = types.TranscriptRequest(audio_url=URL, **raw).dict(exclude_none=True, by_alias=True)
    params = validate(json.loads(json.dumps(body)))
    assert params["word_boost"] == ["cafe"] and params["boost_param"] == "high"
    assert params["content_safety_confidence"] == 60
    queued = {
        "id": "6f4b1a4e-2a5c-4c7e-9a0e-3b9f1c2d4e5f",
        "status": "queued",
        "language_confidence": None,
        "language_model": "assemblyai_default",
        "acoustic_model": "assemblyai_default",
        **echo_fields(params),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        response = types.TranscriptResponse.parse_obj(json.loads(json.dumps(queued)))
        rebuilt = config_from_response(response)
    assert rebuilt.speaker_labels is True and rebuilt.summarization is True
    assert rebuilt.language_code == "en"


# --- GET /v2/transcript query -----------------------------------------------------------------------------
def list_error(query: dict[str, str]) -> str:
    with pytest.raises(ApiError) as info:
        validate_list_query(query)
    assert info.value.status == 400
    return info.value.message


def test_list_defaults() -> None:
    assert validate_list_query({}) == {
        "limit": 10,
        "status": None,
        "created_on": None,
        "before_id": None,
        "after_id": None,
        "throttled_only": False,
    }


def test_list_values() -> None:
    query = {
        "limit": "200",
        "status": "completed",
        "created_on": "2024-03-11",
        "other": "x",
        "before_id": "9EA68FD3-F953-42C1-9742-976C447FB463",
        "after_id": "a7c5cafd-2c2e-4bdd-b0b2-69dade2f7a1b",
        "throttled_only": "TRUE",
    }
    assert validate_list_query(query) == {
        "limit": 200,
        "status": "completed",
        "created_on": date(2024, 3, 11),
        "before_id": "9ea68fd3-f953-42c1-9742-976c447fb463",
        "after_id": "a7c5cafd-2c2e-4bdd-b0b2-69dade2f7a1b",
        "throttled_only": True,
    }


@pytest.mark.parametrize(
    "query, message",
    [
        ({"limit": "0"}, "limit must be between 1 and 200"),
        ({"limit": "201"}, "limit must be between 1 and 200"),
        ({"limit": "-3"}, "limit must be between 1 and 200"),
        ({"limit": "abc"}, "limit must be an Integer"),
        ({"limit": "1.5"}, "limit must be an Integer"),
        ({"limit": ""}, "limit must be an Integer"),
        ({"status": "done"}, "status must be one of: queued, processing, completed, error"),
        ({"created_on": "2024-13-01"}, "created_on must be a date in the format YYYY-MM-DD"),
        ({"created_on": "20240311"}, "created_on must be a date in the format YYYY-MM-DD"),
        ({"created_on": "2024-3-11"}, "created_on must be a date in the format YYYY-MM-DD"),
        ({"created_on": "2024-02-30"}, "created_on must be a date in the format YYYY-MM-DD"),
        ({"before_id": "abc"}, "before_id must be a valid transcript id"),
        ({"after_id": "a7c5cafd2c2e4bdd b0b269dade2f7a1b"}, "after_id must be a valid transcript id"),
        ({"after_id": "{a7c5cafd-2c2e-4bdd-b0b2-69dade2f7a1b}"}, "after_id must be a valid transcript id"),
        ({"throttled_only": "1"}, "throttled_only must be a Boolean"),
        ({"throttled_only": "yes"}, "throttled_only must be a Boolean"),
    ],
)
def test_list_errors(query: dict[str, str], message: str) -> None:
    assert list_error(query) == message
