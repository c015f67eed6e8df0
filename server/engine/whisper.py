"""faster-whisper behind the engine interface. Each model loads once per process and is shared."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from server.engine.base import (
    AudioSource,
    EngineError,
    EngineResult,
    EngineWord,
    ProgressFn,
    TranscribeOptions,
)
from server.engine.batched_files import CHUNK_S, FileToDecode, decode_files, share_key
from server.engine.call_batcher import CallBatcher
from server.engine.model_store import is_multilingual, resolve_model
from server.engine.priority import lower_this_thread
from server.engine.short_window import decode_windows, fits
from server.engine.whisper_calls import common_arguments, segment_words
from server.media.rate import SAMPLE_RATE

log = logging.getLogger(__name__)
T = TypeVar("T")

# Batched decoding (bench/batched_decoding.py, docs/benchmarks.md#batched-decoding): chunks decoded per
# batch, and the audio length from which batching beats the sequential path on each device.
BATCH_SIZE = 8
BATCH_MIN_S = {"cpu": 60.0, "cuda": 0.0}
# The batched path's beam per device (None: the engine's beam_size). CPU, base, 237 s clip, batch 8, one quiet
# run of 2026-12-05 (docs/benchmarks.md, "On this VM's 2 vCPUs"): beam 2 takes 0.59 of the sequential path's
# time against 0.69 for beam 5, WER 0.061 (sequential 0.063, beam 5 0.054), word times 24 ms from the
# sequential ones; the 9 English clips pooled 0.123 (sequential 0.131). Greedy (0.56) lost 2 words there.
BATCH_BEAM_SIZE: dict[str, int | None] = {"cpu": 2, "cuda": None}
# Short files of concurrent jobs decoded in one batched call (server/engine/call_batcher.py), per device.
# bench/batched_decoding.py --small-jobs, 8 English clips of 3-15 s, base: on an H200 one call took 0.14-0.19
# of the time of eight; on 2 CPU cores 1.16 of it (8.19 s against 7.03 s, 5 repeats): the CPU decodes each
# file alone.
BATCH_JOBS = {"cpu": 1, "cuda": BATCH_SIZE}
# Live windows (streams' pending decodes) per call. On 2 CPU cores a batch saves 0-17 % of the decoding, but a
# final that falls due waits for the whole running batch of partials: with batches of 8, 4 `tiny.en` streams
# were held, one at a time 8 (docs/benchmarks.md, "Withdrawn partials"). On a GPU the encoder is cheap and a
# batch of 8 costs little more than one window.
LIVE_BATCH = {"cpu": 1, "cuda": 8}


def _device_and_compute(device: str, compute_type: str) -> tuple[str, str]:
    if device == "auto":
        import ctranslate2

        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


def build_off_thread(build: Callable[[], T], nice: int = 0) -> T:
    """Build a model on a short-lived thread.

    Measured (bench/async_rtf.py --server-model): a CTranslate2 model built on a long-lived thread that
    later runs other work leaves that process about 2x slower for good (extra OpenMP threads stay bound to
    it); built on a thread that ends at once, decoding runs at full speed. The threads CTranslate2 starts
    there inherit that thread's `nice`: a model built with a positive one yields the CPU to other models.
    """
    box: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            lower_this_thread(nice)
            box.append(build())
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=run, name="model-load")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return box[0]


class WhisperEngine:
    name = "whisper"

    def __init__(
        self,
        *,
        default_model: str,
        models_dir: Path,
        device: str = "auto",
        compute_type: str = "auto",
        cpu_threads: int = 0,
        num_workers: int = 1,
        beam_size: int = 5,
        allow_downloads: bool = False,
        batch_size: int = BATCH_SIZE,
        batch_min_s: float | None = None,
        batch_beam_size: int | None = None,
        batch_jobs: int | None = None,
        nice: int = 0,
    ) -> None:
        self.default_model = default_model
        self.allow_downloads = allow_downloads  # else local files only: no Hub download at a request's wish
        self.models_dir = models_dir
        self.device, self.compute_type = _device_and_compute(device, compute_type)
        self.cpu_threads = cpu_threads
        self.num_workers = num_workers  # concurrent transcribe() calls CTranslate2 may run in parallel
        self.beam_size = beam_size
        self.batch_size = batch_size  # VAD chunks decoded together; 1 turns batched decoding off
        self.batch_min_s = BATCH_MIN_S[self.device] if batch_min_s is None else batch_min_s
        # the batched path's beam: given, else the measured default of the device, else the engine's beam
        self.batch_beam_size = batch_beam_size or BATCH_BEAM_SIZE[self.device] or beam_size
        self.live_batch = LIVE_BATCH[self.device]
        self.nice = nice  # of the threads that decode (background work yields to live decodes)
        self._models: dict[str, object] = {}
        self._lock = threading.Lock()
        # short files of several workers' jobs decoded in one batched call: given, else measured per device
        self.batch_jobs = batch_jobs or BATCH_JOBS[self.device]
        self._shared_files: CallBatcher[FileToDecode, EngineResult] = CallBatcher(
            self._decode_files, self.batch_jobs
        )

    def load(self, model: str | None = None):  # -> faster_whisper.WhisperModel
        name = model or self.default_model
        with self._lock:
            if name not in self._models:
                from faster_whisper import WhisperModel

                path = resolve_model(name, self.models_dir)
                log.info("loading model %s from %s on %s/%s", name, path, self.device, self.compute_type)
                self._models[name] = build_off_thread(
                    lambda: WhisperModel(
                        path,
                        device=self.device,
                        compute_type=self.compute_type,
                        cpu_threads=self.cpu_threads,
                        num_workers=self.num_workers,
                        local_files_only=not self.allow_downloads,
                    ),
                    self.nice,
                )
            return self._models[name]

    def is_ready(self) -> bool:
        return self.default_model in self._models

    def can_transcribe(self, model: str | None, language: str | None) -> bool:
        """English-only models (`*.en`) serve English only."""
        name = model or self.default_model
        return language == "en" or is_multilingual(resolve_model(name, self.models_dir))

    def can_translate(self, model: str | None) -> bool:
        """Whisper translates speech into English with its multilingual models only."""
        return is_multilingual(resolve_model(model or self.default_model, self.models_dir))

    def detect_language(self, samples: np.ndarray, model: str | None = None) -> tuple[str, float]:
        whisper = self.load(model)
        language, probability, _ = whisper.detect_language(samples)
        return language, float(probability)

    def transcribe(
        self,
        samples: np.ndarray,
        options: TranscribeOptions,
        progress: ProgressFn | None = None,
        *,
        source: AudioSource | None = None,
    ) -> EngineResult:
        whisper = self.load(options.model)
        duration = len(samples) / SAMPLE_RATE
        if fits(whisper, samples, options):
            return self._transcribe_short(whisper, samples, options)
        if self.batches(options, duration):
            return self._batched(samples, options, progress)
        temperatures = (
            options.temperature if options.temperature is not None else [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
        )
        try:
            segments, info = whisper.transcribe(
                samples,
                **common_arguments(options),
                beam_size=options.beam_size or self.beam_size,
                vad_filter=options.vad_filter,
                multilingual=options.multilingual,
                condition_on_previous_text=not options.multilingual,
                temperature=temperatures,
            )
            words: list[EngineWord] = []
            for segment in segments:  # a generator: decoding happens as we iterate
                words += segment_words(segment)
                if progress and duration > 0:
                    progress(min(1.0, segment.end / duration))
        except (RuntimeError, ValueError) as exc:
            raise EngineError(str(exc)) from exc
        detected = options.language is None
        return EngineResult(
            words=words,
            language=info.language,
            language_confidence=float(info.language_probability) if detected else None,
        )

    def batches(self, options: TranscribeOptions, duration_s: float) -> bool:
        """Batched decoding (VAD chunks side by side, no text carried between them) for audio at least
        `batch_min_s` long, the whole file counted when these samples are one window of it; the
        sequential path for shorter audio (one chunk: nothing to batch) and for code switching, whose
        per-segment language follows the previous text. The thresholds are measured (BATCH_MIN_S)."""
        total = options.window.total_s if options.window is not None else duration_s
        return self.batch_size > 1 and not options.multilingual and total >= self.batch_min_s

    def _batched(
        self, samples: np.ndarray, options: TranscribeOptions, progress: ProgressFn | None
    ) -> EngineResult:
        """The batched path. A whole file of at most one chunk (a short job) shares its call with the short
        jobs other workers decode meanwhile (`call_batcher`); longer audio fills its batches by itself."""
        file = FileToDecode(samples, options, progress)
        whole = options.window is None or (options.window.start_s == 0 and options.window.last)
        short = whole and len(samples) <= CHUNK_S * SAMPLE_RATE
        key = share_key(options) if short and self.batch_jobs > 1 else None
        if key is None:
            return self._decode_files([file])[0]
        return self._shared_files.submit(key, file)

    def _decode_files(self, files: list[FileToDecode]) -> list[EngineResult]:
        whisper = self.load(files[0].options.model)
        try:
            results = decode_files(whisper, files, batch_size=self.batch_size, beam_size=self.batch_beam_size)
        except (RuntimeError, ValueError) as exc:
            raise EngineError(str(exc)) from exc
        if len(files) > 1:
            log.info("decoded %d files in one batched call", len(files))
        return results

    def _transcribe_short(self, whisper, samples: np.ndarray, options: TranscribeOptions) -> EngineResult:  # noqa: ANN001
        """One window, encoded with only as much padding as it needs (at least 10 s: less makes whisper
        loop on its last words), then greedy or beam search and word alignment, as faster-whisper does."""
        try:
            return decode_windows(whisper, [(samples, options)], self.beam_size)[0]
        except (RuntimeError, ValueError) as exc:
            raise EngineError(str(exc)) from exc

    def transcribe_batch(self, items: Sequence[tuple[np.ndarray, TranscribeOptions]]) -> list[EngineResult]:
        """Live windows of several streams decoded together (server/engine/short_window.py); a window
        that does not take the short-window path decodes alone."""
        results: dict[int, EngineResult] = {}
        short: dict[str | None, list[int]] = {}  # by model
        for i, (samples, options) in enumerate(items):
            if fits(self.load(options.model), samples, options):
                short.setdefault(options.model, []).append(i)
            else:
                results[i] = self.transcribe(samples, options)
        for model, indices in short.items():
            try:
                found = decode_windows(self.load(model), [items[i] for i in indices], self.beam_size)
            except (RuntimeError, ValueError) as exc:
                raise EngineError(str(exc)) from exc
            results.update(zip(indices, found, strict=True))
        return [results[i] for i in range(len(items))]
