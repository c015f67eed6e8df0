"""Replay mode for v3 streaming sessions (docs/testing.md#streaming-sessions-v3): recorded messages played
against the audio clock, as scripted turns are.

The session it plays into is streaming's, which the emulator does not import: the node (server/node.py) hands
the replay how that session sends a message as it is (`as_is`) and the error that closes it (`refuse`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from server import errors
from server.config import Settings
from server.emulator.recordings import RecordingError, params_key
from server.emulator.scripted import ClockedRecognizer
from server.emulator.stream_recording_file import (
    AudioTally,
    StreamRecording,
    read_stream_recording,
    stream_recording_path,
)
from server.engine.base import EngineResult
from server.engine.recognizer import DecodeRequest, Event, Recognizer

OWN_MESSAGES = frozenset({"Begin", "Termination"})  # ids and times: the replaying session sends its own


class ReplayRecognizer(ClockedRecognizer):
    """Recorded messages against the audio clock, as scripted turns are played: each goes out once the audio
    received passes the position it was recorded at. Before the first second has arrived nothing is known; a
    miss errs, or (`replay_miss=engine`) hands everything, the audio so far included, to the real recognizer.
    The clock counts the bytes as sent (as the recorder did), not the resampled samples."""

    def __init__(
        self,
        inner: Recognizer,
        params: dict[str, str],
        tally: AudioTally,
        settings: Settings,
        ending: Callable[[], bool],
        *,
        as_is: Callable[[dict[str, Any]], Any],
        refuse: Callable[[str], Exception],
    ) -> None:
        super().__init__()
        self.inner = inner
        self.params = params
        self.tally = tally
        self.settings = settings
        self.ending = ending
        self.as_is = as_is  # a recorded message as the session's event that sends it unchanged
        self.refuse = refuse  # the error, raised, that closes the session with this message (3005)
        self.recording: StreamRecording | None = None
        self.path: Path | None = None
        self.engine = False  # a miss fell through to the engine
        self._pending: list[np.ndarray] = []  # audio before the recording is known (for a fall-through)
        self._next = 0  # the next recorded message to send
        self._verified = False

    @property
    def heard_ms(self) -> int:
        return self.tally.ms

    # --- the audio ---------------------------------------------------------------------------------
    def hear(self, data: bytes) -> None:
        """Every binary frame, before it is decoded: the key and the check are over the bytes as sent."""
        self.tally.add(data)
        if self.recording is None and not self.engine and self.tally.key_ready:
            self._find()
        if self.recording is not None:
            self._check(ended=False)

    def feed(self, samples: np.ndarray) -> None:
        if self.engine:
            self.inner.feed(samples)
        elif self.recording is None:
            self._pending.append(samples)

    def force_end(self) -> None:
        if self.engine:
            self.inner.force_end()
        self._forced = True

    @property
    def busy(self) -> bool:
        return self.inner.busy if self.engine else False

    @property
    def has_speech(self) -> bool:
        return self.inner.has_speech if self.engine else False

    @property
    def final_due(self) -> bool:
        return self.inner.final_due if self.engine else False

    def withdraw(self, request: DecodeRequest) -> None:
        if self.engine:
            self.inner.withdraw(request)

    # --- the messages ------------------------------------------------------------------------------
    def poll(self) -> tuple[list[Event], DecodeRequest | None]:
        if self.recording is None and not self.engine and self._forced and self.ending():
            self._find()  # a session shorter than its key: all of its audio is the key
        if self.engine:
            return self.inner.poll()
        if self.recording is None:
            return [], None
        if self.ending():
            self._check(ended=True)
        events: list[Any] = []
        heard = self.heard_ms
        messages = self.recording.messages
        while self._next < len(messages) and messages[self._next].audio_ms <= heard:
            events.append(self.as_is(messages[self._next].message))
            self._next += 1
        return events, None

    def complete(self, request: DecodeRequest, result: EngineResult) -> list[Event]:
        return self.inner.complete(request, result) if self.engine else []

    # --- finding and checking ----------------------------------------------------------------------
    def _find(self) -> None:
        key = self.tally.key_sha256()
        path = stream_recording_path(self.settings.recordings_dir, key, self.params)
        if path.is_file():
            try:
                recording = read_stream_recording(path)
            except RecordingError as exc:
                raise self.refuse(exc.message) from None
            recording.messages = [m for m in recording.messages if m.message.get("type") not in OWN_MESSAGES]
            self.recording, self.path = recording, path
            self._pending.clear()
            return
        if self.settings.replay_miss != "engine":
            raise self.refuse(
                errors.STREAM_RECORDING_MISSING.format(
                    sha256=key, key=params_key(dict(self.params)), folder=self.settings.recordings_dir
                )
            )
        self.engine = True
        for samples in self._pending:
            self.inner.feed(samples)
        self._pending.clear()
        if self._forced:
            self.inner.force_end()

    def _check(self, *, ended: bool) -> None:
        """The audio must be the recorded audio: no more of it, the same bytes, and (at the end) all of it."""
        assert self.recording is not None and self.path is not None
        if self._verified:
            return
        want = self.recording.audio_bytes
        got = self.tally.count
        why = None
        if got > want:
            why = f"more than its {want} bytes of audio"
        elif got == want and self.tally.sha256() != self.recording.audio_sha256:
            why = "its audio's SHA-256 differs"
        elif got < want and ended:
            why = f"the session ended after {got} of its {want} bytes of audio"
        if why is not None:
            raise self.refuse(errors.STREAM_RECORDING_DIFFERS.format(path=self.path.name, problem=why))
        self._verified = got == want
