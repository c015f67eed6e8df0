"""The decode scheduler: every live stream's (and the Sync API's) decodes on the shared engine, by priority.

Finals before partials, then first come first served, `stream_decode_threads` at once, off the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from server.config import Settings
from server.engine.base import AudioSource, Engine, EngineResult, TranscribeOptions
from server.engine.recognizer import DecodeRequest
from server.languages import to_api_language, to_whisper_language
from server.streaming.protocol import StreamOptions


class DecodeScheduler:
    """Runs the recognizers' decode requests on the shared engine, off the event loop.

    `stream_decode_threads` decodes run at once; the others wait, finals ahead of partials (then first come,
    first served), so a busy machine delays partials rather than the end of anyone's turn.
    """

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.executor = ThreadPoolExecutor(settings.stream_decode_threads, thread_name_prefix="stream-decode")
        self._free = settings.stream_decode_threads
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def options(self, request: DecodeRequest, stream: StreamOptions, context: str = "") -> TranscribeOptions:
        model = self.settings.stream_model_multilingual if stream.multilingual else self.settings.stream_model
        # language_codes steer (U3P): one code = decode in it; several = detect among them; none = detect
        codes = [c for c in (to_whisper_language(code) for code in stream.language_codes) if c]
        language = "en" if not stream.multilingual else codes[0] if len(codes) == 1 else None
        # the custom prompt, then what was said before (finals, agent replies): names and spelling carry over
        prompt = " ".join(p for p in (stream.prompt, context) if p)
        return TranscribeOptions(
            model=model,
            language=language,
            language_candidates=codes if language is None else [],
            hotwords=stream.hotwords,
            prompt=prompt or None,
            beam_size=None if request.final else self.settings.stream_beam_size,
            temperature=0.0,  # no fallback re-decodes: a live stream cannot wait for them
            offset_s=request.offset_ms / 1000,
            short_context=not request.final or self.settings.stream_short_context_finals,
        )

    async def run(self, request: DecodeRequest, stream: StreamOptions, context: str = "") -> EngineResult:
        options = self.options(request, stream, context)
        await self._acquire(0 if request.final else 1)
        try:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(
                self.executor, self.engine.transcribe, request.samples, options
            )
        finally:
            self._release()
        result.language = to_api_language(result.language)
        return result

    async def transcribe(
        self, samples: np.ndarray, options: TranscribeOptions, source: AudioSource | None = None
    ) -> EngineResult:
        """A one-off decode (the Sync and Dictation APIs) at a final's priority: a person waits on it."""
        await self._acquire(0)
        try:
            call = functools.partial(self.engine.transcribe, samples, options, source=source)
            return await asyncio.get_running_loop().run_in_executor(self.executor, call)
        finally:
            self._release()

    async def _acquire(self, priority: int) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._order), turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release()  # the slot was handed to us as we were cancelled: pass it on
            raise

    def _release(self) -> None:
        while self._waiting:
            _, _, turn = heapq.heappop(self._waiting)
            if not turn.done():
                turn.set_result(None)
                return
        self._free += 1

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
