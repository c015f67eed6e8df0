"""Diarization error rate of `speaker_labels` on the shared two-speaker clips with RTTM references.

    python bench/diarization_der.py [--model base] [--clips pyannote_sample pyannote_dev00]

Words come from the real engine (faster-whisper `base`, the server's options); speakers from
`server.intelligence.diarization.diarize`, run twice: told the count (`speakers_expected`, from the
manifest) and not told. The hypothesis is what a user sees: each run of same-speaker words, joined across
pauses shorter than JOIN_GAP_S. DER = (missed + false alarm + confusion) / reference speech, scored on 10 ms
frames with a ±0.25 s collar around every reference boundary, overlap kept, speakers mapped one-to-one
(Hungarian) to maximise agreement: the NIST md-eval convention, implemented below (a few lines, no
pyannote.metrics). Missed/false-alarm speech comes from where the words are (the ASR), confusion from
the diarization; the table shows the three apart. Results go to bench/results/diarization_der.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import AUDIO_DIR, load_whisper, print_table, write_json  # noqa: E402
from server.intelligence import diarization  # noqa: E402
from server.media.decode import decode  # noqa: E402

FRAME_S = 0.01
COLLAR_S = 0.25
JOIN_GAP_S = 0.5

Segment = tuple[float, float, str]


def read_rttm(path: Path) -> list[Segment]:
    out: list[Segment] = []
    for line in path.read_text().splitlines():
        f = line.split()
        if f and f[0] == "SPEAKER":
            start, dur = float(f[3]), float(f[4])
            out.append((start, start + dur, f[7]))
    return out


def word_segments(words: list[dict[str, Any]], speakers: list[str]) -> list[Segment]:
    """Same-speaker words joined into turns across pauses shorter than JOIN_GAP_S."""
    out: list[list[Any]] = []
    for w, s in zip(words, speakers, strict=True):
        start, end = w["start"] / 1000, w["end"] / 1000
        if out and out[-1][2] == s and start - out[-1][1] < JOIN_GAP_S:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end, s])
    return [(a, b, s) for a, b, s in out]


def der(reference: list[Segment], hypothesis: list[Segment], collar: float = COLLAR_S) -> dict[str, float]:
    """Frame-based DER with a ±collar around reference boundaries and optimal one-to-one speaker mapping."""
    from scipy.optimize import linear_sum_assignment

    end = max(b for _, b, _ in reference + hypothesis)
    n = int(np.ceil(end / FRAME_S)) + 1
    t = (np.arange(n) + 0.5) * FRAME_S
    ref_names = sorted({s for *_, s in reference})
    hyp_names = sorted({s for *_, s in hypothesis})
    ref = np.zeros((len(ref_names), n), dtype=bool)
    hyp = np.zeros((len(hyp_names), n), dtype=bool)
    for a, b, s in reference:
        ref[ref_names.index(s), (t >= a) & (t < b)] = True
    for a, b, s in hypothesis:
        hyp[hyp_names.index(s), (t >= a) & (t < b)] = True
    scored = np.ones(n, dtype=bool)
    for a, b, _ in reference:
        for edge in (a, b):
            scored &= np.abs(t - edge) > collar
    ref, hyp = ref[:, scored], hyp[:, scored]
    agree = ref.astype(int) @ hyp.T.astype(int)  # frames where ref i and hyp j both speak
    rows, cols = linear_sum_assignment(-agree)
    n_ref, n_hyp = ref.sum(axis=0), hyp.sum(axis=0)
    correct = np.zeros(ref.shape[1], dtype=int)
    for i, j in zip(rows, cols, strict=True):
        correct += ref[i] & hyp[j]
    total = float(n_ref.sum())
    missed = float(np.clip(n_ref - n_hyp, 0, None).sum())
    false_alarm = float(np.clip(n_hyp - n_ref, 0, None).sum())
    confusion = float((np.minimum(n_ref, n_hyp) - correct).sum())
    return {
        "der": (missed + false_alarm + confusion) / total,
        "missed": missed / total,
        "false_alarm": false_alarm / total,
        "confusion": confusion / total,
        "speakers": len(hyp_names),
    }


def transcribe(whisper: Any, samples: np.ndarray) -> list[dict[str, Any]]:
    segments, _ = whisper.transcribe(
        samples, language="en", beam_size=5, word_timestamps=True, condition_on_previous_text=True
    )
    return [
        {"text": w.word.strip(), "start": int(round(w.start * 1000)), "end": int(round(w.end * 1000))}
        for seg in segments
        for w in seg.words or []
        if w.word.strip()
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="base")
    p.add_argument("--clips", nargs="+", default=["pyannote_sample", "pyannote_dev00"])
    args = p.parse_args()
    manifest = {m["file"]: m for m in json.loads((AUDIO_DIR / "manifest.json").read_text())}
    whisper = load_whisper(args.model)
    diarization.embedder()  # load once, outside the timings
    rows, results = [], []
    for clip in args.clips:
        audio = AUDIO_DIR / f"{clip}.wav"
        samples = decode(audio)
        words = transcribe(whisper, samples)
        reference = read_rttm(AUDIO_DIR / manifest[audio.name]["rttm"])
        for told in (manifest[audio.name]["speakers"], None):
            started = time.perf_counter()
            speakers = diarization.diarize(samples, words, n_speakers=told)
            elapsed = time.perf_counter() - started
            score = der(reference, word_segments(words, speakers))
            per_min = elapsed / (len(samples) / diarization.SAMPLE_RATE / 60)
            result = {"clip": clip, "speakers_expected": told, "s_per_audio_min": per_min, **score}
            results.append(result)
            rows.append(
                [clip, told or "-", score["speakers"], score["der"], score["missed"], score["false_alarm"],
                 score["confusion"], per_min]
            )  # fmt: skip
    print_table(
        f"DER, collar ±{COLLAR_S}s, words from faster-whisper {args.model}",
        ["clip", "told", "found", "DER", "missed", "false alarm", "confusion", "s / audio min"],
        rows,
    )
    path = write_json("diarization_der.json", {"model": args.model, "collar_s": COLLAR_S, "results": results})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
