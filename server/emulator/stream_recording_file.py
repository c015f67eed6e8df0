"""The file a recorded v3 streaming session is kept in, its key, and the audio tally both modes share
(docs/testing.md#streaming-sessions-v3).

A recording is found by the session's query parameters and the SHA-256 of its first second of audio (all of
it, for a shorter session): the audio is known only as it arrives (CHOICE). Positions are whole milliseconds
of audio counted from the bytes as sent, at the stream's encoding and rate, the same in both modes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from server import errors
from server.emulator.payloads import problem
from server.emulator.recordings import RecordingError, params_key
from server.media.pcm import BYTES_PER_SAMPLE

FORMAT = 1
KEY_AUDIO_MS = 1000  # the first second of audio picks the recording
NOT_KEYED = frozenset({"token"})  # a credential, never a parameter


class RecordedMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    audio_ms: int = Field(ge=0)  # audio the upstream had been sent when the message arrived
    message: dict[str, Any]


class StreamRecording(BaseModel):
    """One recorded streaming session, as written to disk (checked when it is read back)."""

    model_config = ConfigDict(extra="forbid")

    format: int = Field(ge=FORMAT, le=FORMAT)
    key_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")  # the first second of audio
    audio_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    audio_bytes: int = Field(ge=0)
    params: dict[str, str]
    recorded_at: str
    upstream: str
    messages: list[RecordedMessage]


def stream_params(query: Mapping[str, str]) -> dict[str, str]:
    """The session's query parameters, sorted, without credentials, booleans spelt one way (the Python SDK
    sends `True`, others `true`): what the upstream is sent, and half of a recording's key."""
    return {k: _canonical(query[k]) for k in sorted(query) if k not in NOT_KEYED}


def _canonical(value: str) -> str:
    return value.lower() if value.lower() in ("true", "false") else value


def stream_recording_path(folder: Path, key_sha256: str, params: Mapping[str, str]) -> Path:
    return folder / f"stream-{key_sha256[:16]}-{params_key(dict(params))}.json"


def read_stream_recording(path: Path) -> StreamRecording:
    """A recording file, or RecordingError naming the file and the field that is wrong."""
    try:
        return StreamRecording.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise RecordingError(errors.RECORDING_INVALID.format(path=path.name, problem=problem(exc))) from None
    except OSError as exc:
        raise RecordingError(errors.RECORDING_INVALID.format(path=path.name, problem=exc.strerror)) from None


class AudioTally:
    """A session's audio as it arrives: its length, its SHA-256, and the SHA-256 of its first second."""

    def __init__(self, encoding: str, sample_rate: int) -> None:
        self.bytes_per_s = BYTES_PER_SAMPLE.get(encoding, 2) * sample_rate
        self.key_bytes = self.bytes_per_s * KEY_AUDIO_MS // 1000
        self.count = 0
        self._all = hashlib.sha256()
        self._key = hashlib.sha256()

    def add(self, data: bytes) -> None:
        room = self.key_bytes - self.count
        if room > 0:
            self._key.update(data[:room])
        self._all.update(data)
        self.count += len(data)

    @property
    def ms(self) -> int:
        """Audio received, on the clock both modes share (whole milliseconds, from the bytes)."""
        return self.count * 1000 // self.bytes_per_s if self.bytes_per_s else 0

    @property
    def key_ready(self) -> bool:
        return self.count >= self.key_bytes

    def key_sha256(self) -> str:
        return self._key.hexdigest()

    def sha256(self) -> str:
        return self._all.hexdigest()


def write_stream_recording(path: Path, recording: StreamRecording) -> None:
    """Atomically, pretty-printed: recordings are read in code review next to the tests."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(f".{os.getpid()}.part")
    part.write_text(json.dumps(recording.model_dump(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    part.replace(path)
