"""Per-channel audio for multichannel transcription (one speaker per channel, AssemblyAI `multichannel`)."""

from __future__ import annotations

import os

import numpy as np

from server.media.decode import decode


def split_channels(
    path: str | os.PathLike[str],
    *,
    sample_rate: int = 16000,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> list[np.ndarray]:
    """One float32 array of shape ``(n,)`` per channel, all the same length, in the file's channel order."""
    samples = decode(path, sample_rate=sample_rate, mono=False, start_ms=start_ms, end_ms=end_ms)
    return [np.ascontiguousarray(row) for row in samples]
