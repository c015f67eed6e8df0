"""Speech probability per 32 ms frame, fed incrementally, with the Silero VAD model faster-whisper ships."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

FRAME = 512  # samples at 16 kHz: 32 ms
CONTEXT = 64


@lru_cache(maxsize=1)
def _model():  # -> faster_whisper.vad.SileroVADModel (one per process; its ONNX session is thread-safe)
    from faster_whisper.vad import get_vad_model

    return get_vad_model()


class StreamingVad:
    """Keeps the unframed tail, the last frame's context and the LSTM state between calls, so a stream fed
    in any chunk sizes gets the same probabilities as one whole-file pass.
    """

    def __init__(self) -> None:
        self._pending = np.zeros(0, dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """Speech probabilities of the complete frames now available (possibly none)."""
        data = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        whole = len(data) - len(data) % FRAME
        self._pending = data[whole:]
        if whole == 0:
            return np.zeros(0, dtype=np.float32)
        frames = data[:whole].reshape(-1, FRAME)
        contexts = np.concatenate([self._context[None, :], frames[:-1, -CONTEXT:]])
        self._context = frames[-1, -CONTEXT:].copy()
        batch = np.concatenate([contexts, frames], axis=1)
        out, self._h, self._c = _model().session.run(None, {"input": batch, "h": self._h, "c": self._c})
        return np.asarray(out, dtype=np.float32).reshape(-1)


def load() -> None:
    """Load the VAD model now (GET /v1/warm), so the first request does not pay for it."""
    _model()
