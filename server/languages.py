"""Language data in one place: the API's language codes, which options each language supports, and
the mapping between API codes and Whisper's codes.

Sources:
- Codes: OpenAPI `#/components/schemas/TranscriptLanguageCode` (102 values; PyYAML reads `no` as False,
  which is why they are written out here as strings) — docs/compatibility.md#languages.
- Per-language options: the docs' Markdown fallback table
  `fern/pages/getting-started/supported-languages/_nano.md` (assemblyai-api-spec@3fcf678, last changed
  2026-02-10), digested in docs/compatibility.md#language-features. CHOICE
  (docs/compatibility.md#language-features, #choice-language-table): that one table applies to every model,
  and only request options are checked — the SUB/S-P/WS columns are exports, always served.
- Whisper codes: `faster_whisper.tokenizer._LANGUAGE_CODES` (100 values; the API has all but `yue`, plus the
  three English variants).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _words(text: str) -> tuple[str, ...]:
    """Whitespace-separated codes: the tables below read like the docs they copy."""
    return tuple(text.split())


# OpenAPI TranscriptLanguageCode enum, in spec order.
LANGUAGE_CODES: tuple[str, ...] = _words(
    """
    en en_au en_uk en_us es fr de it pt nl af sq am ar hy as az ba eu be bn bs br bg my ca zh hr cs da
    et fo fi gl ka el gu ht ha haw he hi hu is id ja jw kn kk km ko lo la lv ln lt lb mk mg ms ml mt mi
    mr mn ne no nn oc pa ps fa pl ro ru sa sr sn sd si sk sl so su sw sv tl tg ta tt te th bo tr tk uk
    ur uz vi cy yi yo
    """
)
_KNOWN = frozenset(LANGUAGE_CODES)

# Column of the docs table -> the request parameters it governs.
FEATURE_COLUMNS: dict[str, tuple[str, ...]] = {
    "SL": ("speaker_labels",),
    "CS": ("custom_spelling",),
    "MC": ("multichannel", "dual_channel"),
    "FW": ("disfluencies",),
    "LD": ("language_detection",),
    "PC": ("punctuate", "format_text"),
    "PF": ("filter_profanity",),
    "PII": ("redact_pii",),
    "PIIA": ("redact_pii_audio",),
    "KP": ("auto_highlights",),
    "CM": ("content_safety",),
    "TD": ("iab_categories",),
    "SA": ("sentiment_analysis",),
    "SUM": ("summarization",),
    "AC": ("auto_chapters",),
    "ED": ("entity_detection",),
}

# Row groups of `_nano.md` (docs/compatibility.md#language-features): languages -> columns marked ✓ (export
# columns left out).
_ROWS: tuple[tuple[str, str], ...] = (
    ("en", "SL CS MC FW LD PC PF PII PIIA KP CM TD SA SUM AC ED"),
    ("en_au en_uk en_us", "SL CS MC FW PC PF PII PIIA KP CM TD SA SUM AC ED"),
    ("es", "SL CS MC LD PC PF PII PIIA CM TD ED"),
    ("fr de it pt", "SL CS MC LD PC PF PII CM TD ED"),
    ("nl hi", "SL CS MC LD PC PF PII ED"),
    ("fi pl ru vi", "SL CS MC LD PC PII ED"),
    ("ja", "SL CS MC LD PC PF PII ED"),
    ("zh ko tr", "SL CS MC LD PC PII ED"),
    ("be bg ca hr cs da et el he hu is id lv lt lb ms no ro sk sl sw sv tl uk", "CS MC LD PC PII ED"),
    ("af ar my ka km fa ta", "CS MC LD PC PII ED"),
    (
        "sq am as ba eu bs br fo gl gu ht ha haw jw kk lo la ln mk mg mt mi nn oc ps sa sr sn sd so su tg "
        "tt bo tk uz cy yi yo",
        "CS MC LD PC",
    ),
    ("hy az bn kn ml mr mn ne pa si te th ur", "CS MC LD PC"),
)

# Every request parameter the table governs (a parameter outside this set is never language-checked).
CHECKED_PARAMS: frozenset[str] = frozenset(p for params in FEATURE_COLUMNS.values() for p in params)


def _build_availability() -> dict[str, frozenset[str]]:
    """Expand the row groups into language -> available request parameters."""
    table: dict[str, frozenset[str]] = {}
    for codes, columns in _ROWS:
        params = frozenset(p for col in columns.split() for p in FEATURE_COLUMNS[col])
        for code in codes.split():
            table[code] = params
    return table


AVAILABLE_PARAMS: dict[str, frozenset[str]] = _build_availability()

# faster_whisper.tokenizer._LANGUAGE_CODES, copied so that this module needs no engine import.
WHISPER_LANGUAGES: frozenset[str] = frozenset(
    _words(
        """
        af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he hi
        hr ht hu hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne nl nn no
        oc pa pl ps pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk ur uz vi yi yo
        zh yue
        """
    )
)

# API code -> Whisper code where they differ (all English variants are one Whisper language; `jv` is the
# ISO 639-1 spelling of Whisper's and the API's `jw`).
_API_TO_WHISPER: dict[str, str] = {"en_us": "en", "en_uk": "en", "en_au": "en", "jv": "jw"}
# Whisper (or ISO) code -> API code where they differ: Whisper's Cantonese is reported as Chinese; ISO 639-1
# `jv` (Javanese) is spelled `jw` by both Whisper and the API.
_WHISPER_TO_API: dict[str, str] = {"yue": "zh", "jv": "jw"}


def normalize_language_code(code: str) -> str:
    """Lower-case and use `_` as separator, so `EN-US` and `en_us` name the same language."""
    return code.strip().lower().replace("-", "_")


def is_known_language(code: object) -> bool:
    """True for one of the 102 API language codes (after normalisation)."""
    return isinstance(code, str) and normalize_language_code(code) in _KNOWN


def unavailable_addons(language_code: str, params: Mapping[str, Any]) -> list[str]:
    """Sorted names of the enabled (truthy) parameters in `params` that `language_code` does not support.

    Callers pass only what the user asked for: `punctuate`/`format_text` default to true, and a default the
    server applies itself must never make a request fail. (Every language has PC today, so this only
    matters if the table changes.) An unknown code yields [] — rejecting unknown codes is a separate check.
    """
    available = AVAILABLE_PARAMS.get(normalize_language_code(language_code))
    if available is None:
        return []
    return sorted(
        name for name, value in params.items() if name in CHECKED_PARAMS and value and name not in available
    )


def to_whisper_language(api_code: str) -> str | None:
    """The Whisper language for an API code, or None when Whisper cannot transcribe it."""
    code = normalize_language_code(api_code)
    code = _API_TO_WHISPER.get(code, code)
    return code if code in WHISPER_LANGUAGES else None


def to_api_language(whisper_code: str) -> str:
    """The API code to report for a language Whisper detected (`en` stays `en`: the en_* codes lack LD)."""
    code = normalize_language_code(whisper_code)
    return _WHISPER_TO_API.get(code, code)
