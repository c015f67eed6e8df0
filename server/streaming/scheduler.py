"""The decode scheduler: every live stream's (and the Sync API's) decodes on the shared engine, by priority.

Finals before partials, then first come first served, `stream_decode_threads` batches at once, off the event
loop; the windows of several streams that wait at the same time decode together, up to the engine's
`live_batch` per call (8 on a GPU, 1 on the CPU).
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from server.config import Settings
from server.engine.base import AudioSource, Engine, EngineResult, TranscribeOptions
from server.engine.recognizer import DecodeRequest
from server.languages import to_api_language, to_whisper_language
from server.streaming.protocol import StreamOptions


@dataclass(order=True)
class _Pending:
    """A decode waiting for the engine; ordered finals first, then first come, first served."""

    priority: int  # 0: a final (or a sync request: a person waits on it), 1: a partial
    order: int
    samples: np.ndarray = field(compare=False)
    options: TranscribeOptions = field(compare=False)
    done: asyncio.Future[EngineResult] = field(compare=False)
    alone: bool = field(default=False, compare=False)  # a sync request: its own call, with its source
    source: AudioSource | None = field(default=None, compare=False)
    request: DecodeRequest | None = field(default=None, compare=False)  # a stream's, for `withdraw`


class DecodeScheduler:
    """Runs the recognizers' decode requests on the shared engine, off the event loop.

    `stream_decode_threads` batches run at once. A batch is the most urgent waiting decode plus up to
    `stream_batch_size - 1` (default: the engine's `live_batch`) others of the same priority and model,
    decoded together. Finals go ahead of partials, and a session whose final falls due withdraws its
    waiting partial (`withdraw`), so a busy machine delays partials rather than the end of anyone's turn;
    each session has one decode in flight at most, so a saturated machine decodes each session less often
    rather than falling behind.
    """

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.executor = ThreadPoolExecutor(settings.stream_decode_threads, thread_name_prefix="stream-decode")
        self._free = settings.stream_decode_threads
        self._waiting: list[_Pending] = []  # a heap
        self._order = itertools.count()
        self._running: set[asyncio.Task[None]] = set()
        self.batch_sizes: list[int] = []  # recent batch sizes, for tests and the bench
        self.batch_size = settings.stream_batch_size or engine.live_batch

    def options(
        self,
        request: DecodeRequest,
        stream: StreamOptions,
        context: str = "",
        language_hint: str | None = None,
    ) -> TranscribeOptions:
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
            language_hint=to_whisper_language(language_hint) if language is None and language_hint else None,
            hotwords=stream.hotwords,
            prompt=prompt or None,
            beam_size=None if request.final else self.settings.stream_beam_size,
            temperature=0.0,  # no fallback re-decodes: a live stream cannot wait for them
            offset_s=request.offset_ms / 1000,
            short_context=not request.final or self.settings.stream_short_context_finals,
            draft=not request.final,
        )

    async def run(
        self,
        request: DecodeRequest,
        stream: StreamOptions,
        context: str = "",
        language_hint: str | None = None,
    ) -> EngineResult:
        options = self.options(request, stream, context, language_hint)
        result = await self._submit(0 if request.final else 1, request.samples, options, request=request)
        result.language = to_api_language(result.language)
        return result

    async def transcribe(
        self, samples: np.ndarray, options: TranscribeOptions, source: AudioSource | None = None
    ) -> EngineResult:
        """A one-off decode (the Sync and Dictation APIs) at a final's priority: a person waits on it."""
        return await self._submit(0, samples, options, alone=True, source=source)

    async def _submit(
        self,
        priority: int,
        samples: np.ndarray,
        options: TranscribeOptions,
        *,
        alone: bool = False,
        source: AudioSource | None = None,
        request: DecodeRequest | None = None,
    ) -> EngineResult:
        done: asyncio.Future[EngineResult] = asyncio.get_running_loop().create_future()
        pending = _Pending(priority, next(self._order), samples, options, done, alone, source, request)
        heapq.heappush(self._waiting, pending)
        self._dispatch()
        return await done  # cancelled: the batch that holds it drops its result

    def withdraw(self, request: DecodeRequest) -> bool:
        """Cancel `request`'s decode if it is still waiting (its `run` raises CancelledError); False once
        the engine has it. A session whose final is due withdraws its waiting partial: on a busy machine a
        partial waits for every other session's, and the final would wait behind it (docs/benchmarks.md)."""
        for item in self._waiting:
            if item.request is request and not item.done.done():
                item.done.cancel()
                return True
        return False

    def _dispatch(self) -> None:
        while self._free > 0:
            batch = self._take()
            if not batch:
                return
            self._free -= 1
            task = asyncio.create_task(self._decode(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    def _take(self) -> list[_Pending]:
        """The most urgent waiting decode and the others that can share its batch."""
        while self._waiting and self._waiting[0].done.done():
            heapq.heappop(self._waiting)  # its session ended while it waited
        if not self._waiting:
            return []
        lead = heapq.heappop(self._waiting)
        batch = [lead]
        if not lead.alone:
            others = []
            while self._waiting and len(batch) < self.batch_size:
                item = heapq.heappop(self._waiting)
                if item.priority != lead.priority:
                    others.append(item)
                    break  # the heap is ordered: nothing after it has lead's priority
                if item.done.done():
                    continue
                fits = not item.alone and item.options.model == lead.options.model
                (batch if fits else others).append(item)
            for item in others:
                heapq.heappush(self._waiting, item)
        return batch

    async def _decode(self, batch: list[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        self.batch_sizes = [*self.batch_sizes[-999:], len(batch)]
        try:
            if batch[0].alone:
                one = batch[0]
                call = functools.partial(self.engine.transcribe, one.samples, one.options, source=one.source)
                outcomes: list[EngineResult | BaseException] = [
                    await loop.run_in_executor(self.executor, call)
                ]
            else:
                outcomes = await loop.run_in_executor(self.executor, self._decode_batch, batch)
        except Exception as exc:  # noqa: BLE001 - handed to every waiting session, which reports it
            outcomes = [exc] * len(batch)
        finally:
            self._free += 1
        for item, outcome in zip(batch, outcomes, strict=True):
            if item.done.done():
                continue
            if isinstance(outcome, BaseException):
                item.done.set_exception(outcome)
            else:
                item.done.set_result(outcome)
        self._dispatch()

    def _decode_batch(self, batch: list[_Pending]) -> list[EngineResult | BaseException]:
        """On the executor: the batch together; if that fails, each window alone, so that one bad window
        fails only its own session."""
        try:
            return list(self.engine.transcribe_batch([(p.samples, p.options) for p in batch]))
        except Exception:
            if len(batch) == 1:
                raise
        outcomes: list[EngineResult | BaseException] = []
        for item in batch:
            try:
                outcomes.append(self.engine.transcribe(item.samples, item.options))
            except Exception as exc:  # noqa: BLE001 - reported to its session
                outcomes.append(exc)
        return outcomes

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
