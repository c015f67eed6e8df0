"""Opening a file with PyAV and picking its audio stream, with every failure turned into a MediaError."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import av
import av.container
import av.stream

from server.media.errors import MediaError, not_audio, transcoding_failed, unreadable

# Everything PyAV/ffmpeg is known to raise while opening or demuxing a bad file. `IndexError` and
# `StopIteration` come from stream lookups; `ValueError` covers av.error.InvalidDataError's base class
# and the resampler's "frame does not match" complaints.
AV_ERRORS: tuple[type[BaseException], ...] = (
    av.error.FFmpegError,
    EOFError,
    OSError,
    IndexError,
    StopIteration,
    ValueError,
    RuntimeError,
    UnicodeError,
    # PyAV surfaces odd streams (no decoder, no codec context) as plain Python errors
    AttributeError,
    TypeError,
    KeyError,
    ArithmeticError,
)


@contextmanager
def open_audio(path: str | os.PathLike[str]) -> Iterator[tuple[av.container.InputContainer, av.AudioStream]]:
    """Open ``path`` and yield ``(container, best audio stream)``; raise MediaError for anything else.

    PyAV reads through the file as it demuxes, so the encoded bytes are never all in memory.
    """
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise transcoding_failed(name)
    try:
        container = av.open(name, mode="r", metadata_errors="replace")
    except AV_ERRORS:
        raise unreadable(name) from None
    try:
        stream = _best_audio(container)
        if stream is None:
            raise not_audio(name)
        yield container, stream
    except MediaError:
        raise
    except AV_ERRORS:
        raise transcoding_failed(name) from None
    finally:
        container.close()


def _best_audio(container: av.container.InputContainer) -> av.AudioStream | None:
    """ffmpeg's own pick (av_find_best_stream), so files with several tracks behave like `ffmpeg -i`."""
    try:
        best = container.streams.best("audio")
    except AV_ERRORS:
        best = None
    if best is not None:
        return best  # type: ignore[return-value]
    audio = container.streams.audio
    return audio[0] if len(audio) else None


def frame_time(frame: av.AudioFrame, stream: av.stream.Stream) -> float | None:
    """Seconds from the stream's start to this frame, or None when the demuxer gave no timestamps."""
    if frame.pts is None or stream.time_base is None:
        return None
    origin = stream.start_time or 0
    return float((frame.pts - origin) * stream.time_base)


def iter_frames(container: av.container.InputContainer, stream: av.AudioStream) -> Iterator[av.AudioFrame]:
    """Decoded frames of ``stream`` only (other streams' packets are never decoded).

    Like the ffmpeg CLI, a packet the decoder rejects is skipped and a demuxer error ends the stream
    with what was decoded so far; callers treat "no frame at all" as a transcoding failure.
    """
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except AV_ERRORS:
            return
        try:
            frames = packet.decode()
        except AV_ERRORS:
            continue
        yield from frames
