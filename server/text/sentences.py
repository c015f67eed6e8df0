"""Group words into the API's sentences and paragraphs (the `/sentences` and `/paragraphs` exports).

AssemblyAI does not document its segmentation; these rules (docs/compatibility.md#exports) aim for what a
reader expects: sentences end at terminal punctuation or a change of speaker/channel, paragraphs group a few
sentences of one speaker and break at long pauses.
"""

from __future__ import annotations

import re

from server.text.formatting import ends_sentence, join_text, match_key
from server.text.types import Word

# A pause of at least this long ends a sentence, but only in unpunctuated text (punctuate=false), where
# nothing else marks where sentences end.
SENTENCE_PAUSE_MS = 1000
# Paragraph breaks: a pause between sentences of at least this long...
PARAGRAPH_PAUSE_MS = 2000
# ...or when the paragraph would otherwise grow past this many sentences...
MAX_PARAGRAPH_SENTENCES = 6
# ...or this many words (a single longer sentence still forms one paragraph).
MAX_PARAGRAPH_WORDS = 80

# Abbreviations whose period never ends a sentence ("Mr. Smith", "Dr. Jones", "vs. them").
_TITLES = frozenset(
    word
    for line in ("mr mrs ms dr prof sr jr st mt ft vs", "gen gov sen rep capt lt col sgt rev hon messrs")
    for word in line.split()
)
# Dotted acronyms and initials ("U.S.", "e.g.", "J.") usually do not end a sentence, but sometimes do
# ("...in the U.S."); they end one only when followed by a pause or at the very end.
_DOTTED = re.compile(r"^(?:[^\W\d_]\.)+$")


def _voice(word: Word) -> tuple[str | None, str | None]:
    return word.get("speaker"), word.get("channel")


def _is_sentence_end(words: list[Word], i: int) -> bool:
    text = words[i]["text"]
    if not ends_sentence(text):
        return False
    key = match_key(text)
    if key in _TITLES and text.rstrip().endswith("."):
        return False
    if _DOTTED.match(key + ".") or text.rstrip().endswith(("...", "\u2026")):
        # Ambiguous ending: acronym/initial or a trailing-off ellipsis.
        if i + 1 == len(words):
            return True
        return words[i + 1]["start"] - words[i]["end"] >= SENTENCE_PAUSE_MS
    return True


def _mean_confidence(words: list[Word]) -> float:
    return sum(w["confidence"] for w in words) / len(words)


def _sentence(words: list[Word]) -> dict:
    sentence: dict = {
        "text": join_text(words),
        "start": words[0]["start"],
        "end": words[-1]["end"],
        "confidence": _mean_confidence(words),
        "words": [w.copy() for w in words],
        "speaker": words[0].get("speaker"),
    }
    if "channel" in words[0]:
        sentence["channel"] = words[0]["channel"]
    return sentence


def split_sentences(words: list[Word]) -> list[dict]:
    """Split words into TranscriptSentence dicts `{text, start, end, confidence, words, speaker[, channel]}`.

    A sentence ends after a word ending in `.`, `?` or `!` (not after titles like "Mr."; after dotted
    acronyms like "U.S." only at a pause), and whenever the speaker or channel changes. When no word
    carries terminal punctuation at all, a pause of SENTENCE_PAUSE_MS or more ends a sentence instead.
    """
    words = [w for w in words if w["text"].strip()]
    punctuated = any(ends_sentence(w["text"]) for w in words)
    sentences: list[dict] = []
    current: list[Word] = []
    for i, word in enumerate(words):
        if current and (
            _voice(current[-1]) != _voice(word)
            or (not punctuated and word["start"] - current[-1]["end"] >= SENTENCE_PAUSE_MS)
        ):
            sentences.append(_sentence(current))
            current = []
        current.append(word)
        if punctuated and _is_sentence_end(words, i):
            sentences.append(_sentence(current))
            current = []
    if current:
        sentences.append(_sentence(current))
    return sentences


def _paragraph(sentences: list[dict]) -> dict:
    words = [w for s in sentences for w in s["words"]]
    return {
        "text": join_text(words),
        "start": words[0]["start"],
        "end": words[-1]["end"],
        "confidence": _mean_confidence(words),
        "words": words,
    }


def split_paragraphs(words: list[Word]) -> list[dict]:
    """Split words into TranscriptParagraph dicts `{text, start, end, confidence, words}`.

    Sentences are grouped; a new paragraph starts at a speaker/channel change, after a pause of
    PARAGRAPH_PAUSE_MS or more, or when MAX_PARAGRAPH_SENTENCES / MAX_PARAGRAPH_WORDS would be exceeded.
    """
    paragraphs: list[dict] = []
    current: list[dict] = []
    count = 0
    for sentence in split_sentences(words):
        if current:
            last = current[-1]
            if (
                (last["speaker"], last.get("channel")) != (sentence["speaker"], sentence.get("channel"))
                or sentence["start"] - last["end"] >= PARAGRAPH_PAUSE_MS
                or len(current) >= MAX_PARAGRAPH_SENTENCES
                or count + len(sentence["words"]) > MAX_PARAGRAPH_WORDS
            ):
                paragraphs.append(_paragraph(current))
                current, count = [], 0
        current.append(sentence)
        count += len(sentence["words"])
    if current:
        paragraphs.append(_paragraph(current))
    return paragraphs
