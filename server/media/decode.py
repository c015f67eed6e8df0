"""Any audio or video file to float32 samples at the rate the engine wants, streamed through PyAV."""

from __future__ import annotations

import os

import av
import numpy as np

from server.media._container import AV_ERRORS, frame_time, iter_frames, open_audio
from server.media.errors import transcoding_failed

# Seek this far before a requested start so that decoders with priming (mp3, aac, opus) and the
# resampler's filter have settled by the time the wanted span begins.
_PREROLL_S = 0.5
_SEEK_SLACK_S = 0.005


class _SeekUnusable(Exception):
    """The seek landed somewhere we cannot place in time; decode from the beginning instead."""


def decode(
    path: str | os.PathLike[str],
    *,
    sample_rate: int = 16000,
    mono: bool = True,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> np.ndarray:
    """Decode the best audio stream of ``path`` to float32 in [-1, 1].

    ``mono=True`` averages the channels (what faster-whisper's own decoder gets via s16 downmix, without
    the 16-bit rounding) and returns shape ``(n,)``; ``mono=False`` returns ``(channels, n)``.
    ``start_ms``/``end_ms`` cut the span ``[start, end)``; the start is reached by seeking, so cutting
    late in a long file does not decode all of it. Raises MediaError (never a raw PyAV error).
    """
    if sample_rate <= 0:
        raise ValueError("sample_rate must be positive")
    if start_ms is not None and start_ms < 0:
        raise ValueError("start_ms must be >= 0")
    if end_ms is not None and end_ms < 0:
        raise ValueError("end_ms must be >= 0")
    start_s = (start_ms or 0) / 1000.0
    end_s = None if end_ms is None else end_ms / 1000.0
    if end_s is not None and end_s <= start_s:
        raise ValueError("end_ms must be greater than start_ms")

    if start_s > _PREROLL_S:
        try:
            return _decode(path, sample_rate, mono, start_s, end_s, seek=True)
        except _SeekUnusable:
            pass
    return _decode(path, sample_rate, mono, start_s, end_s, seek=False)


def _decode(
    path: str | os.PathLike[str], rate: int, mono: bool, start_s: float, end_s: float | None, *, seek: bool
) -> np.ndarray:
    with open_audio(path) as (container, stream):
        if seek:
            try:
                origin = stream.start_time or 0
                container.seek(origin + int((start_s - _PREROLL_S) / stream.time_base), stream=stream)
            except (*AV_ERRORS, TypeError, ZeroDivisionError):
                raise _SeekUnusable from None
        channels = int(stream.codec_context.channels or 1)
        out = _Collector(rate, mono, start_s, end_s, channels, _capacity(stream, rate, start_s, end_s))
        resampler: av.AudioResampler | None = None
        decoded_any = False
        for frame in iter_frames(container, stream):
            if not decoded_any:
                decoded_any = True
                t0 = frame_time(frame, stream)
                if seek and (t0 is None or t0 > start_s + _SEEK_SLACK_S):
                    raise _SeekUnusable  # no timestamps, or the demuxer overshot the start
                out.set_origin(t0 or 0.0)
            if resampler is None:
                resampler = _resampler(rate)
            try:
                resampled = resampler.resample(frame)
            except ValueError:
                # the decoder changed rate/layout mid-stream: drain the old resampler, start a new one
                out.extend(resampler.resample(None))
                resampler = _resampler(rate)
                resampled = resampler.resample(frame)
            out.extend(resampled)
            if out.done:
                break
        if not decoded_any:
            if seek:
                raise _SeekUnusable  # e.g. seeked past the end of a file with a lying duration
            raise transcoding_failed(path)
        if resampler is not None and not out.done:
            out.extend(resampler.resample(None))
        return out.result()


def _resampler(rate: int) -> av.AudioResampler:
    # Planar float keeps each channel in its own row; the downmix is done in numpy (see _Collector) so
    # stereo becomes (L+R)/2 instead of swresample's unnormalised 0.707*(L+R), which can exceed 1.0.
    return av.AudioResampler(format="fltp", layout=None, rate=rate)


def _capacity(stream: av.AudioStream, rate: int, start_s: float, end_s: float | None) -> int:
    """A first guess of the output length, so long files are not built by repeated copying."""
    try:
        total = float(stream.duration * stream.time_base) if stream.duration else 0.0
    except (TypeError, ValueError):
        total = 0.0
    stop = end_s if end_s is not None else total
    if total:
        stop = min(stop, total)
    return max(int((stop - start_s) * rate) + rate, rate)


class _Collector:
    """Keeps the resampled samples that fall inside [start, end), in one growing buffer."""

    def __init__(
        self, rate: int, mono: bool, start_s: float, end_s: float | None, channels: int, capacity: int
    ) -> None:
        self.rate = rate
        self.mono = mono
        self.start_s = start_s
        self.end_s = end_s
        self.capacity = capacity
        self.buf: np.ndarray | None = None
        self.size = 0  # samples kept
        self.pos = 0  # samples seen since the origin
        self.first = 0  # index (since the origin) of the first sample to keep
        self.last: int | None = None  # index one past the last sample to keep
        self.channels = 1 if mono else channels  # rows of the result; fixed by the first block
        self.done = False

    def set_origin(self, t0: float) -> None:
        """``t0``: the time (s) of the first decoded sample; the span is measured from there."""
        self.first = max(0, round((self.start_s - t0) * self.rate))
        if self.end_s is not None:
            self.last = max(0, round((self.end_s - t0) * self.rate))

    def extend(self, frames: list[av.AudioFrame]) -> None:
        for frame in frames:
            if self.done:
                return
            self._add(frame.to_ndarray())

    def _add(self, block: np.ndarray) -> None:
        n = block.shape[-1]
        lo = max(self.first - self.pos, 0)
        hi = n if self.last is None else min(n, self.last - self.pos)
        self.pos += n
        if self.last is not None and self.pos >= self.last:
            self.done = True
        if hi <= lo:
            return
        block = block[:, lo:hi]
        if self.mono:
            block = block.mean(axis=0, keepdims=True, dtype=np.float32) if block.shape[0] > 1 else block
        self._store(block)

    def _store(self, block: np.ndarray) -> None:
        if self.buf is None:
            self.channels = block.shape[0]
            self.buf = np.empty((self.channels, max(self.capacity, block.shape[1])), dtype=np.float32)
        elif block.shape[0] != self.channels:
            raise ValueError("channel count changed mid-stream")  # mapped to "Transcoding failed"
        need = self.size + block.shape[1]
        if need > self.buf.shape[1]:
            grown = np.empty((self.channels, max(need, self.buf.shape[1] * 2)), dtype=np.float32)
            grown[:, : self.size] = self.buf[:, : self.size]
            self.buf = grown
        self.buf[:, self.size : need] = block
        self.size = need

    def result(self) -> np.ndarray:
        if self.buf is None:
            samples = np.zeros((self.channels, 0), dtype=np.float32)
        else:
            samples = self.buf[:, : self.size]
            if self.size < self.buf.shape[1]:
                samples = samples.copy()  # give the slack back
        np.clip(samples, -1.0, 1.0, out=samples)
        return samples[0] if self.mono else samples
