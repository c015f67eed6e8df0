"""faster-whisper behind the engine interface. Each model loads once per process and is shared."""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable
from functools import lru_cache
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
from server.engine.model_store import is_multilingual, resolve_model
from server.media.rate import SAMPLE_RATE

log = logging.getLogger(__name__)
T = TypeVar("T")


def _device_and_compute(device: str, compute_type: str) -> tuple[str, str]:
    if device == "auto":
        import ctranslate2

        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


def build_off_thread(build: Callable[[], T]) -> T:
    """Build a model on a short-lived thread.

    Measured (bench/async_rtf.py --server-model): a CTranslate2 model built on a long-lived thread that
    later runs other work leaves that process about 2x slower for good (extra OpenMP threads stay bound to
    it); built on a thread that ends at once, decoding runs at full speed.
    """
    box: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
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
    ) -> None:
        self.default_model = default_model
        self.allow_downloads = allow_downloads  # else local files only: no Hub download at a request's wish
        self.models_dir = models_dir
        self.device, self.compute_type = _device_and_compute(device, compute_type)
        self.cpu_threads = cpu_threads
        self.num_workers = num_workers  # concurrent transcribe() calls CTranslate2 may run in parallel
        self.beam_size = beam_size
        self._models: dict[str, object] = {}
        self._lock = threading.Lock()

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
                    )
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
        short_ok = options.language is not None or whisper.model.is_multilingual
        if options.short_context and short_ok and duration <= SHORT_CONTEXT_MAX_S:
            return self._transcribe_short(whisper, samples, options)
        try:
            segments, info = whisper.transcribe(
                samples,
                language=options.language,
                task=options.task,
                beam_size=options.beam_size or self.beam_size,
                word_timestamps=True,
                vad_filter=options.vad_filter,
                multilingual=options.multilingual,
                condition_on_previous_text=not options.multilingual,
                hotwords=" ".join(options.hotwords) or None,
                initial_prompt=options.prompt,
                temperature=options.temperature
                if options.temperature is not None
                else [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
            )
            words: list[EngineWord] = []
            for segment in segments:  # a generator: decoding happens as we iterate
                for w in segment.words or []:
                    words.append(
                        EngineWord(w.word.strip(), float(w.start), float(w.end), float(w.probability))
                    )
                if progress and duration > 0:
                    progress(min(1.0, segment.end / duration))
        except (RuntimeError, ValueError) as exc:
            raise EngineError(str(exc)) from exc
        detected = options.language is None
        return EngineResult(
            words=[w for w in words if w.text],
            language=info.language,
            language_confidence=float(info.language_probability) if detected else None,
        )

    def _transcribe_short(self, whisper, samples: np.ndarray, options: TranscribeOptions) -> EngineResult:  # noqa: ANN001
        """One window, encoded with only as much padding as it needs (at least 10 s: less makes whisper
        loop on its last words), then greedy or beam search and word alignment, as faster-whisper does."""
        from faster_whisper.transcribe import get_suppressed_tokens, merge_punctuations

        features = whisper.feature_extractor(samples)[:, :-1]
        content = features.shape[1]
        rounded = -(-(content + SHORT_CONTEXT_MIN_FRAMES) // 500) * 500  # ceil to 5 s steps
        frames = min(3000, max(SHORT_CONTEXT_MIN_FRAMES, rounded))
        padded = np.zeros((features.shape[0], frames), dtype=np.float32)
        padded[:, :content] = features[:, :frames]
        encoded = whisper.encode(padded)
        language, probability = options.language, None
        if language is None:  # a multilingual model: detect on the same encoding, no second pass
            language, probability = _detect(whisper, encoded, options.language_candidates)
        tokenizer = _tokenizer(whisper, language)
        hotwords = " ".join(options.hotwords) or None
        contexts = [tokenizer.encode(" " + options.prompt.strip()), []] if options.prompt else [[]]
        try:
            for context in contexts:  # as faster-whisper falls back: a looping decode retries bare
                prompt = whisper.get_prompt(tokenizer, context, without_timestamps=True, hotwords=hotwords)
                # CTranslate2 counts the prompt in max_length; speech is ~3 tokens/s: 8/s leaves room
                budget = min(whisper.max_length, len(prompt) + 16 + int(len(samples) / SAMPLE_RATE * 8))
                result = whisper.model.generate(
                    encoded,
                    [prompt],
                    beam_size=options.beam_size or self.beam_size,
                    max_length=budget,
                    suppress_blank=True,
                    suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
                )[0]
                tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
                if _compression_ratio(tokenizer.decode(tokens)) <= LOOP_COMPRESSION_RATIO:
                    break
            else:
                tokens = []  # it loops even without context: better no words than "s s s s"
            alignment = whisper.find_alignment(tokenizer, [tokens], encoded, content)[0] if tokens else []
        except (RuntimeError, ValueError) as exc:
            raise EngineError(str(exc)) from exc
        merge_punctuations(alignment, "\"'“¿([{-", "\"'.。,，!！?？:：”)]}、")
        words = [
            EngineWord(w["word"].strip(), float(w["start"]), float(w["end"]), float(w["probability"]))
            for w in alignment
            if w["word"].strip()
        ]
        return EngineResult(words=words, language=language or "en", language_confidence=probability)


def _detect(whisper, encoded, candidates: list[str]) -> tuple[str, float]:  # noqa: ANN001
    """The most likely language of an encoded window, among `candidates` when given (renormalised)."""
    scores = {token[2:-2]: float(p) for token, p in whisper.model.detect_language(encoded)[0]}
    if candidates:
        allowed = {c: scores.get(c, 0.0) for c in candidates}
        total = sum(allowed.values())
        if total > 0:
            best = max(allowed, key=lambda c: allowed[c])
            return best, allowed[best] / total
    best = max(scores, key=lambda c: scores[c])
    return best, scores[best]


SHORT_CONTEXT_MAX_S = 20.0
LOOP_COMPRESSION_RATIO = 2.4  # faster-whisper's compression_ratio_threshold
SHORT_CONTEXT_MIN_FRAMES = 1000  # 10 s


@lru_cache(maxsize=16)
def _tokenizer(whisper, language: str | None):  # noqa: ANN001, ANN202 - faster_whisper types, imported lazily
    from faster_whisper.tokenizer import Tokenizer

    multilingual = whisper.model.is_multilingual
    return Tokenizer(whisper.hf_tokenizer, multilingual, task="transcribe", language=language)


def _compression_ratio(text: str) -> float:
    """How much gzip shrinks the text: a decode stuck repeating itself compresses very well."""
    data = text.encode()
    return len(data) / len(zlib.compress(data)) if data else 0.0
