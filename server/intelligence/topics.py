"""Topic detection (`iab_categories` → `iab_categories_result`).

Zero-shot classification over the 698 categories of the IAB Content Taxonomy 2.0 (the taxonomy the
API documents; labels spelled as it spells them, data/iab_taxonomy.tsv): each category's plain-words path
("Sports > Soccer") and each transcript segment are embedded with MiniLM; a segment's label relevances
are a softmax over the cosine similarities (temperature TEMPERATURE), top LABELS_PER_RESULT kept.
Segments are runs of sentences of one speaker, up to SEGMENT_WORDS words, like the API's paragraph-sized
results; a segment's vector is the mean of its sentences' vectors. The file-level `summary` is the
duration-weighted mean relevance per label, scaled so the top label is 1.0 (as in the API's examples).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from server.intelligence.document import Document
from server.intelligence.embeddings import doc_sentences, embed

TAXONOMY = Path(__file__).parent / "data" / "iab_taxonomy.tsv"
TEMPERATURE = 0.05
LABELS_PER_RESULT = 10
SUMMARY_LABELS = 20
SEGMENT_WORDS = 80


@lru_cache(maxsize=1)
def taxonomy() -> tuple[list[str], np.ndarray]:
    """The API labels and the embeddings of their plain-words paths (computed once per process)."""
    labels, paths = [], []
    for line in TAXONOMY.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            label, path = line.split("\t")
            labels.append(label)
            paths.append(path)
    return labels, embed(paths)


def relevances(vectors: np.ndarray) -> np.ndarray:
    """(segments, labels) softmax relevances of unit-length segment vectors over every label."""
    _, label_vectors = taxonomy()
    logits = (vectors @ label_vectors.T) / TEMPERATURE
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=1, keepdims=True)


def segments(sentences: list[dict]) -> list[tuple[int, int]]:
    """[start, end) sentence ranges: consecutive sentences of one voice up to SEGMENT_WORDS words."""
    out: list[tuple[int, int]] = []
    start, count = 0, 0
    for i, s in enumerate(sentences):
        voice = (s.get("speaker"), s.get("channel"))
        first = sentences[start]
        if i > start and (
            count + len(s["words"]) > SEGMENT_WORDS or voice != (first.get("speaker"), first.get("channel"))
        ):
            out.append((start, i))
            start, count = i, 0
        count += len(s["words"])
    if sentences:
        out.append((start, len(sentences)))
    return out


def run(doc: Document) -> dict[str, Any]:
    """Fill `iab_categories_result`."""
    sentences, vectors = doc_sentences(doc)
    ranges = segments(sentences)
    if not ranges:
        return {"iab_categories_result": {"status": "success", "results": [], "summary": {}}}
    labels, _ = taxonomy()
    means = np.stack([vectors[a:b].mean(axis=0) for a, b in ranges])
    means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
    rel = relevances(means)
    results = []
    for (a, b), row in zip(ranges, rel, strict=True):
        top = np.argsort(-row)[:LABELS_PER_RESULT]
        results.append(
            {
                "text": " ".join(s["text"] for s in sentences[a:b]),
                "labels": [{"relevance": float(row[j]), "label": labels[j]} for j in top],
                "timestamp": {"start": sentences[a]["start"], "end": sentences[b - 1]["end"]},
            }
        )
    durations = np.array([max(1, sentences[b - 1]["end"] - sentences[a]["start"]) for a, b in ranges], float)
    overall = (rel * durations[:, None]).sum(axis=0) / durations.sum()
    overall /= overall.max()
    top = np.argsort(-overall)[:SUMMARY_LABELS]
    summary = {labels[j]: float(overall[j]) for j in top}
    return {"iab_categories_result": {"status": "success", "results": results, "summary": summary}}
