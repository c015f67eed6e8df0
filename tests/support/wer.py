"""Word error rate for real-engine tests, normalised as bench/stream_latency.py does (lower case, punctuation
dropped, apostrophes kept), so a test's bound and a benchmark's figure mean the same thing."""

from __future__ import annotations

import re


def words(text: str) -> list[str]:
    return [w for w in (re.sub(r"[^\w']", "", t.lower()) for t in text.split()) if w]


def word_errors(reference: str, hypothesis: str) -> int:
    """Substitutions + deletions + insertions (Levenshtein over words)."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row = row, [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (r != h))
    return row[-1]


def wer(reference: str, hypothesis: str) -> float:
    return word_errors(reference, hypothesis) / max(1, len(words(reference)))
