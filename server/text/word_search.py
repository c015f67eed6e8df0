"""Word search over a transcript's words (the `/word-search` export, docs/compatibility.md#exports).

CHOICE (undocumented by AssemblyAI): matching is case-insensitive and ignores punctuation attached to
words on both sides ("Smoke," matches "smoke"); numbers match as written ("5" matches "5", not "five");
a term may be a phrase, matched on consecutive words, reported with the first word's index and a
timestamp spanning first to last word; occurrences are counted without overlap.

Cost: the words are indexed once by match key, so each term costs the occurrences of its first word,
not a scan of the transcript; the request is bounded by `MAX_TERMS` terms of at most `MAX_TERM_WORDS`
words and `MAX_TERM_CHARS` characters (the API documents phrases of up to five words).
"""

from __future__ import annotations

from collections import defaultdict

from server.text.formatting import match_key
from server.text.types import Word

MAX_TERMS = 100
MAX_TERM_WORDS = 5  # docs/compatibility.md#exports: "a word, number or phrase of up to five words"
MAX_TERM_CHARS = 200


class TermLimitError(ValueError):
    """The terms exceed the documented bounds; `limit` names which one."""

    def __init__(self, limit: str) -> None:
        super().__init__(limit)
        self.limit = limit


def check_terms(terms: list[str]) -> None:
    """Raise TermLimitError when the request asks for more work than the documented bounds allow."""
    if len(terms) > MAX_TERMS:
        raise TermLimitError("terms")
    for term in terms:
        if len(term) > MAX_TERM_CHARS or len(term.split()) > MAX_TERM_WORDS:
            raise TermLimitError("term")


class _Index:
    """Tokens (match key, index into `words`) in order, and where each key occurs."""

    def __init__(self, words: list[Word]) -> None:
        self.keys: list[str] = []
        self.word_of: list[int] = []
        self.positions: dict[str, list[int]] = defaultdict(list)
        for index, word in enumerate(words):
            for part in word["text"].split():  # a word holding spaces yields several tokens
                key = match_key(part)
                if key:
                    self.positions[key].append(len(self.keys))
                    self.keys.append(key)
                    self.word_of.append(index)

    def find(self, phrase: list[str]) -> list[tuple[int, int]]:
        """Non-overlapping occurrences of `phrase` as (first word index, last word index)."""
        hits: list[tuple[int, int]] = []
        size = len(phrase)
        free_from = 0  # the first token not inside an earlier hit
        for i in self.positions.get(phrase[0], ()):
            if i < free_from or i + size > len(self.keys):
                continue
            if self.keys[i : i + size] == phrase:
                hits.append((self.word_of[i], self.word_of[i + size - 1]))
                free_from = i + size
        return hits


def search_words(words: list[Word], terms: list[str]) -> dict:
    """Return `{"total_count", "matches": [{"text", "count", "timestamps", "indexes"}]}` (no `id`).

    One match entry per non-empty term, in the order given, even when the count is 0; `text` is the
    term as sent (surrounding whitespace removed). Callers check `check_terms` first.
    """
    index = _Index(words)
    found: dict[tuple[str, ...], list[tuple[int, int]]] = {}
    matches = []
    for term in terms:
        phrase = [k for k in (match_key(p) for p in term.split()) if k]
        if not phrase:
            continue
        key = tuple(phrase)
        if key not in found:
            found[key] = index.find(phrase)
        hits = found[key]
        matches.append(
            {
                "text": term.strip(),
                "count": len(hits),
                "timestamps": [[words[a]["start"], words[b]["end"]] for a, b in hits],
                "indexes": [a for a, _ in hits],
            }
        )
    return {"total_count": sum(m["count"] for m in matches), "matches": matches}
