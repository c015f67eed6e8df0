"""The audio a job works on, as something to read again in blocks rather than one array in memory.

A ten-hour file is 2.3 GB of 16 kHz float32; every consumer (transcription windows, the speech
threshold, speaker labels, redacted audio) reads it block by block instead, so a job's memory is a few
blocks whatever the audio's length. Each read decodes the file again (cheap next to transcription).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from server.media.decode import decode_blocks
from server.media.rate import SAMPLE_RATE

BLOCK_S = 30.0


class Audio(Protocol):
    """16 kHz float32 audio readable block by block, mono (channels averaged) or one channel."""

    @property
    def duration_s(self) -> float: ...

    @property
    def channels(self) -> int: ...

    def blocks(self, channel: int | None = None) -> Iterator[np.ndarray]: ...


@dataclass(frozen=True)
class FileAudio:
    """The span [start_ms, end_ms) of a file, decoded anew on each read, at most `max_s` seconds."""

    path: str | os.PathLike[str]
    duration_s: float  # measured by decoding (server/media/probe.py: measure_duration), clipped to the span
    channels: int
    start_ms: int | None = None
    end_ms: int | None = None
    max_s: float | None = None

    def blocks(self, channel: int | None = None) -> Iterator[np.ndarray]:
        """Consecutive mono blocks of at most BLOCK_S seconds: the channels' mean, or channel `channel`."""
        for block in decode_blocks(
            self.path,
            sample_rate=SAMPLE_RATE,
            mono=channel is None,
            start_ms=self.start_ms,
            end_ms=self.end_ms,
            block_s=BLOCK_S,
            max_s=self.max_s,
        ):
            yield block if channel is None else np.ascontiguousarray(block[min(channel, len(block) - 1)])


@dataclass
class ArrayAudio:
    """Audio already in memory (short clips, tests): `samples` mono, `tracks` one array per channel."""

    samples: np.ndarray
    tracks: list[np.ndarray] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    @property
    def channels(self) -> int:
        return max(1, len(self.tracks))

    def blocks(self, channel: int | None = None) -> Iterator[np.ndarray]:
        data = self.samples if channel is None or not self.tracks else self.tracks[channel]
        step = int(BLOCK_S * SAMPLE_RATE)
        for i in range(0, max(len(data), 1), step):
            yield data[i : i + step]


def read_all(audio: Audio, channel: int | None = None) -> np.ndarray:
    """The whole span in one array: only for callers bounded to short audio."""
    parts = list(audio.blocks(channel))
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def part(audio: Audio, start_ms: int, end_ms: int) -> Audio:
    """The part [start_ms, end_ms) of `audio` (ms from its own start), read the same way."""
    start_ms, end_ms = max(0, start_ms), max(start_ms, end_ms)
    if isinstance(audio, FileAudio):
        base = audio.start_ms or 0
        return replace(
            audio, start_ms=base + start_ms, end_ms=base + end_ms, duration_s=(end_ms - start_ms) / 1000
        )
    a, b = start_ms * SAMPLE_RATE // 1000, end_ms * SAMPLE_RATE // 1000
    return ArrayAudio(read_all(audio)[a:b])
