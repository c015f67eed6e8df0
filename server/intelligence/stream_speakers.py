"""Speaker labels for a live stream's turns (docs/compatibility.md#v3-query): `A`, `B`, … stable across the
session.

Each finished turn with at least MIN_TURN_SPEECH_MS of speech is embedded with the async path's speaker
model (server/intelligence/diarization.py, CAM++ or the d-vector: the mean of its windows over the turn's
words); all turns so far are re-clustered with the async path's `cluster` and that embedder's count
rule, and the new turn takes the label that most of its cluster's earlier turns were given. Labels once
sent are never revised (so no SpeakerRevision). Shorter turns
are `UNKNOWN`, as the API labels turns under about a second.

Limits (as the async path's): without `max_speakers` the count estimate is conservative, so similar voices
may share one label; with it, the turns are split into up to that many speakers.
"""

from __future__ import annotations

import threading

import numpy as np

from server.intelligence.diarization import _letters, _unit, cluster, embedder
from server.media.rate import SAMPLE_RATE

MIN_TURN_SPEECH_MS = 1000
UNKNOWN = "UNKNOWN"


class StreamSpeakers:
    """One per session; `label` runs off the event loop (it embeds audio)."""

    def __init__(self, max_speakers: int | None = None) -> None:
        self.max_speakers = max_speakers
        self._vectors: list[np.ndarray] = []
        self._labels: list[str] = []
        self._lock = threading.Lock()

    @staticmethod
    def warm() -> None:
        """Load the embedder ahead of the first turn (seconds on a busy machine)."""
        embedder()

    def label(self, samples: np.ndarray, offset_ms: int, spans_ms: list[tuple[int, int]]) -> str:
        """The speaker of a turn: its audio (`samples` start at `offset_ms` of the session) and its words'
        (start, end) times in session ms."""
        if not spans_ms or spans_ms[-1][1] - spans_ms[0][0] < MIN_TURN_SPEECH_MS:
            return UNKNOWN
        first = max(0, (spans_ms[0][0] - offset_ms) * SAMPLE_RATE // 1000)
        last = min(len(samples), (spans_ms[-1][1] - offset_ms) * SAMPLE_RATE // 1000)
        if last - first < MIN_TURN_SPEECH_MS * SAMPLE_RATE // 1000:
            return UNKNOWN
        vector = _unit(embedder().windows(samples[first:last]).mean(axis=0))
        with self._lock:
            return self._assign(vector)

    def _assign(self, vector: np.ndarray) -> str:
        self._vectors.append(vector)
        x = np.stack(self._vectors)
        n = len(x)
        count = min(self.max_speakers, n) if self.max_speakers else None
        clusters = cluster(x, count, 1, self.max_speakers, embedder().count_rule)
        mine = int(clusters[-1])
        earlier = [label for c, label in zip(clusters[:-1], self._labels, strict=True) if c == mine]
        if earlier:
            label = max(set(earlier), key=earlier.count)
        elif self.max_speakers is None or len(set(self._labels)) < self.max_speakers:
            label = _letters(len(set(self._labels)))
        else:  # the cap is reached: the nearest earlier turn's voice
            label = self._labels[int(np.argmax(x[:-1] @ vector))]
        self._labels.append(label)
        return label
