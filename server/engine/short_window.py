"""Short live windows (stream partials and finals, sync utterances), decoded one at a time or many together.

Whisper encodes a fixed 30 s window. A live window of a few seconds needs only its own length plus 10 s of
padding (less makes whisper loop on its last words, or leave a finished sentence without its full stop):
encoded that way, then decoded greedily or by beam search and aligned word by word as faster-whisper does, it
decodes about twice as fast. The encoder's cost grows with the padded length (base, 2 cores: 103 ms for 10 s,
168 ms for 15 s), so a partial (`draft`), whose words a final replaces, is padded by 6 s only.

Several windows (the pending decodes of several streams) decode faster together: CTranslate2 encodes,
generates and aligns a batch in one call; generation per window costs less in a batch (a first probe on 2
cores: 88 ms alone, 44 ms in a batch of 2; bench/stream_batch.py measures it). The windows of one batch
must share what CTranslate2 keeps per batch: the beam size, the token position of <|startoftranscript|>
(so the carried-context prompts of a batch are cut to the shortest one's length: the oldest context tokens
go first) and, to align, the language. A batch holds windows within 5 s of each other's length, so that a
short window is not padded to a long one's size.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from server.engine.base import EngineResult, EngineWord, TranscribeOptions
from server.media.rate import SAMPLE_RATE

SHORT_CONTEXT_MAX_S = 20.0
LOOP_COMPRESSION_RATIO = 2.4  # faster-whisper's compression_ratio_threshold
# faster-whisper's no_speech_threshold and log_prob_threshold: a window whose first step bets on silence and
# whose words whisper is unsure of holds no speech ("Thank you." on a breath after a sentence)
NO_SPEECH_PROBABILITY = 0.6
UNSURE_LOG_PROBABILITY = -1.0
PAD_FRAMES = 1000  # 10 s of silence after a window's audio
DRAFT_PAD_FRAMES = 600  # 6 s after a partial's (docs/benchmarks.md, "The final's own costs")
STEP_FRAMES = 500  # one batch spans windows within 5 s of each other's length
FULL_FRAMES = 3000  # whisper's own 30 s window
CUT_SHORT_S = 1.0  # words ending this long before the window does: decode it again in the full window
# a live window's detection multiplies the session's language's probability by this before choosing: a
# clause of German ("Der Kommentator", 0.8 s) scored en 0.46 / la 0.14 / de 0.10 after two German turns at
# 0.999, while a turn really in another language scores it ten or more times above the session's one
HINT_WEIGHT = 8.0
PUNCTUATION_BEFORE = "\"'“¿([{-"
PUNCTUATION_AFTER = "\"'.。,，!！?？:：”)]}、"

Whisper = Any  # faster_whisper.WhisperModel, imported lazily (it pulls in CTranslate2)


def fits(whisper: Whisper, samples: np.ndarray, options: TranscribeOptions) -> bool:
    """Whether this decode takes the short-window path (an English-only model needs its language given)."""
    known = options.language is not None or whisper.model.is_multilingual
    return options.short_context and known and len(samples) / SAMPLE_RATE <= SHORT_CONTEXT_MAX_S


@dataclass(eq=False)  # identity: windows hold arrays
class _Window:
    index: int  # position in the caller's list
    samples: np.ndarray
    options: TranscribeOptions
    beam_size: int
    features: np.ndarray  # (mels, content frames)
    context: list[int]  # carried-context tokens (the prompt), before any cut
    language: str | None = None  # given, or detected on the encoding
    probability: float | None = None  # set when detected
    tokens: list[int] = field(default_factory=list)
    alignment: list[dict[str, Any]] = field(default_factory=list)  # faster-whisper's words
    full: bool = False  # encode whisper's whole 30 s window (the short one cut this window's words off)

    @property
    def content(self) -> int:
        return int(self.features.shape[1])

    @property
    def frames(self) -> int:
        if self.full:
            return FULL_FRAMES
        padding = DRAFT_PAD_FRAMES if self.options.draft else PAD_FRAMES
        return min(FULL_FRAMES, self.content + padding)

    @property
    def cut_short(self) -> bool:
        """The words stop well before the audio does: `base` on a short window sometimes ends its text
        early (TIMIT's "She had your dark suit in greasy wash water all year." came back as "She had a
        dark suit"), which the whole window does not do."""
        if self.full or not self.alignment:
            return False
        return len(self.samples) / SAMPLE_RATE - float(self.alignment[-1]["end"]) > CUT_SHORT_S


def decode_windows(
    whisper: Whisper, items: Sequence[tuple[np.ndarray, TranscribeOptions]], default_beam: int
) -> list[EngineResult]:
    """Decode every (samples, options) that `fits`, batching those that can share a call; results in order."""
    windows = [
        _window(whisper, i, samples, options, default_beam) for i, (samples, options) in enumerate(items)
    ]
    results: list[EngineResult | None] = [None] * len(windows)
    for batch in _batches(windows):
        _decode(whisper, batch)
    cut = [w for w in windows if w.cut_short]
    for window in cut:
        window.full, window.tokens, window.alignment = True, [], []
    for batch in _batches(cut):
        _decode(whisper, batch)
    for window in windows:
        results[window.index] = _result(whisper, window)
    return [r for r in results if r is not None]


def _window(
    whisper: Whisper, index: int, samples: np.ndarray, options: TranscribeOptions, default_beam: int
) -> _Window:
    features = whisper.feature_extractor(samples)[:, :-1]
    # BPE does not depend on the language token: any tokenizer of the model encodes the prompt text
    tokenizer = _tokenizer(whisper, options.language or "en")
    context = tokenizer.encode(" " + options.prompt.strip()) if options.prompt else []
    beam = options.beam_size or default_beam
    return _Window(index, samples, options, beam, features, context, options.language)


def _batches(windows: list[_Window]) -> list[list[_Window]]:
    """Windows that can share one encode/generate/align call: same beam size, hotwords, context or none,
    given language (or detection among the same candidates), and padding bucket."""

    def key(w: _Window) -> tuple[Any, ...]:
        o = w.options
        return (w.beam_size, tuple(o.hotwords), bool(w.context), o.language, tuple(o.language_candidates))

    groups: dict[tuple[Any, ...], list[_Window]] = {}
    for window in windows:
        groups.setdefault(key(window), []).append(window)
    batches: list[list[_Window]] = []
    for group in groups.values():
        group.sort(key=lambda w: w.frames)
        batch = [group[0]]
        for window in group[1:]:
            if window.frames - batch[0].frames > STEP_FRAMES:
                batches.append(batch)
                batch = []
            batch.append(window)
        batches.append(batch)
    return batches


def _decode(whisper: Whisper, batch: list[_Window]) -> None:
    """Encode, detect the language where it was not given, generate, retry looping decodes without their
    context (as faster-whisper falls back), align. Sets each window's language, tokens and probability."""
    from faster_whisper.transcribe import get_suppressed_tokens

    encoded = _encode(whisper, batch)
    undetected = [w for w in batch if w.options.language is None]
    if undetected:
        ranked = whisper.model.detect_language(encoded)
        for window, scores in zip(batch, ranked, strict=True):
            if window.options.language is None:
                window.language, window.probability = _pick_language(
                    scores, window.options.language_candidates, window.options.language_hint
                )
    shared = min(len(w.context) for w in batch)  # CTranslate2: <|startoftranscript|> at one position
    prompts = []
    for window in batch:
        tokenizer = _tokenizer(whisper, window.language)
        hotwords = " ".join(window.options.hotwords) or None
        context = window.context[len(window.context) - shared :] if shared else []
        prompts.append(whisper.get_prompt(tokenizer, context, without_timestamps=True, hotwords=hotwords))
    tokenizer = _tokenizer(whisper, batch[0].language)
    # CTranslate2 counts the prompt in max_length; speech is ~3 tokens/s: 8/s leaves room
    longest = max(len(w.samples) for w in batch) / SAMPLE_RATE
    budget = min(whisper.max_length, max(len(p) for p in prompts) + 16 + int(longest * 8))
    generated = whisper.model.generate(
        encoded,
        prompts,
        beam_size=batch[0].beam_size,
        max_length=budget,
        suppress_blank=True,
        suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
        return_scores=True,
        return_no_speech_prob=True,
    )
    retry: list[_Window] = []
    for window, result in zip(batch, generated, strict=True):
        tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        if _silent(result):
            continue  # no words, as faster-whisper skips such a segment
        if _compression_ratio(tokenizer.decode(tokens)) <= LOOP_COMPRESSION_RATIO:
            window.tokens = tokens
        elif window.context:
            retry.append(window)
        # else: it loops even without context: better no words than "s s s s"
    if retry:
        for window in retry:
            window.context = []
        _decode(whisper, retry)
    _align(whisper, [w for w in batch if w not in retry], encoded if not retry else None)


def _encode(whisper: Whisper, batch: list[_Window]) -> Any:
    frames = max(w.frames for w in batch)
    padded = np.zeros((len(batch), batch[0].features.shape[0], frames), dtype=np.float32)
    for row, window in enumerate(batch):
        padded[row, :, : window.content] = window.features
    return whisper.encode(padded)


def _align(whisper: Whisper, batch: list[_Window], encoded: Any | None) -> None:
    """Word times from the cross-attention, one call per language (its start sequence is per call), on the
    batch's encoding when it holds exactly these windows."""
    by_language: dict[str | None, list[_Window]] = {}
    for window in batch:
        by_language.setdefault(window.language, []).append(window)
    for language, windows in by_language.items():
        if not any(w.tokens for w in windows):
            continue  # nothing said
        reuse = encoded is not None and len(windows) == len(batch)
        features = encoded if reuse else _encode(whisper, windows)
        tokens = [w.tokens for w in windows]
        found = whisper.find_alignment(
            _tokenizer(whisper, language), tokens, features, [w.content for w in windows]
        )
        for window, alignment in zip(windows, found, strict=True):
            window.alignment = alignment if window.tokens else []  # no tokens still align to a "."


def _result(whisper: Whisper, window: _Window) -> EngineResult:
    from faster_whisper.transcribe import merge_punctuations

    alignment = window.alignment
    merge_punctuations(alignment, PUNCTUATION_BEFORE, PUNCTUATION_AFTER)
    words = [
        EngineWord(w["word"].strip(), float(w["start"]), float(w["end"]), float(w["probability"]))
        for w in alignment
        if any(ch.isalnum() for ch in w["word"])  # not a lone "." (whisper's guess at a noise)
    ]
    return EngineResult(words=words, language=window.language or "en", language_confidence=window.probability)


def _pick_language(
    scores: list[tuple[str, float]], candidates: list[str], hint: str | None = None
) -> tuple[str, float]:
    """The most likely language of one encoded window, among `candidates` when given, the `hint` (the
    session's language) weighted by HINT_WEIGHT; the probability renormalised over what was weighed."""
    ranked = {token[2:-2]: float(p) for token, p in scores}
    if candidates:
        allowed = {c: ranked.get(c, 0.0) for c in candidates}
        if sum(allowed.values()) > 0:
            ranked = allowed
    if hint is not None and hint in ranked:
        ranked = {**ranked, hint: ranked[hint] * HINT_WEIGHT}
    total = sum(ranked.values()) or 1.0
    best = max(ranked, key=lambda c: ranked[c])
    return best, ranked[best] / total


@lru_cache(maxsize=16)
def _tokenizer(whisper: Whisper, language: str | None) -> Any:
    from faster_whisper.tokenizer import Tokenizer

    multilingual = whisper.model.is_multilingual
    return Tokenizer(whisper.hf_tokenizer, multilingual, task="transcribe", language=language)


def _average_log_probability(result: Any) -> float:
    """The mean log-probability per token of the best hypothesis, recovered as faster-whisper does from
    CTranslate2's length-normalised score (length penalty 1; the end-of-text token counts)."""
    length = len(result.sequences_ids[0])
    return float(result.scores[0]) * length / (length + 1)


def _silent(result: Any) -> bool:
    """faster-whisper's no-speech rule: whisper bets on silence and is unsure of the words it wrote."""
    return (
        result.no_speech_prob > NO_SPEECH_PROBABILITY
        and _average_log_probability(result) <= UNSURE_LOG_PROBABILITY
    )


def _compression_ratio(text: str) -> float:
    """How much gzip shrinks the text: a decode stuck repeating itself compresses very well."""
    data = text.encode()
    return len(data) / len(zlib.compress(data)) if data else 0.0
