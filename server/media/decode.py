"""Any audio or video file to float32 samples at the rate the engine wants, streamed through PyAV."""

from __future__ import annotations

import os
from collections.abc import Iterator

import av
import numpy as np

from server.media._container import AV_ERRORS, frame_time, iter_frames, open_audio
from server.media.errors import audio_too_long, transcoding_failed

# Seek this far before a requested start so that decoders with priming (mp3, aac, opus) and the
# resampler's filter have settled by the time the wanted span begins.
_PREROLL_S = 0.5
_SEEK_ERRORS: tuple[type[BaseException], ...] = (*AV_ERRORS, TypeError, ZeroDivisionError)
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
    max_s: float | None = None,
) -> np.ndarray:
    """Decode the best audio stream of ``path`` to float32 in [-1, 1], all at once.

    ``mono=True`` averages the channels (what faster-whisper's own decoder gets via s16 downmix, without
    the 16-bit rounding) and returns shape ``(n,)``; ``mono=False`` returns ``(channels, n)``.
    ``start_ms``/``end_ms`` cut the span ``[start, end)``; the start is reached by seeking, so cutting
    late in a long file does not decode all of it. Raises MediaError (never a raw PyAV error).
    Memory grows with the span: long audio goes through `decode_blocks` instead.
    """
    blocks = list(
        decode_blocks(path, sample_rate=sample_rate, mono=mono, start_ms=start_ms, end_ms=end_ms, max_s=max_s)
    )
    return np.concatenate(blocks, axis=-1) if len(blocks) > 1 else blocks[0]


def decode_blocks(
    path: str | os.PathLike[str],
    *,
    sample_rate: int = 16000,
    mono: bool = True,
    start_ms: int | None = None,
    end_ms: int | None = None,
    block_s: float = 30.0,
    max_s: float | None = None,
) -> Iterator[np.ndarray]:
    """`decode`, as consecutive blocks of at most ``block_s`` seconds: memory stays one block and one
    decoded frame, however long the audio. ``max_s`` stops decoding once the decoded span exceeds it
    (MediaError with the API's "too long" text), whatever the container's header claims."""
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
    block = max(1, int(block_s * sample_rate))
    limit = None if max_s is None else int(max_s * sample_rate)

    if start_s > _PREROLL_S:
        seeking = _decode(path, sample_rate, mono, start_s, end_s, block, limit, seek=True)
        try:
            first = next(seeking)
        except _SeekUnusable:
            pass
        except StopIteration:
            return
        else:
            yield first
            yield from seeking
            return
    yield from _decode(path, sample_rate, mono, start_s, end_s, block, limit, seek=False)


def _decode(
    path: str | os.PathLike[str],
    rate: int,
    mono: bool,
    start_s: float,
    end_s: float | None,
    block: int,
    limit: int | None,
    *,
    seek: bool,
) -> Iterator[np.ndarray]:
    with open_audio(path) as (container, stream):
        if seek:
            try:
                origin = stream.start_time or 0
                if not stream.time_base:
                    raise _SeekUnusable
                container.seek(origin + int((start_s - _PREROLL_S) / stream.time_base), stream=stream)
            except _SEEK_ERRORS:
                raise _SeekUnusable from None
        out = _Blocks(mono, start_s, end_s, rate, block, limit)
        out.stream_channels = int(stream.codec_context.channels or 1)
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
                yield from out.extend(resampler.resample(None))
                resampler = _resampler(rate)
                resampled = resampler.resample(frame)
            yield from out.extend(resampled)
            if out.done:
                break
        if not decoded_any:
            if seek:
                raise _SeekUnusable  # e.g. seeked past the end of a file with a lying duration
            raise transcoding_failed(path)
        if resampler is not None and not out.done:
            yield from out.extend(resampler.resample(None))
        yield from out.flush()


def _resampler(rate: int) -> av.AudioResampler:
    # Planar float keeps each channel in its own row; the downmix is done in numpy (see _Blocks) so
    # stereo becomes (L+R)/2 instead of swresample's unnormalised 0.707*(L+R), which can exceed 1.0.
    return av.AudioResampler(format="fltp", layout=None, rate=rate)


class _Blocks:
    """Keeps the resampled samples that fall inside [start, end) and hands them out in fixed-size blocks."""

    def __init__(
        self, mono: bool, start_s: float, end_s: float | None, rate: int, block: int, limit: int | None
    ) -> None:
        self.rate = rate
        self.mono = mono
        self.start_s = start_s
        self.end_s = end_s
        self.block = block
        self.limit = limit  # samples kept beyond which the audio is too long
        self.pending: list[np.ndarray] = []
        self.pending_n = 0
        self.kept = 0  # samples kept so far
        self.pos = 0  # samples seen since the origin
        self.first = 0  # index (since the origin) of the first sample to keep
        self.last: int | None = None  # index one past the last sample to keep
        self.channels: int | None = None  # rows, fixed by the first block
        self.stream_channels = 1  # what the container declares: the rows of an empty result
        self.done = False

    def set_origin(self, t0: float) -> None:
        """``t0``: the time (s) of the first decoded sample; the span is measured from there."""
        self.first = max(0, round((self.start_s - t0) * self.rate))
        if self.end_s is not None:
            self.last = max(0, round((self.end_s - t0) * self.rate))

    def extend(self, frames: list[av.AudioFrame]) -> Iterator[np.ndarray]:
        for frame in frames:
            if self.done:
                return
            self._add(frame.to_ndarray())
            while self.pending_n >= self.block:
                yield self._take(self.block)

    def flush(self) -> Iterator[np.ndarray]:
        if self.pending_n:
            yield self._take(self.pending_n)
        elif not self.kept:  # an empty span still has its shape: (0,) or (channels, 0)
            yield np.zeros(0 if self.mono else (self.stream_channels, 0), dtype=np.float32)

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
        if self.channels is None:
            self.channels = block.shape[0]
        elif block.shape[0] != self.channels:
            raise ValueError("channel count changed mid-stream")  # mapped to "Transcoding failed"
        self.kept += block.shape[1]
        if self.limit is not None and self.kept > self.limit:
            raise audio_too_long()
        self.pending.append(block)
        self.pending_n += block.shape[1]

    def _take(self, n: int) -> np.ndarray:
        joined = np.concatenate(self.pending, axis=1) if len(self.pending) > 1 else self.pending[0]
        out, rest = joined[:, :n], joined[:, n:]
        self.pending = [rest] if rest.shape[1] else []
        self.pending_n = rest.shape[1]
        out = np.clip(out, -1.0, 1.0, dtype=np.float32)
        return out[0] if self.mono else out
