"""server.languages: codes against the spec, feature table against spec/CONTRACT.md §10.2, Whisper mapping."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from server.languages import (
    AVAILABLE_PARAMS,
    CHECKED_PARAMS,
    FEATURE_COLUMNS,
    LANGUAGE_CODES,
    WHISPER_LANGUAGES,
    is_known_language,
    normalize_language_code,
    to_api_language,
    to_whisper_language,
    unavailable_addons,
)
from tests.support.spec import SPEC_DIR


def _spec_file(name: str) -> Path:
    return SPEC_DIR / name


def _spec_language_codes() -> list[str]:
    schemas = yaml.safe_load(_spec_file("openapi.yml").read_text())["components"]["schemas"]
    # YAML 1.1 reads the Norwegian code `no` as False (spec/CONTRACT.md §0).
    return ["no" if code is False else code for code in schemas["TranscriptLanguageCode"]["enum"]]


def _contract_rows() -> list[tuple[list[str], set[str]]]:
    """The §10.2 table of CONTRACT.md: (languages, columns marked ✓)."""
    lines = _spec_file("CONTRACT.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| languages |"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        codes = re.sub(r"[`]", "", cells[0]).split()
        rows.append((codes, {header[i] for i, cell in enumerate(cells) if i and cell == "✓"}))
    return rows


def test_language_codes_equal_spec_enum() -> None:
    assert list(LANGUAGE_CODES) == _spec_language_codes()
    assert len(LANGUAGE_CODES) == 102 and "no" in LANGUAGE_CODES


def test_table_covers_every_code_once() -> None:
    assert set(AVAILABLE_PARAMS) == set(LANGUAGE_CODES)


def test_table_matches_contract() -> None:
    rows = _contract_rows()
    assert sum(len(codes) for codes, _ in rows) == 102
    for codes, columns in rows:
        expected = {p for col in columns if col in FEATURE_COLUMNS for p in FEATURE_COLUMNS[col]}
        for code in codes:
            assert AVAILABLE_PARAMS[code] == expected, code


def test_export_columns_are_not_checked() -> None:
    assert not {"SUB", "S/P", "WS"} & set(FEATURE_COLUMNS)
    assert "word_boost" not in CHECKED_PARAMS and "keyterms_prompt" not in CHECKED_PARAMS


@pytest.mark.parametrize("code", ["en", "en_us", "EN_US", "en-US", "no", "haw", "jw", " fr "])
def test_known(code: str) -> None:
    assert is_known_language(code)


@pytest.mark.parametrize("code", ["xx", "", "english", "yue", "jv", None, 5, False])
def test_unknown(code: object) -> None:
    assert not is_known_language(code)


def test_normalize() -> None:
    assert normalize_language_code(" EN-us ") == "en_us"


_ALL_TRUE = {p: True for p in CHECKED_PARAMS}


@pytest.mark.parametrize(
    "code, params, expected",
    [
        ("fr", {"auto_highlights": True}, ["auto_highlights"]),
        ("de", {"speaker_labels": True}, []),
        ("zh", {"filter_profanity": True}, ["filter_profanity"]),
        ("ja", {"filter_profanity": True}, []),
        ("es", {"redact_pii_audio": True}, []),
        ("fr", {"redact_pii_audio": True}, ["redact_pii_audio"]),
        ("nl", {"filter_profanity": True, "content_safety": True}, ["content_safety"]),
        ("fi", {"filter_profanity": True, "speaker_labels": True}, ["filter_profanity"]),
        ("uk", {"speaker_labels": True}, ["speaker_labels"]),
        ("no", {"redact_pii": True, "speaker_labels": True}, ["speaker_labels"]),
        ("af", {"redact_pii": True, "entity_detection": True}, []),
        ("sq", {"redact_pii": True, "entity_detection": True}, ["entity_detection", "redact_pii"]),
        (
            "hy",
            {"custom_spelling": [{"from": ["a"], "to": "b"}], "multichannel": True, "punctuate": True},
            [],
        ),
        ("en_us", {"language_detection": True}, ["language_detection"]),
        ("en", _ALL_TRUE, []),
        ("en_uk", {p: True for p in CHECKED_PARAMS - {"language_detection"}}, []),
        (
            "es",
            {
                "disfluencies": True,
                "sentiment_analysis": True,
                "summarization": True,
                "auto_highlights": True,
            },
            ["auto_highlights", "disfluencies", "sentiment_analysis", "summarization"],
        ),
        ("fr", {"auto_highlights": False, "speaker_labels": None, "custom_spelling": []}, []),
        ("fr", {"webhook_url": "https://x", "prompt": "p", "word_boost": ["a"]}, []),
        ("EN-US", {"auto_highlights": True}, []),
        ("FR", {"auto_highlights": True}, ["auto_highlights"]),
        ("xx", {"auto_highlights": True}, []),
    ],
)
def test_unavailable_addons(code: str, params: dict, expected: list[str]) -> None:
    assert unavailable_addons(code, params) == expected


@pytest.mark.parametrize(
    "api, whisper",
    [
        ("en", "en"),
        ("en_us", "en"),
        ("en_uk", "en"),
        ("en_au", "en"),
        ("fr", "fr"),
        ("no", "no"),
        ("haw", "haw"),
        ("jw", "jw"),
        ("jv", "jw"),
        ("ZH", "zh"),
        ("xx", None),
        ("", None),
    ],
)
def test_to_whisper_language(api: str, whisper: str | None) -> None:
    assert to_whisper_language(api) == whisper


def test_every_api_code_has_a_whisper_language() -> None:
    assert all(to_whisper_language(code) in WHISPER_LANGUAGES for code in LANGUAGE_CODES)


@pytest.mark.parametrize(
    "whisper, api", [("en", "en"), ("zh", "zh"), ("yue", "zh"), ("jw", "jw"), ("jv", "jw"), ("no", "no")]
)
def test_to_api_language(whisper: str, api: str) -> None:
    assert to_api_language(whisper) == api


def test_every_whisper_language_reports_a_known_code() -> None:
    assert all(is_known_language(to_api_language(code)) for code in WHISPER_LANGUAGES)


def test_whisper_set_matches_faster_whisper() -> None:
    tokenizer = pytest.importorskip("faster_whisper.tokenizer")
    assert set(tokenizer._LANGUAGE_CODES) == WHISPER_LANGUAGES
