"""Unit tests for server.text.formatting (transcript text options)."""

from __future__ import annotations

import copy

import pytest

from server.text.formatting import (
    apply_options,
    ends_sentence,
    is_filler,
    join_text,
    match_key,
    split_edges,
    strip_punctuation,
)
from server.text.types import Word


def make_words(text: str, *, step: int = 500, speaker: str | None = None) -> list[Word]:
    """One word per whitespace token, 500 ms apart, 400 ms long, confidence rising with the index."""
    return [
        {
            "text": token,
            "start": i * step,
            "end": i * step + 400,
            "confidence": round(0.9 + i * 0.001, 3),
            "speaker": speaker,
        }
        for i, token in enumerate(text.split())
    ]


def text_of(words: list[Word], **options) -> str:
    return join_text(apply_options(words, **options))


# --- helpers ----------


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Smoke,", ("", "Smoke", ",")),
        ('"Hello!"', ('"', "Hello", '!"')),
        ("don't", ("", "don't", "")),
        ("U.S.", ("", "U.S", ".")),
        ("3.5", ("", "3.5", "")),
        ("—", ("—", "", "")),
        ("5%", ("", "5%", "")),
        ("(s***)", ("(", "s***", ")")),
        ("", ("", "", "")),
    ],
)
def test_split_edges(word, expected):
    assert split_edges(word) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [("Smoke,", "smoke"), ("WILDFIRES.", "wildfires"), ("¿Qué?", "qué"), ("...", ""), (" Hi ", "hi")],
)
def test_match_key(word, expected):
    assert match_key(word) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("end.", True),
        ("what?", True),
        ("wow!", True),
        ('said."', True),
        ("this.)", True),
        ("well…", True),
        ("comma,", False),
        ("3.5", False),
        ("plain", False),
        ("", False),
    ],
)
def test_ends_sentence(word, expected):
    assert ends_sentence(word) is expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("um", True),
        ("Um,", True),
        ("UMM.", False),  # all capitals reads as an acronym
        ("Uh", True),
        ("uhh", True),
        ("hmm", True),
        ("Hmmm?", True),
        ("mhm", True),
        ("Mm-hmm.", True),
        ("uh-huh", True),
        ("Uh-huh.", True),
        ("ah", True),
        ("huh?", True),
        ("hm", True),
        ("m", True),
        ("er", True),
        ("Erm,", True),
        ("ER", False),
        ("uh-oh", False),
        ("umbrella", False),
        ("oh", False),
        ("a", False),
        ("hum", False),
        ("", False),
    ],
)
def test_is_filler(word, expected):
    assert is_filler(word) is expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Americans,", "Americans"),
        ("don't", "don't"),
        ("rock'n'roll", "rock'n'roll"),
        ("Peter's.", "Peter's"),
        ("'90s", "90s"),
        ("U.S.", "US"),
        ("e.g.,", "eg"),
        ("3.5", "3.5"),
        ("3.5.", "3.5"),
        ("1,000,", "1,000"),
        ("$1,000.50!", "$1,000.50"),
        ("10:30", "10:30"),
        ("well-known", "well-known"),
        ("COVID-19.", "COVID-19"),
        ("-5", "-5"),
        ("5%", "5%"),
        ("s***.", "s***"),
        ("AT&T's", "AT&T's"),
        ("24/7", "24/7"),
        ('"Hello?"', "Hello"),
        ("(aside)", "aside"),
        ("—", ""),
        ("...", ""),
        ("end-", "end"),
        ("¿Qué?", "Qué"),
    ],
)
def test_strip_punctuation(word, expected):
    assert strip_punctuation(word) == expected


@pytest.mark.parametrize(
    ("texts", "expected"),
    [([], ""), (["One"], "One"), (["Hello,", "world."], "Hello, world."), (["a", "b", "c"], "a b c")],
)
def test_join_text(texts, expected):
    assert join_text(make_words(" ".join(texts))) == expected


# --- apply_options: defaults, immutability ----------


def test_empty_input():
    assert apply_options([]) == []
    assert apply_options([], punctuate=False, format_text=False, filter_profanity=True) == []


def test_defaults_keep_whisper_text_and_fields():
    words = make_words("Smoke from hundreds of wildfires in the U.S., 3.5 times.", speaker="A")
    out = apply_options(words)
    assert out == words
    assert all(a is not b for a, b in zip(out, words, strict=True))


def test_input_is_not_mutated():
    words = make_words("Um, so the damn U.S. Decarlo thing. Uh-huh.")
    words[0]["channel"] = "1"
    before = copy.deepcopy(words)
    out = apply_options(
        words,
        punctuate=False,
        format_text=False,
        filter_profanity=True,
        custom_spelling=[{"from": ["decarlo"], "to": "DeCarlo"}],
    )
    assert words == before
    out[0]["text"] = "changed"
    assert words == before


def test_channel_key_kept_when_present():
    words = make_words("Hello there.")
    for w in words:
        w["channel"] = "2"
    out = apply_options(words, punctuate=False)
    assert [w["channel"] for w in out] == ["2", "2"]
    assert all("channel" not in w for w in apply_options(make_words("Hello there.")))


def test_whitespace_and_empty_words_are_dropped():
    words = make_words("Hello world")
    words[0]["text"] = " Hello "
    words.insert(1, {"text": "  ", "start": 450, "end": 460, "confidence": 0.5, "speaker": None})
    out = apply_options(words)
    assert [w["text"] for w in out] == ["Hello", "world"]


# --- punctuate / format_text ----------


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("Hello, world.", {"punctuate": False}, "Hello world"),
        ("Hello, world.", {"format_text": False}, "hello, world."),
        ("Hello, world.", {"punctuate": False, "format_text": False}, "hello world"),
        ("I don't know — 3.5 or 1,000?", {"punctuate": False}, "I don't know 3.5 or 1,000"),
        ("The U.S. Army, e.g., Mr. Smith!", {"punctuate": False}, "The US Army eg Mr Smith"),
        ("The U.S. Army, e.g., Mr. Smith!", {"format_text": False}, "the u.s. army, e.g., mr. smith!"),
        ('He said "Stop!" ... then left.', {"punctuate": False}, "He said Stop then left"),
        (
            "Well-known COVID-19 facts.",
            {"punctuate": False, "format_text": False},
            "well-known covid-19 facts",
        ),
        ("ÉCOLE Über.", {"format_text": False}, "école über."),
    ],
)
def test_punctuate_and_format_text(text, options, expected):
    assert text_of(make_words(text), **options) == expected


def test_punctuation_only_word_is_dropped_and_timing_kept():
    words = make_words("Yes — no.")
    out = apply_options(words, punctuate=False)
    assert [(w["text"], w["start"], w["end"]) for w in out] == [("Yes", 0, 400), ("no", 1000, 1400)]


# --- disfluencies ----------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Um, so we went.", "So we went."),
        ("So, um, we went.", "So, we went."),
        ("I went there, um.", "I went there."),
        ("I went there um?", "I went there?"),
        ("Right. Uh-huh. Yes.", "Right. Yes."),
        ("Right. Mm-hmm. yes.", "Right. Yes."),
        ("Um. Uh, hmm, okay.", "Okay."),
        ("We, uh, um, agreed.", "We, agreed."),
        ("Hmm", ""),
        ("Um", ""),
        ("The ER is open.", "The ER is open."),
        ("An umbrella.", "An umbrella."),
        ("I said hmm, interesting.", "I said interesting."),
    ],
)
def test_disfluencies_removed_by_default(text, expected):
    assert text_of(make_words(text)) == expected


@pytest.mark.parametrize("text", ["Um, so we went.", "I went there, um.", "Right. Uh-huh. Yes."])
def test_disfluencies_true_keeps_fillers(text):
    assert text_of(make_words(text), disfluencies=True) == text


def test_filler_removal_keeps_timestamps_of_remaining_words():
    out = apply_options(make_words("So um yes."))
    assert [(w["text"], w["start"]) for w in out] == [("So", 0), ("yes.", 1000)]


def test_filler_sentence_end_not_moved_across_speakers():
    words = make_words("I went there, um.")
    words[-1]["speaker"] = "B"
    for w in words[:-1]:
        w["speaker"] = "A"
    assert text_of(words) == "I went there,"


def test_filler_removal_then_lowercase():
    assert text_of(make_words("Um, so we went."), format_text=False) == "so we went."


# --- profanity ----------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("This is shit.", "This is s***."),
        ("Shit, what the fuck?", "S***, what the f***?"),
        ("That's shit's fault.", "That's s***'s fault."),
        ('He said "bitch"!', 'He said "b****"!'),
        ("Damn it.", "D*** it."),
        ("fucking hell", "f****** h***"),
        ("Fuckin' great.", "F*****' great."),
        ("bull-shit", "bull-s***"),
        ("That's bull shit.", "That's b*** s***."),
        ("A bull, shit.", "A bull, s***."),
        ("Was she male?", "Was she male?"),
        ("Oh my God, kill the organ stroke.", "Oh my God, kill the organ stroke."),
        ("A Scunthorpe classic.", "A Scunthorpe classic."),
        ("Clean words only.", "Clean words only."),
    ],
)
def test_filter_profanity(text, expected):
    assert text_of(make_words(text), filter_profanity=True) == expected


def test_profanity_unfiltered_by_default():
    assert text_of(make_words("This is shit.")) == "This is shit."


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"punctuate": False}, "This is s***"),
        ({"format_text": False}, "s***, this is s***."),
        ({"punctuate": False, "format_text": False}, "s*** this is s***"),
    ],
)
def test_profanity_combined_with_formatting(options, expected):
    text = "Shit, this is shit." if options.get("format_text") is False else "This is shit."
    assert text_of(make_words(text), filter_profanity=True, **options) == expected


# --- custom spelling ----------


@pytest.mark.parametrize(
    ("text", "spelling", "expected"),
    [
        ("We called Peter Decarlo.", [{"from": ["decarlo"], "to": "DeCarlo"}], "We called Peter DeCarlo."),
        ("DECARLO, hi", [{"from": ["Decarlo"], "to": "DeCarlo"}], "DeCarlo, hi"),
        ("I like Sequel.", [{"from": ["SQL", "sequel"], "to": "SQL"}], "I like SQL."),
        ("See CS 50 now", [{"from": ["cs 50"], "to": "CS50"}], "See CS50 now"),
        ("See CS, 50? now", [{"from": ["cs 50"], "to": "CS50"}], "See CS50? now"),
        ("Decarlo's dog.", [{"from": ["decarlo"], "to": "DeCarlo"}], "DeCarlo's dog."),
        ('("Decarlo")', [{"from": ["decarlo"], "to": "DeCarlo"}], '("DeCarlo")'),
        ("gettleman and gettleman", [{"from": ["gettleman"], "to": "Gettleman"}], "Gettleman and Gettleman"),
        ("the new york times", [{"from": ["new york", "new york times"], "to": "NYT"}], "the NYT"),
        ("a b c", [{"from": ["b"], "to": "x"}, {"from": ["b"], "to": "y"}], "a x c"),
        ("keep this word", [{"from": ["this"], "to": ""}], "keep word"),
        ("nothing here", [{"from": ["absent"], "to": "X"}], "nothing here"),
        ("nothing here", [], "nothing here"),
        ("bad entry", [{"from": "bad", "to": "X"}, {"from": [3], "to": "Y"}, {"to": "Z"}], "bad entry"),
        ("Um, hi", [{"from": ["um"], "to": "Umm"}], "Umm, hi"),
    ],
)
def test_custom_spelling(text, spelling, expected):
    assert text_of(make_words(text), custom_spelling=spelling) == expected


def test_custom_spelling_phrase_merges_timing_and_confidence():
    words = make_words("we called peter de carlo today")
    words[3]["confidence"] = 0.5
    out = apply_options(words, custom_spelling=[{"from": ["Peter De Carlo"], "to": "Peter DeCarlo"}])
    assert [w["text"] for w in out] == ["we", "called", "Peter DeCarlo", "today"]
    merged = out[2]
    assert (merged["start"], merged["end"], merged["confidence"]) == (1000, 2400, 0.5)
    assert merged["speaker"] is None


def test_custom_spelling_to_survives_lowercasing_and_punctuation_stripping():
    words = make_words("Ask Dr. Decarlo about Decarlo's sql.")
    spelling = [{"from": ["decarlo"], "to": "DeCarlo"}, {"from": ["sql"], "to": "S.Q.L."}]
    out = text_of(words, custom_spelling=spelling, punctuate=False, format_text=False)
    assert out == "ask dr DeCarlo about DeCarlo's S.Q.L."


def test_custom_spelling_does_not_cross_speakers():
    words = make_words("peter de carlo")
    words[2]["speaker"] = "B"
    spelling = [{"from": ["peter de carlo"], "to": "PDC"}]
    assert text_of(words, custom_spelling=spelling) == "peter de carlo"
    words[2]["speaker"] = None
    assert text_of(words, custom_spelling=spelling) == "PDC"


def test_custom_spelling_replacement_is_not_masked():
    spelling = [{"from": ["darn"], "to": "damn"}, {"from": ["shit"], "to": "shoot"}]
    assert text_of(make_words("darn shit"), custom_spelling=spelling, filter_profanity=True) == "damn shoot"


def test_all_options_together():
    words = make_words("Um, the damn U.S. team, uh, met Decarlo. Mm-hmm.")
    out = text_of(
        words,
        punctuate=False,
        format_text=False,
        filter_profanity=True,
        custom_spelling=[{"from": ["decarlo"], "to": "DeCarlo"}],
    )
    assert out == "the d*** us team met DeCarlo"
