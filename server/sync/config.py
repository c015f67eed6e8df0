"""The `config` part of a Sync or Dictation request → the typed options the decoding needs.

Sync (docs/compatibility.md#sync-api): the SDK's `SyncTranscriptionConfig` keys, plus the skill's spellings
`word_boost` and `language_code`; other keys are ignored (CHOICE, like REST). Dictation
(docs/compatibility.md#dictation-api): exactly the SDK's `DictationConfig` keys; anything else is rejected, as
the SDK documents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from server import errors
from server.languages import to_whisper_language

MAX_CONFIG_BYTES = 256 * 1024
MAX_KEYTERMS = 100
MAX_KEYTERMS_CHARS = 8000
MAX_CONTEXT_TURNS = 500
MAX_CONTEXT_CHARS = 16000  # over-long context is trimmed, oldest turns first (the SDK's documented rule)
MAX_LANGUAGE_CODES = 10


def _keyterms(value: list[str] | None) -> list[str] | None:
    if not value:
        return None
    terms = [t.strip() for t in value if t and t.strip()]
    if len(terms) > MAX_KEYTERMS:
        raise ValueError(f"keyterms_prompt exceeds {MAX_KEYTERMS} terms (got {len(terms)})")
    if sum(len(t) for t in terms) > MAX_KEYTERMS_CHARS:
        raise ValueError(f"keyterms_prompt exceeds {MAX_KEYTERMS_CHARS} characters")
    return terms or None


class _AudioFormat(BaseModel):
    sample_rate: int | None = Field(default=None, ge=1000, le=384_000)
    channels: int | None = Field(default=None, ge=1, le=32)


class SyncConfig(_AudioFormat):
    model_config = ConfigDict(extra="ignore")

    prompt: str | None = Field(default=None, max_length=6000)
    keyterms_prompt: list[str] | None = None
    word_boost: list[str] | None = None
    conversation_context: str | list[str] | None = None
    language_codes: list[str] | None = Field(default=None, max_length=MAX_LANGUAGE_CODES)
    language_code: str | None = None
    timestamps: bool | None = None

    _terms = field_validator("keyterms_prompt", "word_boost")(_keyterms)


class DictationConfig(_AudioFormat):
    model_config = ConfigDict(extra="forbid")

    language_codes: list[str] | None = Field(default=None, max_length=MAX_LANGUAGE_CODES)
    stt_prompt: str | None = Field(default=None, max_length=6000)
    keyterms_prompt: list[str] | None = None
    llm_instruction: str | None = Field(default=None, max_length=2048)
    rewrite_mode: Literal["fast", "smart"] | None = None

    _terms = field_validator("keyterms_prompt")(_keyterms)


@dataclass
class DecodeHints:
    """What reaches the decoder, whichever API the request came through."""

    sample_rate: int | None = None  # raw PCM only
    channels: int | None = None
    language: str | None = None  # whisper code; None: detect
    hotwords: list[str] = field(default_factory=list)
    prompt: str | None = None  # what whisper sees as the text before the audio
    timestamps: bool = False
    llm_instruction: str | None = None
    rewrite_mode: str | None = None


def parse_config(raw: bytes, model: type[SyncConfig] | type[DictationConfig]) -> DecodeHints:
    """The config part's bytes (may be empty) → hints; errors.Problem 400 `Invalid Config` when wrong."""
    try:
        data: Any = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise errors.problem(errors.SYNC_INVALID_CONFIG, problem="config must be a JSON object") from None
    if not isinstance(data, dict):
        raise errors.problem(errors.SYNC_INVALID_CONFIG, problem="config must be a JSON object")
    try:
        config = model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "config"
        raise errors.problem(errors.SYNC_INVALID_CONFIG, problem=f"{where}: {first.get('msg')}") from None
    if (config.sample_rate is None) != (config.channels is None):
        raise errors.problem(
            errors.SYNC_INVALID_CONFIG, problem="sample_rate and channels must be given together (raw PCM)"
        )
    if isinstance(config, SyncConfig):
        codes = config.language_codes or ([config.language_code] if config.language_code else [])
        prompt = _join_prompt(config.prompt, _context(config.conversation_context))
        hotwords = [*(config.keyterms_prompt or []), *(config.word_boost or [])]
        hints = DecodeHints(prompt=prompt, hotwords=hotwords, timestamps=bool(config.timestamps))
    else:
        codes = config.language_codes or []
        hints = DecodeHints(
            prompt=config.stt_prompt or None,
            hotwords=config.keyterms_prompt or [],
            llm_instruction=config.llm_instruction or None,
            rewrite_mode=config.rewrite_mode,
        )
    hints.sample_rate, hints.channels = config.sample_rate, config.channels
    hints.language = _language(codes)
    return hints


def _language(codes: list[str]) -> str | None:
    """One code: decode in that language; several (code-switching) or none: whisper detects it."""
    whisper = []
    for code in codes:
        mapped = to_whisper_language(code) if isinstance(code, str) else None
        if mapped is None:
            raise errors.problem(errors.SYNC_INVALID_CONFIG, problem=f"language_codes: unknown code '{code}'")
        whisper.append(mapped)
    return whisper[0] if len(set(whisper)) == 1 else None


def _context(value: str | list[str] | None) -> str | None:
    turns = [value] if isinstance(value, str) else list(value or [])
    turns = [t.strip() for t in turns if t and t.strip()][-MAX_CONTEXT_TURNS:]
    while turns and sum(len(t) + 1 for t in turns) > MAX_CONTEXT_CHARS:
        turns.pop(0)
    return " ".join(turns) or None


def _join_prompt(prompt: str | None, context: str | None) -> str | None:
    """Whisper reads its prompt as the text just before the audio: the instruction, then the most recent
    turns last (faster-whisper keeps the prompt's tail when it is too long)."""
    parts = [p.strip() for p in (prompt, context) if p and p.strip()]
    return " ".join(parts) or None
