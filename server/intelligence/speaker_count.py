"""How many speakers, when the request does not say (`speaker_labels` without `speakers_expected`).

Method: average-linkage agglomerative clustering of the speech units' unit d-vectors (cosine distance,
raw, not file-centred) cut at DISTANCE_THRESHOLD; clusters holding less than MIN_CLUSTER_SHARE of the
units (and fewer than 2) are noise (a cough, a door), not speakers; the count is then clamped into the
request's [min_speakers_expected, max_speakers_expected].

Calibration: both constants were chosen by a grid search on the TUNE half of `bench/speaker_count.py`
(conversations stitched from six speakers' real recordings) and are reported on the HELD_OUT half (seven
other speakers, never tuned on); numbers and the alternatives tried (eigengap on a pruned spectral
affinity, silhouette of file-centred clusters, the Resemblyzer GE2E embedder) in docs/intelligence.md.
Why no threshold (or other statistic of these embeddings) counts the two real RTTM clips right without
also splitting jfk's one voice: bench/speaker_separation.py.
"""

from __future__ import annotations

import numpy as np

DISTANCE_THRESHOLD = 0.55  # cosine distance between cluster means above which voices are told apart
MIN_CLUSTER_SHARE = 0.05  # a cluster under this share of the speech units is not a speaker


def estimate(x: np.ndarray, min_speakers: int = 1, max_speakers: int | None = None) -> int:
    """Number of speakers among unit vectors `x` (n, dim), within [min_speakers, max_speakers] and ≤ n."""
    from sklearn.cluster import AgglomerativeClustering

    n = len(x)
    k = 1
    if n > 1:
        labels = AgglomerativeClustering(
            n_clusters=None, distance_threshold=DISTANCE_THRESHOLD, metric="cosine", linkage="average"
        ).fit_predict(x)
        sizes = np.bincount(labels)
        k = max(1, int(np.sum(sizes >= max(2, MIN_CLUSTER_SHARE * n))))
    k = max(k, min_speakers)
    if max_speakers is not None:
        k = min(k, max_speakers)
    return max(1, min(k, n))
