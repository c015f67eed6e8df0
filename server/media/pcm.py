"""Raw streamed audio (PCM16 or µ-law, any rate) → 16 kHz mono float32, chunk by chunk.

Resampling uses PyAV's libswresample through one stateful resampler per stream, so chunk edges add no clicks.
"""

from __future__ import annotations

import av
import numpy as np

from server.media.rate import SAMPLE_RATE

ENCODINGS = ("pcm_s16le", "pcm_mulaw")
BYTES_PER_SAMPLE = {"pcm_s16le": 2, "pcm_mulaw": 1}
# the highest rate libswresample is asked to convert from; beyond it a stream is refused at the handshake
MAX_SAMPLE_RATE = 384_000


def _mulaw_table() -> np.ndarray:
    """G.711 µ-law byte → linear PCM16, for all 256 codes."""
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


_MULAW = _mulaw_table()


class PcmStream:
    def __init__(self, encoding: str, sample_rate: int) -> None:
        if encoding not in ENCODINGS:
            raise ValueError(encoding)
        self.encoding = encoding
        self.sample_rate = sample_rate
        self._carry = b""  # an odd trailing byte of PCM16 waits for its partner
        self._resampler = (
            None
            if sample_rate == SAMPLE_RATE
            else av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        )
        self._pts = 0

    def duration_ms(self, data: bytes) -> float:
        return len(data) / BYTES_PER_SAMPLE[self.encoding] / self.sample_rate * 1000

    def decode(self, data: bytes) -> np.ndarray:
        if self.encoding == "pcm_mulaw":
            pcm = _MULAW[np.frombuffer(data, dtype=np.uint8)]
        else:
            data = self._carry + data
            cut = len(data) - len(data) % 2
            self._carry = data[cut:]
            pcm = np.frombuffer(data[:cut], dtype="<i2")
        if self._resampler is not None and len(pcm):
            pcm = self._resample(self._resampler, pcm)
        return pcm.astype(np.float32) / 32768.0

    def _resample(self, resampler: av.AudioResampler, pcm: np.ndarray) -> np.ndarray:
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1).astype(np.int16), format="s16", layout="mono")
        frame.sample_rate = self.sample_rate
        frame.pts = self._pts
        self._pts += len(pcm)
        out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int16)
