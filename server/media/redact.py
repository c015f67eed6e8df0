"""Redacted audio (`redact_pii_audio`): the decoded samples with every PII span beeped or silenced, encoded.

The spans come from PII redaction (ms on the file's clock, `Document.pii_spans`). A beep is a 1 kHz
tone, the usual broadcast "bleep", with 5 ms ramps so its edges do not click; `silence` (the API's
`override_audio_redaction_method`) writes zeros instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Literal

import numpy as np

from server.media.encode import AudioFormat, write_audio

BEEP_HZ = 1000.0
BEEP_LEVEL = 0.25  # amplitude: clearly audible, well below clipping
RAMP_S = 0.005

Method = Literal["beep", "silence"]


def redact_samples(
    samples: np.ndarray,
    spans_ms: Iterable[Mapping[str, int]],
    sample_rate: int,
    *,
    offset_ms: int = 0,
    method: Method = "beep",
    first_index: int = 0,
) -> np.ndarray:
    """A copy of mono `samples` with each span `{start, end}` (ms; the audio begins at `offset_ms`)
    replaced by a tone or silence. Spans outside the samples are clipped to them. `first_index`: where
    these samples start in that audio, so a span cut across blocks gets one continuous tone."""
    out = np.array(samples, dtype=np.float32, copy=True)
    ramp = max(1, int(RAMP_S * sample_rate))
    for span in spans_ms:
        lo = int(round((span["start"] - offset_ms) * sample_rate / 1000))  # the span, on the audio's clock
        hi = int(round((span["end"] - offset_ms) * sample_rate / 1000))
        a = max(0, lo - first_index)
        b = min(len(out), hi - first_index)
        if b <= a or hi <= lo:
            continue
        if method == "silence":
            out[a:b] = 0.0
            continue
        i = np.arange(a, b) + first_index - lo  # sample index from the span's start
        tone = BEEP_LEVEL * np.sin(2 * np.pi * BEEP_HZ * i / sample_rate)
        edge = min(ramp, (hi - lo) // 2)
        if edge:
            tone *= np.clip(np.minimum(i, hi - lo - 1 - i) / edge, 0.0, 1.0)
        out[a:b] = tone
    return out


def write_redacted(
    samples: np.ndarray | Iterable[np.ndarray],
    spans_ms: Iterable[Mapping[str, int]],
    sample_rate: int,
    path: str | os.PathLike[str],
    format: AudioFormat = "mp3",
    *,
    offset_ms: int = 0,
    method: Method = "beep",
) -> Path:
    """Redact and encode to `path` (written atomically by `write_audio`). `samples` may be consecutive
    mono blocks: each is redacted on its own clock and encoded as it comes, so memory stays one block."""
    spans = list(spans_ms)
    blocks = [samples] if isinstance(samples, np.ndarray) else samples

    def redacted() -> Iterator[np.ndarray]:
        done = 0  # samples before this block
        for block in blocks:
            yield redact_samples(
                block, spans, sample_rate, offset_ms=offset_ms, method=method, first_index=done
            )
            done += len(block)

    return write_audio(redacted(), sample_rate, path, format)
