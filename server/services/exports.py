"""Exports derived on request from a completed transcript's stored words (docs/compatibility.md#exports); a
replayed transcript's are the recorded ones (docs/testing.md#record-and-replay)."""

from __future__ import annotations

from typing import Any

from server import errors
from server.db.models import Transcript, TranscriptStatus
from server.jobs.result_keys import RECORDED_EXPORTS
from server.text.captions import to_srt, to_vtt
from server.text.sentences import split_paragraphs, split_sentences
from server.text.types import Word
from server.text.word_search import (
    MAX_TERM_CHARS,
    MAX_TERM_WORDS,
    MAX_TERMS,
    TermLimitError,
    check_terms,
    search_words,
)


def _words(t: Transcript) -> list[Word]:
    """Words of a completed transcript; a deleted one has none (CHOICE docs/compatibility.md#delete)."""
    if t.status != TranscriptStatus.COMPLETED:
        raise errors.ApiError(400, errors.NOT_COMPLETED.format(status=t.status))
    if t.deleted_at is not None or not t.result:
        return []
    return t.result.get("words") or []


def _envelope(t: Transcript, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    result = t.result or {}
    return {
        "id": t.id,
        "confidence": result.get("confidence") or 0.0,
        "audio_duration": float(t.audio_duration or 0),
        key: items,
    }


def _recorded(t: Transcript, name: str) -> Any:
    """The export as the upstream gave it when the job was recorded; None: make it from the words."""
    words = _words(t)  # a job not completed answers its 400 first
    if not words or t.result is None:
        return None
    return (t.result.get(RECORDED_EXPORTS) or {}).get(name)


def sentences(t: Transcript) -> dict[str, Any]:
    recorded = _recorded(t, "sentences")
    if isinstance(recorded, dict):
        return {**recorded, "id": t.id}  # the replayed transcript's own id
    return _envelope(t, "sentences", split_sentences(_words(t)))


def paragraphs(t: Transcript) -> dict[str, Any]:
    recorded = _recorded(t, "paragraphs")
    if isinstance(recorded, dict):
        return {**recorded, "id": t.id}
    return _envelope(t, "paragraphs", split_paragraphs(_words(t)))


def subtitles(t: Transcript, fmt: str, chars_per_caption: int | None) -> str:
    recorded = _recorded(t, fmt) if chars_per_caption is None else None  # recorded at the default width
    if isinstance(recorded, str):
        return recorded
    words = _words(t)
    return to_srt(words, chars_per_caption) if fmt == "srt" else to_vtt(words, chars_per_caption)


def check_word_search_terms(terms: list[str]) -> None:
    """The documented bounds on a word search (400 before any transcript is read)."""
    try:
        check_terms(terms)
    except TermLimitError as exc:
        if exc.limit == "terms":
            message = errors.WORD_SEARCH_TOO_MANY_TERMS.format(limit=MAX_TERMS)
        else:
            message = errors.WORD_SEARCH_TERM_TOO_LONG.format(
                words=MAX_TERM_WORDS, chars=MAX_TERM_CHARS
            )
        raise errors.ApiError(400, message) from None


def word_search(t: Transcript, terms: list[str]) -> dict[str, Any]:
    return {"id": t.id, **search_words(_words(t), terms)}
