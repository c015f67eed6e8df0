"""Per-sentence sentiment (`sentiment_analysis` → `sentiment_analysis_results`).

VADER (a lexicon of ~7,500 rated words plus rules for negation, intensifiers, "but" and punctuation; built
for short informal text, which spoken sentences are) scores each sentence's `compound` in [-1, 1]. The
author's recommended thresholds classify it: ≥ 0.05 POSITIVE, ≤ -0.05 NEGATIVE, otherwise NEUTRAL.
`confidence` is how far the score sits inside its class: 0.5 + |compound| / 2 for POSITIVE/NEGATIVE, and
1 - |compound| / 0.1 for NEUTRAL (1.0 at 0, 0.5 at the threshold).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from server.intelligence.document import Document
from server.text.sentences import split_sentences

if TYPE_CHECKING:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

THRESHOLD = 0.05


@lru_cache(maxsize=1)
def _vader() -> SentimentIntensityAnalyzer:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def classify(text: str) -> tuple[str, float]:
    """(sentiment, confidence) of one sentence."""
    compound = _vader().polarity_scores(text)["compound"]
    if compound >= THRESHOLD:
        return "POSITIVE", 0.5 + compound / 2
    if compound <= -THRESHOLD:
        return "NEGATIVE", 0.5 - compound / 2
    return "NEUTRAL", 1.0 - abs(compound) / (2 * THRESHOLD)


def run(doc: Document) -> dict[str, Any]:
    """Fill `sentiment_analysis_results`: one entry per sentence, with its speaker (and channel)."""
    results = []
    for sentence in split_sentences(doc.words):
        sentiment, confidence = classify(sentence["text"])
        result = {
            "text": sentence["text"],
            "start": sentence["start"],
            "end": sentence["end"],
            "sentiment": sentiment,
            "confidence": round(confidence, 4),
            "speaker": sentence["speaker"],
        }
        if sentence.get("channel") is not None:
            result["channel"] = sentence["channel"]
        results.append(result)
    return {"sentiment_analysis_results": results}
