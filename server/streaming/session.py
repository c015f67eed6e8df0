"""One WebSocket session from accept to close, the same for v2 and v3 (the adapter holds the differences).

Two tasks share the socket: the reader (audio, control messages, timers, pacing and chunk rules) and the
decoder (asks the recognizer what to decode, runs it on the engine in a thread pool, sends the results).
Whatever ends the session (a client Terminate, an error close, a vanished client) releases its slot at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from server.engine.base import EngineResult
from server.engine.recognizer import DecodeRequest, Event, Final, Recognizer, StreamRecognizer
from server.intelligence.stream_speakers import StreamSpeakers
from server.media.pcm import PcmStream
from server.services.stream_slots import HEARTBEAT_EVERY_S
from server.streaming import redaction
from server.streaming.close_codes import V3_SEE_ERROR_MESSAGE, Close, truncate
from server.streaming.protocol import Adapter, Ready, Refused, StreamOptions
from server.streaming.scheduler import DecodeScheduler

log = logging.getLogger(__name__)
SURE_LANGUAGE = 0.7  # a final detected at least this sure sets the session's language (Pipecat's own cut-off)


class _Closed(Exception):
    def __init__(self, close: Close | None) -> None:
        self.close = close  # None: the client went away; nothing to send


class SessionRunner:
    def __init__(
        self,
        ws: WebSocket,
        adapter: Adapter,
        stream: StreamOptions,
        decoder: DecodeScheduler,
        *,
        max_session_s: float,
        idle_timeout_s: float,
        max_lead_s: float,
        heartbeat: Callable[[float], Any],
    ) -> None:
        self.ws = ws
        self.adapter = adapter
        self.stream = stream
        self.decoder = decoder
        self.recognizer: Recognizer = StreamRecognizer(stream.turn)
        self.pcm = PcmStream(stream.encoding, stream.sample_rate)
        self.max_session_s = max_session_s
        # v2 closes sessions without audio (4031); v3 ends them gracefully, only if the client asked
        self.idle_timeout_s = stream.inactivity_timeout_s if adapter.is_v3 else idle_timeout_s
        self.max_lead_s = max_lead_s
        self.heartbeat = heartbeat
        self.started = time.monotonic()
        self.first_audio: float | None = None
        self.last_activity = self.started
        self.audio_ms = 0.0
        self.short_chunk_ms: float | None = None  # a short chunk is fine only as the last one
        self.wake = asyncio.Event()
        self.terminating = False
        # the last finals and agent replies, the prompt of the next decodes (docs/compatibility.md#v3-models
        # carried context)
        self.context: deque[str] = deque(maxlen=stream.context_turns or None)
        self.carry_context = stream.context_turns > 0
        # the language of the last final detected with some certainty: detection on the next, often
        # clause-long, turns favours it (server/engine/short_window.py HINT_WEIGHT); a clear turn in another
        # language still switches (code-switching)
        self.language: str | None = None
        self.speakers = StreamSpeakers(stream.max_speakers) if stream.speaker_labels else None
        self.tap: Callable[[bytes], None] | None = None  # sees each binary frame as sent (replay's key)

    @property
    def audio_s(self) -> float:
        return self.audio_ms / 1000

    async def run(self, fault: tuple[Close, float] | None = None) -> None:
        loop = asyncio.get_running_loop()
        if self.speakers is not None:  # in the background: the first turn should not wait for the model
            self._warm_speakers = loop.run_in_executor(None, self.speakers.warm)
        if self.stream.redact_pii:
            self._warm_pii = loop.run_in_executor(None, redaction.warm)
        tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._decode())]
        tasks.append(asyncio.create_task(self._beat()))
        if fault is not None:
            tasks.append(asyncio.create_task(self._fault(*fault)))
        outcome: Close | None = None
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                exc = task.exception()
                if isinstance(exc, _Closed | Refused):  # Refused: a replay that cannot go on
                    outcome = exc.close
                    break
                if exc is not None:
                    log.error("streaming session failed", exc_info=exc)
                    outcome = self.adapter.server_error
                    break
            else:  # the decoder finished after a Terminate
                outcome = await self._terminate()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if outcome is not None:
            await close(self.ws, outcome, self.adapter)

    # --- reader --------------------------------------------------------------------------------------
    async def _read(self) -> None:
        while not self.terminating:
            message = await self._receive()
            if message.get("bytes") is not None:
                self._audio(message["bytes"])
                continue
            text = message.get("text")
            if text is None:
                continue
            try:
                control = self.adapter.parse_message(text)
            except Refused as refused:
                raise _Closed(refused.close) from None
            if self.adapter.is_v3:
                self.last_activity = time.monotonic()  # v3: any message, KeepAlive included, is activity
            if control.audio is not None:
                self._audio(control.audio)
            if control.turn_update:
                for name, value in control.turn_update.items():
                    setattr(self.stream.turn, name, value)
            if control.stream_update:
                for name, value in control.stream_update.items():
                    setattr(self.stream, name, value)
            if control.hotwords is not None:
                self.stream.hotwords = control.hotwords
            if control.agent_context and self.carry_context:
                self.context.append(control.agent_context)
            if control.force_end:
                self.recognizer.force_end()
                self.wake.set()
            if control.terminate:
                self.terminating = True
                self.recognizer.force_end()
                self.wake.set()
        # after Terminate the decoder decides when the session ends; a client that leaves ends it at once
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                raise _Closed(None)

    async def _receive(self) -> Message:
        now = time.monotonic()
        expires_in = self.started + self.max_session_s - now
        idle_in = self.last_activity + self.idle_timeout_s - now if self.idle_timeout_s else None
        timeout = min(t for t in (expires_in, idle_in) if t is not None)
        try:  # not wait_for: before Python 3.12 it can swallow the cancel that ends the session (the reader
            # then waits on a client that waits for us)
            async with asyncio.timeout(max(0.0, timeout)):
                message = await self.ws.receive()
        except TimeoutError:
            if idle_in is None or expires_in <= idle_in:
                raise _Closed(self.adapter.expired) from None
            if not self.adapter.is_v3 and self.adapter.idle is not None:
                raise _Closed(self.adapter.idle) from None
            self.terminating = True  # v3 inactivity_timeout: end the session gracefully
            self.recognizer.force_end()
            self.wake.set()
            return {}
        if message["type"] == "websocket.disconnect":
            raise _Closed(None)
        await asyncio.sleep(0)  # the decoder sees each frame, also from a client faster than real time
        return message

    def _audio(self, data: bytes) -> None:
        if not data:
            return
        ms = self.pcm.duration_ms(data)
        low, high = self.adapter.chunk_ms
        if self.short_chunk_ms is not None:
            raise _Closed(self.adapter.chunk_too_short(self.short_chunk_ms))
        if ms > high:
            raise _Closed(self.adapter.chunk_too_long(ms))
        if ms < low:
            self.short_chunk_ms = ms
        now = time.monotonic()
        if self.first_audio is None:
            self.first_audio = now
        self.last_activity = now
        self.audio_ms += ms
        wall = now - self.first_audio
        if self.audio_s - wall > self.max_lead_s:
            raise _Closed(self.adapter.too_fast(self.audio_s, wall))
        if self.tap is not None:
            self.tap(data)
        self.recognizer.feed(self.pcm.decode(data))
        self.wake.set()

    # --- decoder -------------------------------------------------------------------------------------
    async def _decode(self) -> None:
        while True:
            self.wake.clear()  # before polling: audio or a Terminate that comes while we send wakes us
            events, request = self.recognizer.poll()
            await self._send_events(events)
            if request is not None:
                result = await self._run(request)
                if result is not None:
                    await self._send_events(self.recognizer.complete(request, result))
                continue
            if self.terminating and not self.recognizer.busy and not self.recognizer.has_speech:
                return
            await self.wake.wait()

    async def _run(self, request: DecodeRequest) -> EngineResult | None:
        """`request` decoded; None for a partial withdrawn while it still waited for the engine because the
        turn's final became due: on a busy machine the final would otherwise wait behind it."""
        job = asyncio.ensure_future(
            self.decoder.run(request, self.stream, self._prompt_context(), self.language)
        )
        try:
            while not request.final and not job.done():
                waker = asyncio.ensure_future(self.wake.wait())
                await asyncio.wait({job, waker}, return_when=asyncio.FIRST_COMPLETED)
                waker.cancel()
                self.wake.clear()  # the main loop polls again after this decode anyway
                if not job.done() and self.recognizer.final_due and self.decoder.withdraw(request):
                    self.recognizer.withdraw(request)
                    with contextlib.suppress(asyncio.CancelledError):
                        await job
                    return None
            return await job
        finally:
            job.cancel()  # a no-op once done; else this session is ending and its decode is dropped

    def _prompt_context(self) -> str:
        return " ".join(self.context)[-self.stream.context_chars :] if self.carry_context else ""

    async def _send_events(self, events: Sequence[Event | Ready]) -> None:
        for event in events:
            if isinstance(event, Ready):
                await self.ws.send_json(event.payload)
                continue
            if isinstance(event, Final) and event.words:
                if self.stream.redact_pii:  # before anything keeps the text (docs/compatibility.md#v3-query)
                    event.words = await asyncio.to_thread(
                        redaction.redact,
                        event.words,
                        self.stream.redact_pii_policies,
                        self.stream.redact_pii_sub,
                        event.language,
                    )
                confidence = event.language_confidence
                if event.language and (confidence is None or confidence >= SURE_LANGUAGE):
                    self.language = event.language
                if self.carry_context:
                    self.context.append(" ".join(w.text for w in event.words))  # finals only, never partials
                if self.speakers is not None and event.samples is not None:
                    spans = [(w.start, w.end) for w in event.words]
                    event.speaker = await asyncio.to_thread(
                        self.speakers.label, event.samples, event.offset_ms, spans
                    )
            for message in self.adapter.render(event, self.stream):
                await self.ws.send_json(message)

    async def _terminate(self) -> Close:
        session_s = time.monotonic() - self.started
        for message in self.adapter.termination(self.audio_s, session_s, self.stream):
            await self.ws.send_json(message)
        return Close(1000, "")

    # --- upkeep --------------------------------------------------------------------------------------
    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY_S)
            await asyncio.to_thread(self.heartbeat, self.audio_s)

    async def _fault(self, close_with: Close, after_s: float) -> None:
        await asyncio.sleep(after_s)
        raise _Closed(close_with)


async def close(ws: WebSocket, how: Close, adapter: Adapter | None = None) -> None:
    """Close with a code and reason (v3: after an Error frame with the full reason,
    docs/compatibility.md#v3-close-codes); a client that already left is not an error."""
    if ws.application_state == WebSocketState.DISCONNECTED or ws.client_state == WebSocketState.DISCONNECTED:
        return
    with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
        error = adapter.error_message(how) if adapter is not None else None
        reason = truncate(how.reason)
        if error is not None:
            await ws.send_json(error)
            if reason != how.reason:
                reason = V3_SEE_ERROR_MESSAGE
        await ws.close(code=how.code, reason=reason)
