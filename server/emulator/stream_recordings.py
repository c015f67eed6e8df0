"""Record and replay v3 streaming sessions (docs/testing.md#record-and-replay).

`record`: the session is relayed to the upstream's `/v3/ws` (the same query, the upstream key from the
settings, never the client's); the client's audio is hashed as it passes, and every message the upstream sends
is relayed and kept with its audio position (ms of audio the upstream had been sent when it arrived). A
session the upstream ends with `Termination` is written as one readable JSON file.

`replay`: the audio is known only as it arrives, so a recording is found by its parameters and the SHA-256 of
the session's first second of audio (all of it, for a shorter session) (CHOICE); the rest of the audio is
hashed as it comes and must be the recorded audio, byte for byte, or the session closes with an error naming
the file. `ReplayRecognizer` stands in for the recognizer as the scripted turns' does (the same clock: a
message is sent once the audio received passes its position); Begin and Termination are the session's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from server import errors
from server.clock import iso, utcnow
from server.config import Settings
from server.emulator.payloads import problem
from server.emulator.recordings import params_key, scrub
from server.emulator.scripted import ClockedRecognizer
from server.engine.base import EngineResult
from server.engine.recognizer import DecodeRequest, Event, StreamRecognizer
from server.media.pcm import BYTES_PER_SAMPLE
from server.services.stream_slots import HEARTBEAT_EVERY_S
from server.streaming.close_codes import V3_RECORDING
from server.streaming.protocol import Ready, Refused
from server.streaming.session import SessionRunner, close

log = logging.getLogger(__name__)

FORMAT = 1
KEY_AUDIO_MS = 1000  # the first second of audio picks the recording (docs/testing.md#record-and-replay)
NOT_KEYED = frozenset({"token"})  # a credential, never a parameter
OWN_MESSAGES = frozenset({"Begin", "Termination"})  # ids and times: the replaying session sends its own
ABNORMAL = frozenset({1005, 1006, 1015})  # codes a close frame may not carry
REAL_API = "api.assemblyai.com"
REAL_STREAMING = "wss://streaming.assemblyai.com"


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
    """A recording file, or Refused naming the file and the field that is wrong."""
    try:
        return StreamRecording.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise _refused(errors.RECORDING_INVALID.format(path=path.name, problem=problem(exc))) from None
    except OSError as exc:
        raise _refused(errors.RECORDING_INVALID.format(path=path.name, problem=exc.strerror)) from None


def _refused(message: str) -> Refused:
    return Refused(V3_RECORDING.format(message=message))  # the whole message is in the Error frame


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


def attach(runner: SessionRunner, ws: WebSocket, settings: Settings) -> StreamRecorder | None:
    """In `replay` mode, the runner's recognizer plays recordings; in `record` mode, a recorder that replaces
    the runner; None otherwise (mode off)."""
    params = stream_params(ws.query_params)
    if settings.recordings_mode == "replay":
        replayer = ReplayRecognizer(
            runner.recognizer,
            params,
            AudioTally(runner.stream.encoding, runner.stream.sample_rate),
            settings,
            ending=lambda: runner.terminating,
        )
        runner.recognizer = replayer  # type: ignore[assignment]
        runner.tap = replayer.hear
        return None
    if settings.recordings_mode == "record":
        credentials = [ws.headers.get("authorization") or "", ws.query_params.get("token") or ""]
        return StreamRecorder(ws, runner, params, settings, [c for c in credentials if c])
    return None


class ReplayRecognizer(ClockedRecognizer):
    """Recorded messages against the audio clock, as scripted turns are played: each goes out once the audio
    received passes the position it was recorded at. Before the first second has arrived nothing is known; a
    miss errs, or (`replay_miss=engine`) hands everything, the audio so far included, to the real recognizer.
    The clock counts the bytes as sent (as the recorder did), not the resampled samples."""

    def __init__(
        self,
        inner: StreamRecognizer,
        params: dict[str, str],
        tally: AudioTally,
        settings: Settings,
        ending: Callable[[], bool],
    ) -> None:
        super().__init__()
        self.inner = inner
        self.params = params
        self.tally = tally
        self.settings = settings
        self.ending = ending
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

    # --- the messages ------------------------------------------------------------------------------
    def poll(self) -> tuple[list[Event], DecodeRequest | None]:  # type: ignore[override]
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
            events.append(Ready(messages[self._next].message))
            self._next += 1
        return events, None

    def complete(self, request: DecodeRequest, result: EngineResult) -> list[Event]:
        return self.inner.complete(request, result) if self.engine else []

    # --- finding and checking ----------------------------------------------------------------------
    def _find(self) -> None:
        key = self.tally.key_sha256()
        path = stream_recording_path(self.settings.recordings_dir, key, self.params)
        if path.is_file():
            recording = read_stream_recording(path)
            recording.messages = [m for m in recording.messages if m.message.get("type") not in OWN_MESSAGES]
            self.recording, self.path = recording, path
            self._pending.clear()
            return
        if self.settings.replay_miss != "engine":
            raise _refused(
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
            raise _refused(errors.STREAM_RECORDING_DIFFERS.format(path=self.path.name, problem=why))
        self._verified = got == want


class StreamRecorder:
    """Record mode: relay one session to the upstream and keep what it says, with the audio positions."""

    def __init__(
        self,
        ws: WebSocket,
        runner: SessionRunner,
        params: dict[str, str],
        settings: Settings,
        secrets: list[str],
    ) -> None:
        self.ws = ws
        self.runner = runner
        self.params = params
        self.settings = settings
        self.secrets = [s for s in (settings.upstream_api_key, *secrets) if s]
        self.tally = AudioTally(runner.stream.encoding, runner.stream.sample_rate)
        self.messages: list[RecordedMessage] = []
        self.terminated = False

    @property
    def audio_s(self) -> float:
        return self.tally.count / self.tally.bytes_per_s if self.tally.bytes_per_s else 0.0

    async def run(self) -> None:
        url = f"{upstream_streaming_url(self.settings)}/v3/ws?{urlencode(self.params)}"
        headers = {"Authorization": self.settings.upstream_api_key or ""}
        version = self.ws.headers.get("assemblyai-version")
        if version:
            headers["AssemblyAI-Version"] = version
        try:
            upstream = await connect(url, additional_headers=headers, open_timeout=30, max_size=None)
        except InvalidStatus as exc:
            return await self._fail(f"{exc.response.status_code} at the handshake")
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            return await self._fail(str(exc) or type(exc).__name__)
        async with upstream:
            tasks = [
                asyncio.create_task(self._to_upstream(upstream)),
                asyncio.create_task(self._to_client(upstream)),
                asyncio.create_task(self._beat()),
            ]
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            code, reason = upstream.close_code, upstream.close_reason
        if self.terminated:  # before the client hears the close: a client that has it finds the file
            await asyncio.to_thread(self._write)
        else:
            log.warning("stream not recorded: the upstream closed it with %s %s", code, reason)
        if code is None or code in ABNORMAL:  # the upstream vanished
            await close(self.ws, self.runner.adapter.server_error, self.runner.adapter)
        else:  # the upstream ended the session: the client learns how, as it was said (its Error frame too)
            with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
                await self.ws.close(code=code, reason=reason or "")

    async def _fail(self, why: str) -> None:
        message = errors.RECORDING_UPSTREAM.format(problem=scrub(why, self.secrets))
        await close(self.ws, V3_RECORDING.format(message=message), self.runner.adapter)

    async def _to_upstream(self, upstream: ClientConnection) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                await upstream.close()
                return
            if message.get("bytes") is not None:
                self.tally.add(message["bytes"])
                await upstream.send(message["bytes"])
            elif message.get("text") is not None:
                await upstream.send(message["text"])

    async def _to_client(self, upstream: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in upstream:
                text = frame if isinstance(frame, str) else frame.decode()
                with contextlib.suppress(ValueError):
                    value = json.loads(text)
                    if isinstance(value, dict):
                        self.messages.append(RecordedMessage(audio_ms=self.tally.ms, message=value))
                        self.terminated |= value.get("type") == "Termination"
                await self.ws.send_text(text)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY_S)
            await asyncio.to_thread(self.runner.heartbeat, self.audio_s)

    def _write(self) -> None:
        recording = StreamRecording(
            format=FORMAT,
            key_sha256=self.tally.key_sha256(),
            audio_sha256=self.tally.sha256(),
            audio_bytes=self.tally.count,
            params=self.params,
            recorded_at=iso(utcnow()) or "",
            upstream=_origin(upstream_streaming_url(self.settings)),
            messages=scrub([m.model_dump() for m in self.messages], self.secrets),
        )
        path = stream_recording_path(self.settings.recordings_dir, recording.key_sha256, self.params)
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(f".{os.getpid()}.part")
        text = json.dumps(recording.model_dump(), indent=2, ensure_ascii=False) + "\n"
        part.write_text(text, encoding="utf-8")
        part.replace(path)
        log.info("stream recorded to %s (%d messages)", path.name, len(self.messages))


def upstream_streaming_url(settings: Settings) -> str:
    """Where record mode streams: `upstream_streaming_url`, or the `upstream_url` with a WebSocket scheme (the
    real API streams from its own host)."""
    if settings.upstream_streaming_url:
        return settings.upstream_streaming_url.rstrip("/")
    url = httpx.URL(settings.upstream_url)
    if url.host == REAL_API:
        return REAL_STREAMING
    scheme = "wss" if url.scheme in ("https", "wss") else "ws"
    return str(url.copy_with(scheme=scheme, query=None, fragment=None)).rstrip("/")


def _origin(url: str) -> str:
    parts = httpx.URL(url)
    return f"{parts.scheme}://{parts.host}{f':{parts.port}' if parts.port else ''}"
