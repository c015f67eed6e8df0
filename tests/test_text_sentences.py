"""Unit tests for server.text.sentences (sentences and paragraphs exports)."""

from __future__ import annotations

import copy

import pytest

from server.text.sentences import (
    MAX_PARAGRAPH_SENTENCES,
    MAX_PARAGRAPH_WORDS,
    PARAGRAPH_PAUSE_MS,
    SENTENCE_PAUSE_MS,
    split_paragraphs,
    split_sentences,
)
from server.text.types import Word


def make_words(text: str, *, step: int = 500, start: int = 0, speaker: str | None = None) -> list[Word]:
    return [
        {
            "text": token,
            "start": start + i * step,
            "end": start + i * step + 400,
            "confidence": 0.5 + (i % 2) * 0.5,
            "speaker": speaker,
        }
        for i, token in enumerate(text.split())
    ]


def texts(items: list[dict]) -> list[str]:
    return [item["text"] for item in items]


# --- sentences ----------


def test_empty():
    assert split_sentences([]) == []
    assert split_paragraphs([]) == []


def test_single_word():
    words = make_words("Hello")
    assert split_sentences(words) == [
        {"text": "Hello", "start": 0, "end": 400, "confidence": 0.5, "words": words, "speaker": None}
    ]


def test_sentence_fields():
    words = make_words("Smoke rises. Skies are gray.", speaker="A")
    sentences = split_sentences(words)
    assert sentences == [
        {
            "text": "Smoke rises.",
            "start": 0,
            "end": 900,
            "confidence": 0.75,
            "words": words[:2],
            "speaker": "A",
        },
        {
            "text": "Skies are gray.",
            "start": 1000,
            "end": 2400,
            "confidence": pytest.approx((0.5 + 1.0 + 0.5) / 3),
            "words": words[2:],
            "speaker": "A",
        },
    ]
    assert all("channel" not in s for s in sentences)


def test_sentence_words_are_copies():
    words = make_words("One. Two.")
    before = copy.deepcopy(words)
    sentences = split_sentences(words)
    sentences[0]["words"][0]["text"] = "changed"
    assert words == before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two? Three! Four", ["One.", "Two?", "Three!", "Four"]),
        ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
        ("Mr. Smith met Dr. Jones. Done.", ["Mr. Smith met Dr. Jones.", "Done."]),
        ("The U.S. Army won. Yes.", ["The U.S. Army won.", "Yes."]),
        ("I love the U.S.", ["I love the U.S."]),
        ("Use e.g. this. Fine.", ["Use e.g. this.", "Fine."]),
        ("J. R. R. Tolkien wrote it.", ["J. R. R. Tolkien wrote it."]),
        ("It costs 3.5 dollars. Cheap.", ["It costs 3.5 dollars.", "Cheap."]),
        ("I counted to 3. Then stopped.", ["I counted to 3.", "Then stopped."]),
        ("Well... maybe later.", ["Well... maybe later."]),
        ("Hello, world, how are you", ["Hello, world, how are you"]),
        ("Wait?! What.", ["Wait?!", "What."]),
    ],
)
def test_sentence_boundaries(text, expected):
    assert texts(split_sentences(make_words(text))) == expected


def test_acronym_ends_sentence_at_a_pause():
    words = make_words("I love the U.S.") + make_words("Really.", start=1900 + SENTENCE_PAUSE_MS)
    assert texts(split_sentences(words)) == ["I love the U.S.", "Really."]
    words = make_words("I love the U.S.") + make_words("Really.", start=1900 + SENTENCE_PAUSE_MS - 1)
    assert texts(split_sentences(words)) == ["I love the U.S. Really."]


def test_speaker_change_ends_sentence():
    words = make_words("Hello there how are you")
    for w in words[:2]:
        w["speaker"] = "A"
    for w in words[2:]:
        w["speaker"] = "B"
    sentences = split_sentences(words)
    assert texts(sentences) == ["Hello there", "how are you"]
    assert [s["speaker"] for s in sentences] == ["A", "B"]


def test_channel_change_ends_sentence_and_channel_is_reported():
    words = make_words("left says hi. right answers")
    for w in words[:2]:
        w["channel"] = "1"
    for w in words[2:]:
        w["channel"] = "2"
    sentences = split_sentences(words)
    assert texts(sentences) == ["left says", "hi.", "right answers"]
    assert [s["channel"] for s in sentences] == ["1", "2", "2"]
    assert [s["speaker"] for s in sentences] == [None, None, None]


def test_unpunctuated_text_splits_at_pauses():
    words = (
        make_words("hello there")
        + make_words("how are you", start=900 + SENTENCE_PAUSE_MS)
        + make_words("fine", start=900 + SENTENCE_PAUSE_MS + 1400 + SENTENCE_PAUSE_MS - 1)
    )
    assert texts(split_sentences(words)) == ["hello there", "how are you fine"]


def test_punctuated_text_ignores_short_and_long_pauses_inside_sentence():
    words = make_words("hello there") + make_words("friend.", start=5000)
    assert texts(split_sentences(words)) == ["hello there friend."]


def test_unpunctuated_without_pauses_is_one_sentence():
    assert texts(split_sentences(make_words("a b c d e f g"))) == ["a b c d e f g"]


def test_empty_text_words_are_skipped():
    words = make_words("Hi. There.")
    words.insert(1, {"text": "", "start": 450, "end": 460, "confidence": 1.0, "speaker": None})
    assert [len(s["words"]) for s in split_sentences(words)] == [1, 1]


# --- paragraphs ----------


def test_paragraph_fields():
    words = make_words("One two. Three.")
    assert split_paragraphs(words) == [
        {
            "text": "One two. Three.",
            "start": 0,
            "end": 1400,
            "confidence": pytest.approx(2.0 / 3),
            "words": words,
        }
    ]


def test_paragraph_has_no_speaker_key():
    paragraphs = split_paragraphs(make_words("Hi.", speaker="A"))
    assert set(paragraphs[0]) == {"text", "start", "end", "confidence", "words"}


def test_paragraph_breaks_at_long_pause():
    words = make_words("One. Two.") + make_words("Three.", start=900 + PARAGRAPH_PAUSE_MS)
    assert texts(split_paragraphs(words)) == ["One. Two.", "Three."]


def test_paragraph_no_break_at_shorter_pause():
    words = make_words("One. Two.") + make_words("Three.", start=900 + PARAGRAPH_PAUSE_MS - 1)
    assert texts(split_paragraphs(words)) == ["One. Two. Three."]


def test_paragraph_breaks_at_speaker_change():
    a = make_words("Hi. How are you?", speaker="A")
    b = make_words("Fine.", start=2000, speaker="B")
    paragraphs = split_paragraphs(a + b)
    assert texts(paragraphs) == ["Hi. How are you?", "Fine."]


def test_paragraph_sentence_limit():
    n = MAX_PARAGRAPH_SENTENCES * 2 + 1
    words = make_words(" ".join(f"S{i}." for i in range(n)))
    paragraphs = split_paragraphs(words)
    assert [len(p["words"]) for p in paragraphs] == [MAX_PARAGRAPH_SENTENCES, MAX_PARAGRAPH_SENTENCES, 1]


def test_paragraph_word_limit():
    sentence = " ".join(["word"] * 29) + " end."  # 30 words
    words = make_words(" ".join([sentence] * 3))
    paragraphs = split_paragraphs(words)
    assert [len(p["words"]) for p in paragraphs] == [60, 30]
    assert all(len(p["words"]) <= MAX_PARAGRAPH_WORDS for p in paragraphs)


def test_single_sentence_longer_than_word_limit_is_one_paragraph():
    words = make_words(" ".join(["w"] * (MAX_PARAGRAPH_WORDS + 20)) + " end.")
    paragraphs = split_paragraphs(words)
    assert len(paragraphs) == 1
    assert len(paragraphs[0]["words"]) == MAX_PARAGRAPH_WORDS + 21


def test_paragraphs_cover_all_words_in_order():
    words = make_words("A b. C d? E! " * 10, speaker="A")
    paragraphs = split_paragraphs(words)
    flat = [w for p in paragraphs for w in p["words"]]
    assert flat == words
    assert " ".join(texts(paragraphs)) == " ".join(w["text"] for w in words)
