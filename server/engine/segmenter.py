"""Cut audio that is still arriving at its pauses, so each finished segment can be decoded at once.

The Sync API's live path (docs/compatibility.md#sync-api) uses it: when the last byte arrives only the last
segment is left to decode. The speech probabilities come from the streaming path's VAD (server/engine/vad.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from server.engine.vad import FRAME, StreamingVad
from server.media.rate import SAMPLE_RATE

SPEECH_THRESHOLD = 0.5  # Silero's own default


@dataclass
class Segment:
    samples: np.ndarray  # 16 kHz mono float32
    offset_s: float  # where it starts in the whole clip
    has_speech: bool  # the VAD heard speech in it


class PauseSegmenter:
    """Feed 16 kHz samples in any chunk sizes; get back the segments that a long enough pause has ended.

    A segment ends in the middle of the first pause of `cut_silence_ms` that comes after speech, once it is at
    least `min_segment_s` long: whisper then sees whole phrases with a little silence on both sides.
    """

    def __init__(self, *, cut_silence_ms: int, min_segment_s: float) -> None:
        self.vad = StreamingVad()
        self.cut_frames = max(1, round(cut_silence_ms / 1000 * SAMPLE_RATE / FRAME))
        self.min_samples = int(min_segment_s * SAMPLE_RATE)
        self._pieces: list[np.ndarray] = []
        self._start = 0  # first sample of the open segment, counted from the clip's start
        self._total = 0  # samples received
        self._frames = 0  # VAD frames scored
        self._silent = 0  # trailing frames below the threshold
        self._speech = False  # the open segment has speech
        self.cuts = 0

    def feed(self, samples: np.ndarray) -> list[Segment]:
        if not len(samples):
            return []
        self._pieces.append(samples)
        self._total += len(samples)
        done: list[Segment] = []
        for probability in self.vad.feed(samples):
            self._frames += 1
            if probability >= SPEECH_THRESHOLD:
                self._speech, self._silent = True, 0
                continue
            self._silent += 1
            frame_end = self._frames * FRAME
            if (
                self._speech
                and self._silent >= self.cut_frames
                and frame_end - self._start >= self.min_samples
            ):
                done.append(self._cut(frame_end - self._silent * FRAME // 2))
        return done

    def finish(self) -> Segment | None:
        """What is left after the last byte (None when nothing is)."""
        start = self._start
        rest = self._take(self._total)
        if not len(rest):
            return None
        return Segment(rest, start / SAMPLE_RATE, self._speech)

    def _cut(self, at: int) -> Segment:
        start = self._start
        samples = self._take(at)
        self.cuts += 1
        self._speech = False
        self._silent = 0
        return Segment(samples, start / SAMPLE_RATE, True)

    def _take(self, until: int) -> np.ndarray:
        """The samples of the open segment up to absolute sample `until`; the rest stays open."""
        whole = np.concatenate(self._pieces) if self._pieces else np.zeros(0, dtype=np.float32)
        head, tail = whole[: until - self._start], whole[until - self._start :]
        self._pieces = [tail] if len(tail) else []
        self._start = until
        return head
