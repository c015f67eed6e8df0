"""Why the two real RTTM clips come out as one speaker without `speakers_expected`: how far apart the
embedder puts their voices, next to how far it puts one voice from itself.

    python bench/speaker_separation.py [--per-group 30] [--seed 16]

Speech comes from the references, not the ASR (stand-in words on each reference turn, as in
bench/speaker_count.py), so what is measured is the embedder and the count alone. For each clip the
script takes the clustering units `diarize` would (≈2 s of d-vector windows), labels each unit with the
reference speaker covering most of it, and reports:
- mean cosine distance between units of the same / of different reference speakers, raw and file-centred;
- the raw distance between the two speakers' mean vectors, and the same for the best 2-way split of the
  units (for one voice, that split is the within-voice spread the count threshold must not cut);
- how many speakers `speaker_count.estimate` finds at each distance threshold, beside the count accuracy
  on the stitched TUNE / HELD_OUT sets at the same threshold.
The affinity matrices (units in time order, reference speaker on the axes) go to
docs/diarization_affinity.png; numbers to bench/results/speaker_separation.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import AUDIO_DIR, DOCS_DIR, print_table, pyplot, write_json  # noqa: E402
from bench.diarization_der import Segment, read_rttm  # noqa: E402
from bench.speaker_count import HELD_OUT, TUNE, build_set, pseudo_words, speech_spans  # noqa: E402
from server.intelligence import diarization, speaker_count  # noqa: E402
from server.media.decode import decode  # noqa: E402

CLIPS = ("pyannote_sample.wav", "pyannote_dev00.wav", "jfk.flac")
THRESHOLDS = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55)
MAJORITY = 0.6  # a unit belongs to a reference speaker who covers this much of it (else: mixed, left out)


@dataclass
class Units:
    """A recording's clustering units: unit vectors (n, dim) and each one's reference speaker (-1: mixed)."""

    vectors: np.ndarray
    speakers: np.ndarray


@lru_cache(maxsize=1)
def _dvector() -> diarization.Embedder:
    """This diagnosis is of the d-vector (the server's embedder before issue 16, its fallback since)."""
    return diarization.Embedder()


def units(samples: np.ndarray, reference: list[Segment]) -> Units:
    model = _dvector()
    emb = model.windows(samples)
    words = pseudo_words(reference)
    mask = diarization.speech_mask(words, len(emb), model.hop_s, model.window_s)
    spans = diarization.segments(mask)
    names = sorted({s for *_, s in reference})
    owner = []
    for unit in spans:
        a, b = unit[0] * model.hop_s, unit[-1] * model.hop_s + model.window_s
        cover = [sum(max(0.0, min(b, e) - max(a, s)) for s, e, n in reference if n == name) for name in names]
        owner.append(int(np.argmax(cover)) if max(cover) >= MAJORITY * (b - a) else -1)
    vectors = diarization._unit(np.stack([emb[u].mean(axis=0) for u in spans]))
    return Units(vectors, np.array(owner))


def separation(u: Units) -> dict[str, float]:
    """Same- vs different-speaker distances (raw and centred) and the centroid distances described above."""
    from sklearn.cluster import AgglomerativeClustering

    x = u.vectors
    centred = diarization._unit(x - x.mean(axis=0))
    out: dict[str, float] = {"units": float(len(x))}
    known = u.speakers >= 0
    same = (u.speakers[:, None] == u.speakers[None, :]) & known[:, None] & known[None, :]
    diff = (u.speakers[:, None] != u.speakers[None, :]) & known[:, None] & known[None, :]
    np.fill_diagonal(same, False)
    for name, v in (("raw", x), ("centred", centred)):
        dist = 1 - v @ v.T
        out[f"{name}_same"] = float(dist[same].mean())
        out[f"{name}_different"] = float(dist[diff].mean()) if diff.any() else float("nan")

    def gap(labels: np.ndarray) -> float:
        a, b = (diarization._unit(x[labels == k].mean(axis=0)) for k in (0, 1))
        return float(1 - a @ b)

    if len(set(u.speakers[known].tolist())) == 2:
        out["reference_centroid_distance"] = gap(u.speakers)
    split = AgglomerativeClustering(n_clusters=2, metric="cosine", linkage="average").fit_predict(centred)
    out["split_centroid_distance"] = gap(split)
    return out


def counts_by_threshold(x: np.ndarray) -> list[int]:
    return [speaker_count.estimate(x, rule=replace(speaker_count.DVECTOR, threshold=t)) for t in THRESHOLDS]


def by_threshold(values: list[Any]) -> dict[str, Any]:
    return dict(zip(map(str, THRESHOLDS), values, strict=True))


def reference_of(clip: str, samples: np.ndarray, manifest: dict[str, Any]) -> list[Segment]:
    rttm = manifest[clip].get("rttm")
    if rttm:
        return read_rttm(AUDIO_DIR / rttm)
    return [(a, b, "one") for a, b in speech_spans(samples)]


def plot(matrices: dict[str, Units], path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(matrices), figsize=(5 * len(matrices), 4.6))
    for ax, (clip, u) in zip(axes, matrices.items(), strict=True):
        image = ax.imshow(u.vectors @ u.vectors.T, vmin=0.6, vmax=1.0, cmap="viridis")
        changes = np.flatnonzero(np.diff(u.speakers) != 0) + 0.5
        for c in changes:
            ax.axhline(c, color="white", lw=0.4)
            ax.axvline(c, color="white", lw=0.4)
        n = len(u.speakers)
        colours = np.array(["lightgrey", "tab:red", "tab:blue", "tab:orange", "tab:purple"])[u.speakers + 1]
        ax.scatter(np.arange(n), np.full(n, -2.0), c=colours, marker="s", s=14, clip_on=False)
        ax.set_ylim(n - 0.5, -3)
        ax.set_title(clip, fontsize=9)
        ax.set_xlabel("unit (≈2 s, time order)")
    fig.colorbar(image, ax=axes, label="raw cosine similarity")
    fig.suptitle(
        "d-vector affinity of the clustering units\n"
        "(top strip: reference speaker, grey: mixed unit; white lines: speaker changes)"
    )
    fig.savefig(path, dpi=110, bbox_inches="tight")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--per-group", type=int, default=30)
    p.add_argument("--seed", type=int, default=16)
    p.add_argument("--plot", type=Path, default=DOCS_DIR / "diarization_affinity.png")
    p.add_argument("--json", default="speaker_separation.json", help="file name under bench/results/")
    args = p.parse_args()
    manifest = {m["file"]: m for m in json.loads((AUDIO_DIR / "manifest.json").read_text())}
    clips: dict[str, Units] = {}
    rows, report = [], {}
    for clip in CLIPS:
        samples = decode(AUDIO_DIR / clip)
        u = clips[clip] = units(samples, reference_of(clip, samples, manifest))
        s = separation(u)
        report[clip] = {
            **s,
            "count_by_threshold": by_threshold(counts_by_threshold(u.vectors)),
        }
        columns = ("raw_same", "raw_different", "centred_same", "centred_different")
        centroids = (s.get("reference_centroid_distance", float("nan")), s["split_centroid_distance"])
        rows.append(
            [clip, manifest[clip].get("speakers", 1), int(s["units"]), *(s[c] for c in columns), *centroids]
        )
    print_table(
        "Unit distances (cosine) by reference speaker",
        ["clip", "voices", "units", "raw same", "raw diff", "centred same", "centred diff", "ref centroids",
         "2-split centroids"],
        rows,
    )  # fmt: skip
    sweep = []
    for tag, group, seed in (("tune", TUNE, args.seed), ("held_out", HELD_OUT, args.seed + 1)):
        convs = build_set(group, tag, args.per_group, seed)
        found = np.array([counts_by_threshold(units(c.samples, c.reference).vectors) for c in convs])
        truth = np.array([c.speakers for c in convs])
        report[f"{tag}_count_accuracy"] = by_threshold((found == truth[:, None]).mean(axis=0).tolist())
        sweep.append([tag, *(found == truth[:, None]).mean(axis=0)])
    sweep += [[clip, *report[clip]["count_by_threshold"].values()] for clip in CLIPS]
    print_table(
        "Count accuracy (stitched sets) and speakers found (clips) by threshold",
        ["", *map(str, THRESHOLDS)],
        sweep,
    )
    plot(clips, args.plot)
    print(f"\nwrote {write_json(args.json, report)} and {args.plot}")


if __name__ == "__main__":
    main()
