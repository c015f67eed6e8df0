"""Content moderation (`content_safety`, `content_safety_confidence` → `content_safety_labels`).

Zero-shot, sentence by sentence. 18 of the 19 documented labels are described by a few example sentences
(data/content_safety_labels.json); a sentence's score for a label is its best MiniLM cosine similarity to
that label's examples, turned into a confidence by a logistic curve calibrated so unrelated speech stays
near 0 (CENTER, SCALE). `profanity` is lexical instead: the words of better-profanity's list that the
profanity filter also masks (and words the filter already masked, "s***"), 0.9 confidence for one such
word and more for several.

Results are paragraph-sized segments (the same segments as topic detection); a segment carries each label
whose best sentence reaches `content_safety_confidence` / 100. `severity` says how far past that
threshold a label's confidence is (0 at the threshold, 1 at certainty) scaled by the share of the segment's
sentences that carry the label: one passing mention is low, a whole passage is high. This is a stand-in for
a trained severity model, which nothing installed provides. `summary` is each label's best confidence in
the file; `severity_score_summary` splits each label's flagged time into low (< 0.4), medium and high
(≥ 0.7) severity.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from server.intelligence.document import Document
from server.intelligence.embeddings import doc_sentences, embed
from server.intelligence.topics import segments
from server.text.formatting import match_key

EXAMPLES = Path(__file__).parent / "data" / "content_safety_labels.json"
# Similarity at which a label is as likely as not (confidence 0.5), and the logistic's width.
CENTER = 0.42
SCALE = 0.05
PROFANITY_ONE_WORD = 0.9
LOW, HIGH = 0.4, 0.7
_MASKED = re.compile(r"^\w\*+$")  # a word filter_profanity already masked


@lru_cache(maxsize=1)
def _examples() -> tuple[list[str], list[int], np.ndarray]:
    """Label names, the label index of each example, and the examples' embeddings."""
    data = json.loads(EXAMPLES.read_text(encoding="utf-8"))
    labels = [k for k in data if not k.startswith("_")]
    owners = [i for i, label in enumerate(labels) for _ in data[label]]
    texts = [text for label in labels for text in data[label]]
    return labels, owners, embed(texts)


def label_confidences(vectors: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(labels, (sentences, labels) confidences) for unit-length sentence vectors, profanity excluded."""
    labels, owners, examples = _examples()
    sims = vectors @ examples.T
    best = np.full((len(vectors), len(labels)), -1.0)
    for column, owner in enumerate(owners):
        best[:, owner] = np.maximum(best[:, owner], sims[:, column])
    return labels, 1.0 / (1.0 + np.exp(-(best - CENTER) / SCALE))


def profanity_confidence(words: list[dict]) -> float:
    """0 without profane words; PROFANITY_ONE_WORD for one, approaching 1 with more."""
    from server.text.formatting import _profanity_lists

    singles, _ = _profanity_lists()
    hits = sum(1 for w in words if match_key(w["text"]) in singles or _MASKED.match(match_key(w["text"])))
    return 0.0 if hits == 0 else 1.0 - (1.0 - PROFANITY_ONE_WORD) ** hits


def _severity_bins(items: list[tuple[float, float]]) -> dict[str, float]:
    """Share of flagged time (weight) at low / medium / high severity."""
    total = sum(w for _, w in items) or 1.0
    low = sum(w for s, w in items if s < LOW) / total
    high = sum(w for s, w in items if s >= HIGH) / total
    return {"low": low, "medium": max(0.0, 1.0 - low - high), "high": high}


def run(doc: Document) -> dict[str, Any]:
    """Fill `content_safety_labels`."""
    threshold = doc.request.content_safety_confidence / 100
    sentences, vectors = doc_sentences(doc)
    labels, conf = label_confidences(vectors) if sentences else ([], np.zeros((0, 0)))
    labels = [*labels, "profanity"]
    profane = np.array([[profanity_confidence(s["words"])] for s in sentences]).reshape(len(sentences), 1)
    conf = np.hstack([conf.reshape(len(sentences), len(labels) - 1), profane])
    results = []
    summary: dict[str, float] = {}
    severities: dict[str, list[tuple[float, float]]] = {}
    for a, b in segments(sentences):
        block = conf[a:b]
        found: list[dict[str, Any]] = []
        for j, label in enumerate(labels):
            best = float(block[:, j].max())
            if best < threshold:
                continue
            share = float((block[:, j] >= threshold).mean())
            severity = (best - threshold) / max(1.0 - threshold, 1e-9) * share
            found.append({"label": label, "confidence": best, "severity": round(severity, 4)})
            duration = max(1, sentences[b - 1]["end"] - sentences[a]["start"])
            severities.setdefault(label, []).append((severity, duration))
            summary[label] = max(summary.get(label, 0.0), best)
        if found:
            found.sort(key=lambda x: -x["confidence"])
            results.append(
                {
                    "text": " ".join(s["text"] for s in sentences[a:b]),
                    "labels": found,
                    "sentences_idx_start": a,
                    "sentences_idx_end": b - 1,
                    "timestamp": {"start": sentences[a]["start"], "end": sentences[b - 1]["end"]},
                }
            )
    return {
        "content_safety_labels": {
            "status": "success",
            "results": results,
            "summary": dict(sorted(summary.items(), key=lambda kv: -kv[1])),
            "severity_score_summary": {label: _severity_bins(items) for label, items in severities.items()},
        }
    }
