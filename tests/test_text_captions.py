"""Unit tests for server.text.captions (SRT / WebVTT exports)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import srt
import webvtt

from server.text.captions import (
    DEFAULT_CHARS_PER_CAPTION,
    format_srt_time,
    format_vtt_time,
    to_srt,
    to_vtt,
)
from server.text.types import Word


def make_words(text: str, *, step: int = 500, start: int = 0, speaker: str | None = None) -> list[Word]:
    return [
        {
            "text": t,
            "start": start + i * step,
            "end": start + i * step + 400,
            "confidence": 0.9,
            "speaker": speaker,
        }
        for i, t in enumerate(text.split())
    ]


def srt_cues(document: str) -> list[srt.Subtitle]:
    return list(srt.parse(document))


def vtt_cues(document: str) -> list:
    return list(webvtt.from_string(document))


HOUR = 3_600_000


# --- time formatting ----------


@pytest.mark.parametrize(
    ("ms", "srt_time", "vtt_time"),
    [
        (0, "00:00:00,000", "00:00.000"),
        (7, "00:00:00,007", "00:00.007"),
        (12_340, "00:00:12,340", "00:12.340"),
        (61_001, "00:01:01,001", "01:01.001"),
        (HOUR - 1, "00:59:59,999", "59:59.999"),
        (HOUR, "01:00:00,000", "01:00:00.000"),
        (HOUR + 62_345, "01:01:02,345", "01:01:02.345"),
        (10 * HOUR + 5, "10:00:00,005", "10:00:00.005"),
        (100 * HOUR, "100:00:00,000", "100:00:00.000"),
    ],
)
def test_time_formats(ms, srt_time, vtt_time):
    assert format_srt_time(ms) == srt_time
    assert format_vtt_time(ms) == vtt_time


# --- empty and tiny inputs ----------


def test_empty_words():
    assert to_srt([]) == ""
    assert to_vtt([]) == "WEBVTT\n\n"
    assert srt_cues(to_srt([])) == []
    assert vtt_cues(to_vtt([])) == []
    assert to_srt([], chars_per_caption=10) == ""
    assert to_vtt([], chars_per_caption=10) == "WEBVTT\n\n"


def test_words_with_empty_text_only():
    words = make_words("x")
    words[0]["text"] = "  "
    assert to_srt(words) == ""
    assert to_vtt(words) == "WEBVTT\n\n"


def test_single_word_exact_documents():
    words = [{"text": "Smoke", "start": 250, "end": 650, "confidence": 0.97, "speaker": None}]
    assert to_srt(words) == "1\n00:00:00,250 --> 00:00:00,650\nSmoke\n\n"
    assert to_vtt(words) == "WEBVTT\n\n00:00.250 --> 00:00.650\nSmoke\n\n"


# --- default splitting ----------


def test_default_splits_at_sentence_ends():
    words = make_words("Smoke rises. Skies are gray. Stay inside")
    assert to_srt(words) == (
        "1\n00:00:00,000 --> 00:00:00,900\nSmoke rises.\n\n"
        "2\n00:00:01,000 --> 00:00:02,400\nSkies are gray.\n\n"
        "3\n00:00:02,500 --> 00:00:03,400\nStay inside\n\n"
    )
    assert to_vtt(words) == (
        "WEBVTT\n\n"
        "00:00.000 --> 00:00.900\nSmoke rises.\n\n"
        "00:01.000 --> 00:02.400\nSkies are gray.\n\n"
        "00:02.500 --> 00:03.400\nStay inside\n\n"
    )


def test_default_splits_long_sentence_at_80_characters():
    words = make_words(" ".join(["abcdefghi"] * 20) + ".")  # 20 words of 9-10 chars
    cues = srt_cues(to_srt(words))
    assert [len(c.content) for c in cues] == [79, 79, 40]
    assert all(len(c.content) <= DEFAULT_CHARS_PER_CAPTION for c in cues)
    assert " ".join(c.content for c in cues) == " ".join(w["text"] for w in words)


def test_default_splits_at_speaker_change():
    words = make_words("hello there", speaker="A") + make_words("hi", start=1000, speaker="B")
    assert [c.content for c in srt_cues(to_srt(words))] == ["hello there", "hi"]


def test_default_unpunctuated_uses_pauses():
    words = make_words("one two") + make_words("three", start=3000)
    assert [c.content for c in srt_cues(to_srt(words))] == ["one two", "three"]


# --- chars_per_caption ----------


@pytest.mark.parametrize("limit", [1, 5, 10, 16, 32, 50, 200])
def test_chars_per_caption_limit(limit):
    words = make_words("Smoke from hundreds of wildfires in Canada is triggering air quality alerts. Yes.")
    cues = srt_cues(to_srt(words, chars_per_caption=limit))
    longest_word = max(len(w["text"]) for w in words)
    for cue in cues:
        assert len(cue.content) <= limit or (" " not in cue.content and len(cue.content) <= longest_word)
    assert " ".join(c.content for c in cues) == " ".join(w["text"] for w in words)
    assert [c.index for c in cues] == list(range(1, len(cues) + 1))


def test_chars_per_caption_packs_across_sentences():
    words = make_words("Hi. Yes. No. Ok.")
    assert [c.content for c in srt_cues(to_srt(words, chars_per_caption=8))] == ["Hi. Yes.", "No. Ok."]


def test_chars_per_caption_exact_cues():
    words = make_words("aa bb cc dd")
    assert to_srt(words, chars_per_caption=5) == (
        "1\n00:00:00,000 --> 00:00:00,900\naa bb\n\n2\n00:00:01,000 --> 00:00:01,900\ncc dd\n\n"
    )


def test_word_longer_than_limit_gets_own_cue():
    words = make_words("a supercalifragilistic b")
    assert [c.content for c in srt_cues(to_srt(words, chars_per_caption=5))] == [
        "a",
        "supercalifragilistic",
        "b",
    ]


@pytest.mark.parametrize("limit", [0, -3])
def test_non_positive_chars_per_caption_means_default(limit):
    words = make_words("Smoke rises. Skies are gray.")
    assert to_srt(words, chars_per_caption=limit) == to_srt(words)


# --- parse with the srt / webvtt-py packages ----------


def test_srt_parses_with_srt_package():
    words = make_words("Smoke rises. Skies are gray. Stay inside.", step=700, start=1234)
    cues = srt_cues(to_srt(words))
    assert [(c.index, c.start, c.end, c.content) for c in cues] == [
        (1, timedelta(milliseconds=1234), timedelta(milliseconds=2334), "Smoke rises."),
        (2, timedelta(milliseconds=2634), timedelta(milliseconds=4434), "Skies are gray."),
        (3, timedelta(milliseconds=4734), timedelta(milliseconds=5834), "Stay inside."),
    ]


def test_vtt_parses_with_webvtt_py():
    words = make_words("Smoke rises. Skies are gray.", step=700, start=1234)
    cues = vtt_cues(to_vtt(words))
    assert [(c.start, c.end, c.text) for c in cues] == [
        ("00:00:01.234", "00:00:02.334", "Smoke rises."),
        ("00:00:02.634", "00:00:04.434", "Skies are gray."),
    ]


def test_timestamps_past_one_hour():
    words = make_words("Before the hour.", start=HOUR - 3000) + make_words("After it.", start=HOUR + 1000)
    document = to_vtt(words)
    assert "59:57.000 --> 59:58.400\nBefore the hour.\n\n" in document
    assert "01:00:01.000 --> 01:00:01.900\nAfter it.\n\n" in document
    cues = vtt_cues(document)
    assert [c.start_in_seconds for c in cues] == [HOUR // 1000 - 3, HOUR // 1000 + 1]
    srt_document = to_srt(words)
    assert "01:00:01,000 --> 01:00:01,900" in srt_document
    assert [c.start for c in srt_cues(srt_document)] == [
        timedelta(milliseconds=HOUR - 3000),
        timedelta(milliseconds=HOUR + 1000),
    ]


def test_many_hours_parse():
    words = make_words("Late words here.", start=25 * HOUR + 123)
    assert srt_cues(to_srt(words))[0].start == timedelta(milliseconds=25 * HOUR + 123)
    assert vtt_cues(to_vtt(words))[0].start == "25:00:00.123"


def test_arrow_and_newlines_in_text_are_neutralised():
    words = make_words("a b")
    words[0]["text"] = "x-->y"
    words[1]["text"] = "line\nbreak"
    assert [c.content for c in srt_cues(to_srt(words))] == ["x->y line break"]
    assert [c.text for c in vtt_cues(to_vtt(words))] == ["x->y line break"]


def test_end_never_before_start():
    words = make_words("odd")
    words[0]["end"] = words[0]["start"] - 100
    cue = srt_cues(to_srt(words))[0]
    assert cue.end == cue.start


def test_channels_and_speakers_do_not_break_parsing():
    words = make_words("Left speaks. Right answers.", speaker="A")
    for i, w in enumerate(words):
        w["channel"] = "1" if i < 2 else "2"
    assert len(srt_cues(to_srt(words))) == 2
    assert len(vtt_cues(to_vtt(words, chars_per_caption=12))) == 3
