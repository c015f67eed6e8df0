"""Record mode for v3 streaming sessions (docs/testing.md#streaming-sessions-v3): the session is relayed to
the upstream's `/v3/ws` (the same query, the upstream key from the settings, never the client's); the
client's audio is hashed as it passes, and every message the upstream sends is relayed and kept with its
audio position (ms of audio the upstream had been sent when it arrived). A session the upstream ends with
`Termination` is written as one readable JSON file.

The session is streaming's, which the emulator does not import: the node (server/node.py) hands the recorder
the session's audio tally, its heartbeat and how to close the client's socket after an Error message."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

import httpx
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from server import errors
from server.clock import iso, utcnow
from server.config import Settings
from server.emulator.recordings import scrub
from server.emulator.stream_recording_file import (
    FORMAT,
    AudioTally,
    RecordedMessage,
    StreamRecording,
    stream_recording_path,
    write_stream_recording,
)
from server.services.stream_slots import HEARTBEAT_EVERY_S

log = logging.getLogger(__name__)

ABNORMAL = frozenset({1005, 1006, 1015})  # codes a close frame may not carry
REAL_API = "api.assemblyai.com"
REAL_STREAMING = "wss://streaming.assemblyai.com"

# closes the client's socket after an Error message: this recording's failure (3005), or None: the server's
CloseClient = Callable[[str | None], Awaitable[None]]


class StreamRecorder:
    """Record mode: relay one session to the upstream and keep what it says, with the audio positions."""

    def __init__(
        self,
        ws: WebSocket,
        params: dict[str, str],
        settings: Settings,
        secrets: list[str],
        *,
        tally: AudioTally,
        heartbeat: Callable[[float], object],
        close_client: CloseClient,
    ) -> None:
        self.ws = ws
        self.params = params
        self.settings = settings
        self.secrets = [s for s in (settings.upstream_api_key, *secrets) if s]
        self.tally = tally  # at the session's encoding and rate
        self.heartbeat = heartbeat  # keeps the session's slot
        self.close_client = close_client
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
            await self.close_client(None)
        else:  # the upstream ended the session: the client learns how, as it was said (its Error frame too)
            with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
                await self.ws.close(code=code, reason=reason or "")

    async def _fail(self, why: str) -> None:
        message = errors.RECORDING_UPSTREAM.format(problem=scrub(why, self.secrets))
        await self.close_client(message)

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
            await asyncio.to_thread(self.heartbeat, self.audio_s)

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
        write_stream_recording(path, recording)
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
