"""Unit tests for server.text.word_search (word-search export)."""

from __future__ import annotations

import pytest

from server.text.types import Word
from server.text.word_search import search_words


def make_words(text: str, *, step: int = 500) -> list[Word]:
    return [
        {"text": t, "start": i * step, "end": i * step + 400, "confidence": 0.9, "speaker": None}
        for i, t in enumerate(text.split())
    ]


WORDS = make_words(
    "Smoke from hundreds of wildfires in Canada. Smoke, smoke! The smoke-free U.S. has 5 alerts; "
    "5, 50 and five. New York City, new york, NEW YORK."
)


def match_for(result: dict, term: str) -> dict:
    return next(m for m in result["matches"] if m["text"] == term)


def test_empty_words_and_terms():
    assert search_words([], []) == {"total_count": 0, "matches": []}
    assert search_words([], ["smoke"]) == {
        "total_count": 0,
        "matches": [{"text": "smoke", "count": 0, "timestamps": [], "indexes": []}],
    }
    assert search_words(WORDS, []) == {"total_count": 0, "matches": []}


def test_single_word_exact_result():
    result = search_words(WORDS, ["smoke"])
    assert result == {
        "total_count": 3,
        "matches": [
            {
                "text": "smoke",
                "count": 3,
                "timestamps": [[0, 400], [3500, 3900], [4000, 4400]],
                "indexes": [0, 7, 8],
            }
        ],
    }


@pytest.mark.parametrize(
    ("term", "indexes"),
    [
        ("smoke", [0, 7, 8]),
        ("SMOKE", [0, 7, 8]),
        ("Smoke!", [0, 7, 8]),
        ("canada", [6]),
        ("Canada.", [6]),
        ("smoke-free", [10]),
        ("u.s.", [11]),
        ("U.S", [11]),
        ("us", []),
        ("5", [13, 15]),
        ("50", [16]),
        ("five", [18]),
        ("alerts", [14]),
        ("alert", []),
        ("new york", [19, 22, 24]),
        ("new york city", [19]),
        ("york city", [20]),
        ("  wildfires  ", [4]),
        ("from hundreds of wildfires in", [1]),
        ("hundreds canada", []),
        ("zebra", []),
    ],
)
def test_term_matching(term, indexes):
    match = search_words(WORDS, [term])["matches"][0]
    assert match["indexes"] == indexes
    assert match["count"] == len(indexes)


def test_phrase_timestamp_spans_first_to_last_word():
    match = search_words(WORDS, ["New York City"])["matches"][0]
    assert match == {"text": "New York City", "count": 1, "timestamps": [[9500, 10900]], "indexes": [19]}


def test_multiple_terms_total_count_and_order():
    result = search_words(WORDS, ["wildfires", "smoke", "new york", "missing"])
    assert [m["text"] for m in result["matches"]] == ["wildfires", "smoke", "new york", "missing"]
    assert [m["count"] for m in result["matches"]] == [1, 3, 3, 0]
    assert result["total_count"] == 7


@pytest.mark.parametrize("term", ["", "   ", ",", "...", "!?"])
def test_empty_terms_are_skipped(term):
    result = search_words(WORDS, [term, "canada"])
    assert [m["text"] for m in result["matches"]] == ["canada"]
    assert result["total_count"] == 1


def test_term_text_is_returned_as_sent_without_surrounding_space():
    assert match_for(search_words(WORDS, [" Smoke "]), "Smoke")["count"] == 3


def test_duplicate_terms_each_reported():
    result = search_words(WORDS, ["canada", "Canada"])
    assert [(m["text"], m["count"]) for m in result["matches"]] == [("canada", 1), ("Canada", 1)]
    assert result["total_count"] == 2


def test_overlapping_phrase_occurrences_are_not_double_counted():
    words = make_words("la la la la la")
    match = search_words(words, ["la la"])["matches"][0]
    assert match["indexes"] == [0, 2]
    assert match["timestamps"] == [[0, 900], [1000, 1900]]


def test_punctuation_only_words_do_not_block_phrases():
    words = make_words("new — york")
    assert search_words(words, ["new york"])["matches"][0]["indexes"] == [0]


def test_word_with_spaces_from_custom_spelling():
    words = make_words("we met X today")
    words[2]["text"] = "Peter DeCarlo"
    assert search_words(words, ["decarlo"])["matches"][0]["indexes"] == [2]
    assert search_words(words, ["met peter"])["matches"][0] == {
        "text": "met peter",
        "count": 1,
        "timestamps": [[500, 1400]],
        "indexes": [1],
    }


def test_single_word_transcript():
    words = make_words("Hello.")
    assert search_words(words, ["hello", "hello there"]) == {
        "total_count": 1,
        "matches": [
            {"text": "hello", "count": 1, "timestamps": [[0, 400]], "indexes": [0]},
            {"text": "hello there", "count": 0, "timestamps": [], "indexes": []},
        ],
    }


def test_input_not_mutated():
    words = make_words("Smoke, smoke.")
    before = [dict(w) for w in words]
    search_words(words, ["smoke"])
    assert words == before
