"""Write samples back to a file (redacted audio), with PyAV's bundled encoders: no ffmpeg binary needed."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Literal, cast

import av
import numpy as np
from av.audio.stream import AudioStream

from server.media._container import AV_ERRORS
from server.media.errors import MediaError

AudioFormat = Literal["wav", "mp3"]

# (encoder, sample format it takes) per output format. The av wheels ship libmp3lame.
_ENCODERS: dict[str, tuple[str, str]] = {"wav": ("pcm_s16le", "s16"), "mp3": ("libmp3lame", "fltp")}
_LAYOUTS = {1: "mono", 2: "stereo"}
_CHUNK = 4096  # samples per frame for encoders without a fixed frame size


def write_audio(
    samples: np.ndarray | Iterable[np.ndarray],
    sample_rate: int,
    path: str | os.PathLike[str],
    format: AudioFormat = "wav",
) -> Path:
    """Encode float samples in [-1, 1], shape ``(n,)`` or ``(channels, n)``, to a wav or mp3 file.

    ``samples`` may also be consecutive blocks of the same shape, encoded as they come (memory: one
    block). The file appears atomically (written beside ``path`` and renamed), so a reader never sees a
    half-written redacted file. Values outside [-1, 1] are clipped. Raises MediaError on failure.
    """
    if format not in _ENCODERS:
        raise ValueError(f"format must be one of: {', '.join(_ENCODERS)}")
    if sample_rate <= 0:
        raise ValueError("sample_rate must be positive")
    blocks = _checked(iter([samples] if isinstance(samples, np.ndarray) else samples))
    first = next(blocks, None)
    if first is None:
        raise ValueError("no samples")

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_name = str(target.with_name(f".{target.name}.{uuid.uuid4().hex}.part"))
    try:
        _encode(first, blocks, sample_rate, tmp_name, format)
        os.replace(tmp_name, target)
    except AV_ERRORS as exc:
        raise MediaError(f"Could not write {format} audio: {exc}") from exc
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return target


def _checked(blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    for block in blocks:
        data = np.asarray(block, dtype=np.float32)
        if data.ndim == 1:
            data = data[np.newaxis, :]
        if data.ndim != 2 or data.shape[0] not in _LAYOUTS:
            raise ValueError("samples must have shape (n,) or (channels, n) with 1 or 2 channels")
        yield np.clip(data, -1.0, 1.0)


def _encode(
    first: np.ndarray, rest: Iterator[np.ndarray], sample_rate: int, filename: str, format: str
) -> None:
    codec, sample_format = _ENCODERS[format]
    channels = first.shape[0]
    layout = _LAYOUTS[channels]
    with av.open(filename, mode="w", format=format) as container:
        stream = cast(AudioStream, container.add_stream(codec, rate=sample_rate, layout=layout))
        stream.format = sample_format
        if format == "mp3":
            stream.bit_rate = 64_000 if channels == 1 else 128_000
        step = stream.codec_context.frame_size or _CHUNK
        carry = np.zeros((channels, 0), dtype=np.float32)  # a frame's worth is encoded at a time
        pts = 0
        for block in chain([first], rest):
            if block.shape[0] != channels:
                raise ValueError("channel count changed between blocks")
            carry = np.concatenate([carry, block], axis=1)
            whole = carry.shape[1] - carry.shape[1] % step
            for offset in range(0, whole, step):
                frame = _frame(carry[:, offset : offset + step], sample_format, layout, sample_rate, pts)
                container.mux(stream.encode(frame))
                pts += step
            carry = carry[:, whole:]
        if carry.shape[1]:
            container.mux(stream.encode(_frame(carry, sample_format, layout, sample_rate, pts)))
        container.mux(stream.encode(None))


def _frame(block: np.ndarray, sample_format: str, layout: str, sample_rate: int, pts: int) -> av.AudioFrame:
    if sample_format == "s16":  # packed: one row, channels interleaved
        pcm = np.round(block.T * 32767.0).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout=layout)
    else:  # planar float: one row per channel
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format=sample_format, layout=layout)
    frame.sample_rate = sample_rate
    frame.pts = pts
    return frame
