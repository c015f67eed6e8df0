"""Redacted audio (`redact_pii_audio`): the decoded samples with every PII span beeped or silenced, encoded.

The spans come from PII redaction (ms on the file's clock, `doc.extra["pii_spans"]`). A beep is a 1 kHz
tone, the usual broadcast "bleep", with 5 ms ramps so its edges do not click; `silence` (the API's
`override_audio_redaction_method`) writes zeros instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
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
) -> np.ndarray:
    """A copy of mono `samples` with each span `{start, end}` (ms; the samples begin at `offset_ms`)
    replaced by a tone or silence. Spans outside the samples are clipped to them."""
    out = np.array(samples, dtype=np.float32, copy=True)
    ramp = max(1, int(RAMP_S * sample_rate))
    for span in spans_ms:
        a = max(0, int(round((span["start"] - offset_ms) * sample_rate / 1000)))
        b = min(len(out), int(round((span["end"] - offset_ms) * sample_rate / 1000)))
        if b <= a:
            continue
        if method == "silence":
            out[a:b] = 0.0
            continue
        t = np.arange(b - a) / sample_rate
        tone = BEEP_LEVEL * np.sin(2 * np.pi * BEEP_HZ * t)
        edge = min(ramp, (b - a) // 2)
        if edge:
            env = np.linspace(0.0, 1.0, edge, endpoint=False)
            tone[:edge] *= env
            tone[len(tone) - edge :] *= env[::-1]
        out[a:b] = tone
    return out


def write_redacted(
    samples: np.ndarray,
    spans_ms: Iterable[Mapping[str, int]],
    sample_rate: int,
    path: str | os.PathLike[str],
    format: AudioFormat = "mp3",
    *,
    offset_ms: int = 0,
    method: Method = "beep",
) -> Path:
    """Redact and encode to `path` (written atomically by `write_audio`)."""
    redacted = redact_samples(samples, spans_ms, sample_rate, offset_ms=offset_ms, method=method)
    return write_audio(redacted, sample_rate, path, format)
