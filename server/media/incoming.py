"""An audio upload that is still arriving → 16 kHz mono float32, piece by piece.

Raw 16-bit PCM (the rate and channel count given by the caller) and 16-bit PCM WAV decode as the bytes land,
so the Sync API can cut and decode speech before the upload ends. Anything else (another WAV encoding, or a
container the client labelled `audio/wav`, as the SDK does for every non-PCM file) is kept whole and
decoded by PyAV at the end, like an async upload.
"""

from __future__ import annotations

import os
import struct
import tempfile

import numpy as np

from server.media.decode import decode
from server.media.errors import MediaError
from server.media.pcm import PcmStream

_WAV_FORMAT_PCM = 1
_WAV_FORMAT_EXTENSIBLE = 0xFFFE
_MAX_HEADER = 1 << 16  # a WAV whose data chunk starts later than this is read whole instead


class AudioFormatError(Exception):
    """The bytes are not audio this server can read; the message says why."""


class IncomingAudio:
    def __init__(self, *, pcm: bool, sample_rate: int | None = None, channels: int | None = None) -> None:
        self._head = b""  # bytes before the format is known
        self._whole: list[bytes] | None = None  # bytes kept for the end (not streamable)
        self._stream: PcmStream | None = None
        self._channels = 1
        self._frame_carry = b""
        self._data_left: int | None = None  # WAV data bytes still expected, when the header says
        self.samples = 0  # 16 kHz samples produced so far
        if pcm:
            assert sample_rate and channels
            self._start(sample_rate, channels)

    def feed(self, data: bytes) -> np.ndarray:
        """The samples these bytes complete (possibly none)."""
        if self._whole is not None:
            self._whole.append(data)
            return _EMPTY
        if self._stream is None:
            self._head += data
            return self._parse_header()
        return self._pcm(data)

    def finish(self) -> np.ndarray:
        """The samples only the end could give: a non-streamable file decoded whole."""
        if self._stream is None and self._whole is None:
            self._whole = [self._head]  # too short to hold a WAV header: let PyAV judge
        if self._whole is not None:
            return self._count(_decode_whole(b"".join(self._whole)))
        return _EMPTY

    # --- raw PCM ------------------------------------------------------------------------------------------
    def _start(self, sample_rate: int, channels: int) -> None:
        self._stream = PcmStream("pcm_s16le", sample_rate)
        self._channels = channels

    def _pcm(self, data: bytes) -> np.ndarray:
        if self._data_left is not None:
            data = data[: self._data_left]
            self._data_left -= len(data)
        data = self._frame_carry + data
        frame = 2 * self._channels
        whole = len(data) - len(data) % frame
        self._frame_carry = data[whole:]
        if not whole:
            return _EMPTY
        pcm = np.frombuffer(data[:whole], dtype="<i2")
        if self._channels > 1:
            pcm = pcm.reshape(-1, self._channels).mean(axis=1).astype("<i2")
        assert self._stream is not None
        return self._count(self._stream.decode(pcm.tobytes()))

    def _count(self, samples: np.ndarray) -> np.ndarray:
        self.samples += len(samples)
        return samples

    # --- WAV ----------------------------------------------------------------------------------------------
    def _parse_header(self) -> np.ndarray:
        head = self._head
        if len(head) < 12:
            return _EMPTY
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            self._whole = [head]  # another container: decoded whole at the end
            return _EMPTY
        pos, fmt = 12, None
        while len(head) >= pos + 8:
            chunk, size = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
            body = pos + 8
            if chunk == b"data":
                if fmt is None:
                    raise AudioFormatError("The WAV file has no fmt chunk before its data")
                codec, channels, rate, bits = fmt
                if codec not in (_WAV_FORMAT_PCM, _WAV_FORMAT_EXTENSIBLE) or bits != 16:
                    self._whole = [head]  # float or 8/24/32-bit WAV: PyAV reads it at the end
                    return _EMPTY
                if not channels or not rate:
                    raise AudioFormatError("The WAV header gives no sample rate or channel count")
                self._start(rate, channels)
                # streamed WAVs carry 0 or 0xFFFFFFFF: then everything after the header is audio
                self._data_left = size if 0 < size < 0xFFFFFFFF else None
                self._head = b""
                return self._pcm(head[body:])
            if len(head) < body + size + (size & 1):
                break
            if chunk == b"fmt ":
                if size < 16:
                    raise AudioFormatError("The WAV fmt chunk is truncated")
                codec, channels, rate, _, _, bits = struct.unpack("<HHIIHH", head[body : body + 16])
                fmt = (codec, channels, rate, bits)
            pos = body + size + (size & 1)
        if len(head) > _MAX_HEADER:
            self._whole = [head]
        return _EMPTY


_EMPTY = np.zeros(0, dtype=np.float32)


def _decode_whole(data: bytes) -> np.ndarray:
    if not data:
        raise AudioFormatError("The audio part is empty")
    fd, path = tempfile.mkstemp(prefix="localscribe-sync-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return decode(path)
    except MediaError as exc:
        raise AudioFormatError(str(exc)) from None
    finally:
        os.unlink(path)
