"""Write samples back to a file (redacted audio), with PyAV's bundled encoders: no ffmpeg binary needed."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Literal

import av
import numpy as np

from server.media._container import AV_ERRORS
from server.media.errors import MediaError

AudioFormat = Literal["wav", "mp3"]

# (encoder, sample format it takes) per output format. The av wheels ship libmp3lame.
_ENCODERS: dict[str, tuple[str, str]] = {"wav": ("pcm_s16le", "s16"), "mp3": ("libmp3lame", "fltp")}
_LAYOUTS = {1: "mono", 2: "stereo"}
_CHUNK = 4096  # samples per frame for encoders without a fixed frame size


def write_audio(
    samples: np.ndarray, sample_rate: int, path: str | os.PathLike[str], format: AudioFormat = "wav"
) -> Path:
    """Encode float samples in [-1, 1], shape ``(n,)`` or ``(channels, n)``, to a wav or mp3 file.

    The file appears atomically (written beside ``path`` and renamed), so a reader never sees a
    half-written redacted file. Values outside [-1, 1] are clipped. Raises MediaError on failure.
    """
    if format not in _ENCODERS:
        raise ValueError(f"format must be one of: {', '.join(_ENCODERS)}")
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 1:
        data = data[np.newaxis, :]
    if data.ndim != 2 or data.shape[0] not in _LAYOUTS:
        raise ValueError("samples must have shape (n,) or (channels, n) with 1 or 2 channels")
    if sample_rate <= 0:
        raise ValueError("sample_rate must be positive")
    data = np.clip(data, -1.0, 1.0)

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_name = str(target.with_name(f".{target.name}.{uuid.uuid4().hex}.part"))
    try:
        _encode(data, sample_rate, tmp_name, format)
        os.replace(tmp_name, target)
    except AV_ERRORS as exc:
        raise MediaError(f"Could not write {format} audio: {exc}") from exc
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return target


def _encode(data: np.ndarray, sample_rate: int, filename: str, format: str) -> None:
    codec, sample_format = _ENCODERS[format]
    layout = _LAYOUTS[data.shape[0]]
    with av.open(filename, mode="w", format=format) as container:
        stream = container.add_stream(codec, rate=sample_rate, layout=layout)
        stream.format = sample_format
        if format == "mp3":
            stream.bit_rate = 64_000 if data.shape[0] == 1 else 128_000
        step = stream.codec_context.frame_size or _CHUNK
        for offset in range(0, data.shape[1], step):
            frame = _frame(data[:, offset : offset + step], sample_format, layout, sample_rate)
            frame.pts = offset
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _frame(block: np.ndarray, sample_format: str, layout: str, sample_rate: int) -> av.AudioFrame:
    if sample_format == "s16":  # packed: one row, channels interleaved
        pcm = np.round(block.T * 32767.0).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout=layout)
    else:  # planar float: one row per channel
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format=sample_format, layout=layout)
    frame.sample_rate = sample_rate
    return frame
