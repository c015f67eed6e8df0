"""Long audio in windows: each at most `window_s` seconds, cut in a pause so no word is split.

faster-whisper takes arrays and runs its own 30 s segments inside each window; giving it a bounded
window instead of the whole file keeps a job's memory flat in the audio's length (no API-visible change:
word times are made absolute again by the caller with `Window.start_s`). Whisper's text context does
not carry across a window's edge, which is why the edge is put in a pause.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from server.media.rate import SAMPLE_RATE
from server.media.speech import quiet_cut

SEARCH_S = 30.0  # the cut is looked for in the last this-many seconds of a full window


@dataclass
class Window:
    start_s: float  # where the window starts in the audio
    samples: np.ndarray
    last: bool  # nothing follows

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def windows(blocks: Iterable[np.ndarray], window_s: float) -> Iterator[Window]:
    """Consecutive windows covering the blocks exactly; memory: one window plus two blocks.

    A window is cut only once `SEARCH_S` more seconds have arrived after it, so the last window is never
    a sliver; audio no longer than `window_s` is one window.
    """
    size = max(int(window_s * SAMPLE_RATE), 2 * SAMPLE_RATE)
    search = min(int(SEARCH_S * SAMPLE_RATE), size // 4)
    pending: list[np.ndarray] = []
    count = 0
    start = 0
    for block in blocks:
        pending.append(block)
        count += len(block)
        while count >= size + search:
            joined = np.concatenate(pending)
            cut = size - search + quiet_cut(joined[size - search : size])
            yield Window(start / SAMPLE_RATE, joined[:cut], last=False)
            pending, count, start = [joined[cut:].copy()], count - cut, start + cut
    joined = np.concatenate(pending) if pending else np.zeros(0, dtype=np.float32)
    yield Window(start / SAMPLE_RATE, joined, last=True)
