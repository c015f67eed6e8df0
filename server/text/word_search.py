"""Word search over a transcript's words (the `/word-search` export, CONTRACT §2.6).

CHOICE (undocumented by AssemblyAI): matching is case-insensitive and ignores punctuation attached to
words on both sides ("Smoke," matches "smoke"); numbers match as written ("5" matches "5", not "five");
a term may be a phrase, matched on consecutive words, reported with the first word's index and a
timestamp spanning first to last word; occurrences are counted without overlap.
"""

from __future__ import annotations

from server.text.formatting import match_key
from server.text.types import Word


def _tokens(words: list[Word]) -> list[tuple[str, int]]:
    """(match key, index into `words`) per token; a word holding spaces yields several tokens."""
    tokens: list[tuple[str, int]] = []
    for index, word in enumerate(words):
        for part in word["text"].split():
            key = match_key(part)
            if key:
                tokens.append((key, index))
    return tokens


def _find(tokens: list[tuple[str, int]], phrase: list[str]) -> list[tuple[int, int]]:
    """Non-overlapping occurrences of `phrase` as (first word index, last word index)."""
    hits: list[tuple[int, int]] = []
    size = len(phrase)
    i = 0
    while i + size <= len(tokens):
        if all(tokens[i + j][0] == phrase[j] for j in range(size)):
            hits.append((tokens[i][1], tokens[i + size - 1][1]))
            i += size
        else:
            i += 1
    return hits


def search_words(words: list[Word], terms: list[str]) -> dict:
    """Return `{"total_count", "matches": [{"text", "count", "timestamps", "indexes"}]}` (no `id`).

    One match entry per non-empty term, in the order given, even when the count is 0; `text` is the
    term as sent (surrounding whitespace removed).
    """
    tokens = _tokens(words)
    matches = []
    for term in terms:
        phrase = [k for k in (match_key(p) for p in term.split()) if k]
        if not phrase:
            continue
        hits = _find(tokens, phrase)
        matches.append(
            {
                "text": term.strip(),
                "count": len(hits),
                "timestamps": [[words[a]["start"], words[b]["end"]] for a, b in hits],
                "indexes": [a for a, _ in hits],
            }
        )
    return {"total_count": sum(m["count"] for m in matches), "matches": matches}
