"""Key phrases (`auto_highlights` → `auto_highlights_result`).

YAKE (unsupervised, statistical: term frequency, position, casing, context spread) proposes 1-3 word
phrases; spaCy's part-of-speech tags keep only noun phrases (a phrase must end in a noun or proper noun and
start with a noun, proper noun, adjective or number), and phrases with the same lemmas ("letter" /
"letters") are merged. Each phrase's occurrences are found in the words by lemma sequence, which gives
`count` and `timestamps`. `rank` is YAKE's relevance (1 / score) scaled so the best phrase is 1.0.
"""

from __future__ import annotations

from typing import Any

from server.intelligence.document import Document
from server.intelligence.nlp import WordParse, parse_words
from server.text.formatting import match_key

MAX_NGRAM = 3
CANDIDATES = 80  # YAKE proposals examined before filtering
# Results scale with length: about one phrase per 25 words, between 5 and 20 (AssemblyAI returns a dozen
# or so for a few minutes of speech).
WORDS_PER_RESULT = 25
MIN_RESULTS, MAX_RESULTS = 5, 20

_HEAD_POS = frozenset({"NOUN", "PROPN"})
_FIRST_POS = frozenset({"NOUN", "PROPN", "ADJ", "NUM"})
_INNER_POS = frozenset({"NOUN", "PROPN", "ADJ", "NUM", "ADP", "PART"})


def _word_keys(parse: WordParse) -> tuple[list[str], list[str]]:
    """Per word: its lemma (lower-case, for matching variants) and its part of speech."""
    lemmas, pos = [], []
    for i, word in enumerate(parse.words):
        token = parse.parsed[parse.token_of_word[i]] if len(parse.parsed) else None
        key = match_key(word["text"])
        if token is None or not key:
            lemmas.append(key)
            pos.append("X")
            continue
        lemmas.append((token.lemma_ or key).casefold())
        pos.append(token.pos_)
    return lemmas, pos


def _occurrences(keys: list[str], phrase: list[str]) -> list[int]:
    n = len(phrase)
    return [i for i in range(len(keys) - n + 1) if keys[i : i + n] == phrase]


def _candidates(text: str) -> list[tuple[str, float]]:
    import yake

    extractor = yake.KeywordExtractor(lan="en", n=MAX_NGRAM, dedup_lim=0.9, top=CANDIDATES)
    return extractor.extract_keywords(text)


def key_phrases(doc: Document, limit: int | None = None) -> list[dict[str, Any]]:
    """The transcript's key phrases, best first: `{text, score, starts}` (`starts` = first word indexes)."""
    parse = parse_words(doc)
    if not parse.words:
        return []
    lemmas, pos = _word_keys(parse)
    surface = [match_key(w["text"]) for w in parse.words]
    found: list[dict[str, Any]] = []
    seen: set[tuple[str, ...]] = set()
    for phrase, score in _candidates(parse.text):
        tokens = [match_key(t) for t in phrase.split()]
        starts = _occurrences(surface, tokens)
        if not starts or not all(tokens):
            continue
        n = len(tokens)
        lemma_key = tuple(lemmas[starts[0] : starts[0] + n])
        if lemma_key in seen:
            continue
        noun_phrase = any(
            pos[s + n - 1] in _HEAD_POS
            and pos[s] in _FIRST_POS
            and all(p in _INNER_POS for p in pos[s : s + n])
            for s in starts
        )
        if not noun_phrase:
            continue
        seen.add(lemma_key)
        found.append({"text": phrase, "score": float(score), "starts": _occurrences(lemmas, list(lemma_key))})
        if limit is not None and len(found) >= limit:
            break
    return found


def run(doc: Document) -> dict[str, Any]:
    """Fill `auto_highlights_result` with up to MAX_RESULTS noun phrases and where they were said."""
    limit = max(MIN_RESULTS, min(MAX_RESULTS, len(doc.words) // WORDS_PER_RESULT))
    phrases = key_phrases(doc, limit)
    best = min((p["score"] for p in phrases), default=1.0)
    results = []
    for p in phrases:
        n = len(p["text"].split())
        results.append(
            {
                "count": len(p["starts"]),
                "rank": round(max(best, 1e-9) / max(p["score"], 1e-9), 2),
                "text": p["text"],
                "timestamps": [
                    {"start": doc.words[s]["start"], "end": doc.words[s + n - 1]["end"]} for s in p["starts"]
                ],
            }
        )
    results.sort(key=lambda r: -r["rank"])
    return {"auto_highlights_result": {"status": "success", "results": results}}
