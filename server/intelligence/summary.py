"""Summaries (`summarization`, `summary_model`, `summary_type` → `summary`).

Extractive, not generative: every sentence of a summary is a sentence of the transcript, chosen by
TextRank centrality over MiniLM sentence embeddings (PageRank on the cosine-similarity graph) and picked
with maximal marginal relevance so the chosen sentences do not repeat each other; they are given back in
spoken order. A `gist` is the transcript's best key phrase (see highlights), since no sentence is a few
words long.

Types: `bullets` (a few "- " lines), `bullets_verbose` (about twice as many), `paragraph` (the bullets'
sentences as one paragraph), `headline` (the single most central sentence), `gist` (a key phrase).
Models: `informative` and `catchy` choose the same sentences (a generative model would differ in tone, an
extractive one cannot); `conversational` prefixes each bullet with its speaker when speakers are known.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from server.intelligence.document import Document
from server.intelligence.embeddings import doc_sentences

DEFAULT_MODEL, DEFAULT_TYPE = "informative", "bullets"
MMR_LAMBDA = 0.7  # weight of centrality against redundancy when picking the next sentence
DAMPING = 0.85
# Sentences shorter than this many words ("Good morning.") rarely summarise anything; scaled down.
SHORT_SENTENCE_WORDS = 8
HEADLINE_MAX_WORDS = 30


def centrality(vectors: np.ndarray, lengths: list[int]) -> np.ndarray:
    """TextRank scores (sum to 1) on the graph of positive cosine similarities, damped for short sentences."""
    n = len(vectors)
    if n == 1:
        return np.ones(1)
    sim = np.clip(vectors @ vectors.T, 0.0, None)
    np.fill_diagonal(sim, 0.0)
    out_weight = sim.sum(axis=1, keepdims=True)
    transition = np.where(out_weight > 0, sim / np.maximum(out_weight, 1e-12), 1.0 / n)
    rank = np.full(n, 1.0 / n)
    for _ in range(50):
        new = (1 - DAMPING) / n + DAMPING * transition.T @ rank
        if np.abs(new - rank).sum() < 1e-8:
            rank = new
            break
        rank = new
    factor = np.minimum(1.0, np.asarray(lengths, dtype=float) / SHORT_SENTENCE_WORDS)
    scores = rank * factor
    return scores / scores.sum()


def select(vectors: np.ndarray, scores: np.ndarray, k: int) -> list[int]:
    """Indexes of `k` sentences by maximal marginal relevance, in spoken order."""
    if not len(vectors):
        return []
    relevance = scores / scores.max()
    chosen: list[int] = []
    while len(chosen) < min(k, len(vectors)):
        redundancy = (vectors @ vectors[chosen].T).max(axis=1) if chosen else np.zeros(len(vectors))
        mmr = MMR_LAMBDA * relevance - (1 - MMR_LAMBDA) * redundancy
        mmr[chosen] = -np.inf
        chosen.append(int(np.argmax(mmr)))
    return sorted(chosen)


def headline_index(sentences: list[dict], scores: np.ndarray) -> int:
    """The most central sentence short enough to read as a headline (any, if none is)."""
    short = [i for i, s in enumerate(sentences) if len(s["words"]) <= HEADLINE_MAX_WORDS]
    pool = short or list(range(len(sentences)))
    return max(pool, key=lambda i: scores[i])


def bullet_count(n_sentences: int, verbose: bool) -> int:
    """About one bullet per 6 sentences (3..6), or per 3 sentences (4..12) for bullets_verbose."""
    if verbose:
        return max(4, min(12, round(n_sentences / 3)))
    return max(3, min(6, round(n_sentences / 6)))


def gist(doc: Document) -> str:
    """A few words naming what the transcript is about: its best multi-word key phrase."""
    from server.intelligence.highlights import key_phrases

    phrases = key_phrases(doc, limit=10)
    multi = [p for p in phrases if len(p["text"].split()) > 1]
    best = (multi or phrases or [{"text": ""}])[0]["text"]
    return best[:1].upper() + best[1:]


def summarize(doc: Document, model: str, kind: str) -> str:
    """The summary string for one model/type pair (validated at request time,
    docs/compatibility.md#option-rules)."""
    sentences, vectors = doc_sentences(doc)
    if not sentences:
        return ""
    if kind == "gist":
        return gist(doc)
    scores = centrality(vectors, [len(s["words"]) for s in sentences])
    if kind == "headline":
        return sentences[headline_index(sentences, scores)]["text"]
    k = bullet_count(len(sentences), verbose=kind == "bullets_verbose")
    picked = [sentences[i] for i in select(vectors, scores, k)]
    if kind == "paragraph":
        return " ".join(s["text"] for s in picked)
    lines = []
    for s in picked:
        who = f"Speaker {s['speaker']}: " if model == "conversational" and s.get("speaker") else ""
        lines.append(f"- {who}{s['text']}")
    return "\n".join(lines)


def run(doc: Document) -> dict[str, Any]:
    """Fill `summary`."""
    model = doc.request.summary_model or DEFAULT_MODEL
    kind = doc.request.summary_type or DEFAULT_TYPE
    return {"summary": summarize(doc, model, kind)}
