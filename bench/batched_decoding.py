"""Batched vs sequential decoding of files through the server's engine (server/engine/whisper.py), per length.

Measures what the per-job rule (`BATCH_MIN_S`) rests on, in one run, alternating the two paths:

* crops of the 237 s long-form clip (default 15, 30, 60, 120 s and the whole clip): wall time of the
  sequential path (`batch_size=1`) and of the batched path (forced: `batch_min_s=0`), their ratio, WER
  against the clip's reference (crops: against the sequential words) and how far each batched word's start
  and end lie from the same word of the sequential path (matched by text);
* the English clips with a reference in tests/data/manifest.json: WER of each path (`--no-clips` skips);
* several small jobs at once (`--small-jobs`): the short English clips in one batched call (as a node's
  workers share one, server/engine/call_batcher.py) vs each alone on the batched path and on the
  sequential path.

Runs without the HTTP server or a database, so the same script runs on a GPU machine
(`--device cuda --compute-type float16`). `--audio-cache F.npz` stores the decoded clips (16 kHz int16) on
the first run and reads them on later runs, so a machine without PyAV/ffmpeg can run it.

    .venv/bin/python bench/batched_decoding.py [--model base] [--repeats 2] [--batch-sizes 8]
        [--batch-beam-sizes 1,2,5] [--device cpu] [--compute-type int8] [--threads 0] [--crops 15,30,60,120,0]
        [--small-jobs] [--quick]
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from server.engine.base import EngineWord, TranscribeOptions, WindowOf  # noqa: E402
from server.engine.batched_files import FileToDecode, decode_files  # noqa: E402
from server.engine.whisper import WhisperEngine  # noqa: E402
from server.media.rate import SAMPLE_RATE  # noqa: E402
from tests.support.wer import wer, words  # noqa: E402

DATA = REPO / "tests" / "data"
LONG = "en_ljspeech_LJ001-0001_to_0032_longform.flac"


@dataclass
class Clip:
    name: str
    samples: np.ndarray
    reference: str | None

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="base")
    p.add_argument("--models-dir", type=Path, default=REPO / "models")
    p.add_argument("--device", default="cpu")
    p.add_argument("--compute-type", default="int8")
    p.add_argument("--threads", type=int, default=0, help="CTranslate2 cpu_threads (0: its default)")
    p.add_argument("--beam-size", type=int, default=5, help="the sequential path's beam")
    p.add_argument(
        "--batch-beam-sizes",
        default="",
        help="comma-separated beams of the batched path to try (default: the device's, BATCH_BEAM_SIZE)",
    )
    p.add_argument("--batch-sizes", default="8", help="comma-separated batch sizes to try")
    p.add_argument("--crops", default="15,30,60,120,0", help="seconds of the long clip; 0: all of it")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--no-clips", action="store_true", help="skip the short English clips")
    p.add_argument("--small-jobs", action="store_true", help="also measure several small jobs in one batch")
    p.add_argument("--audio-cache", type=Path, default=None, help="npz of decoded clips (read or written)")
    p.add_argument("--out", type=Path, default=None, help="JSON path (default under bench/results/)")
    p.add_argument("--quick", action="store_true", help="CI-sized: tiny.en, 15 s crop, small jobs, 1 repeat")
    args = p.parse_args(argv)
    if args.quick:
        args.model, args.crops, args.no_clips, args.repeats = "tiny.en", "15", True, 1
        args.small_jobs = True
    suffix = "_quick" if args.quick else ""
    args.out = args.out or REPO / "bench" / "results" / f"batched_decoding{suffix}.json"
    return args


# --- audio ----------------------------------------------------------------------------------------------


def load_clips(cache: Path | None) -> dict[str, Clip]:
    """The long clip and the English clips with a reference, decoded once (or read from the cache)."""
    manifest = json.loads((DATA / "manifest.json").read_text())
    chosen = [m for m in manifest if m["language"] == "en" and m.get("reference")]
    if cache is not None and cache.exists():
        arrays = np.load(cache)
        return {
            m["file"]: Clip(m["file"], arrays[m["file"]].astype(np.float32) / 32768.0, m["reference"])
            for m in chosen
            if m["file"] in arrays
        }
    from faster_whisper import decode_audio

    clips = {m["file"]: Clip(m["file"], decode_audio(str(DATA / m["file"])), m["reference"]) for m in chosen}
    if cache is not None:
        pcm = {n: (np.clip(c.samples, -1, 1) * 32767).astype(np.int16) for n, c in clips.items()}
        np.savez_compressed(cache, **pcm)  # type: ignore[arg-type]
    return clips


# --- one decode -----------------------------------------------------------------------------------------


def run_once(engine: WhisperEngine, samples: np.ndarray, total_s: float | None = None) -> tuple[float, list]:
    """Wall seconds and words of one transcription, as the async pipeline asks for it (English, window of
    `total_s` seconds of audio when given)."""
    window = WindowOf(0.0, total_s, True) if total_s is not None else None
    options = TranscribeOptions(language="en", window=window)
    t0 = time.perf_counter()
    result = engine.transcribe(samples, options)
    return time.perf_counter() - t0, result.words


def timing_deviation(reference: list[EngineWord], other: list[EngineWord]) -> dict[str, float]:
    """|start| and |end| differences (ms) between words both lists hold at matching text positions."""
    ra, ob = words(" ".join(w.text for w in reference)), words(" ".join(w.text for w in other))
    if len(ra) != len(reference) or len(ob) != len(other):  # a word normalised to nothing: drop those
        reference = [w for w in reference if words(w.text)]
        other = [w for w in other if words(w.text)]
        ra, ob = [words(w.text)[0] for w in reference], [words(w.text)[0] for w in other]
    diffs: list[float] = []
    matcher = difflib.SequenceMatcher(a=ra, b=ob, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            a, b = reference[block.a + k], other[block.b + k]
            diffs += [abs(a.start - b.start) * 1000, abs(a.end - b.end) * 1000]
    if not diffs:
        return {"matched": 0, "mean_ms": float("nan"), "p95_ms": float("nan")}
    diffs.sort()
    return {
        "matched": len(diffs) // 2,
        "mean_ms": statistics.fmean(diffs),
        "p95_ms": diffs[min(len(diffs) - 1, int(0.95 * len(diffs)))],
    }


def text_of(found: list[EngineWord]) -> str:
    return " ".join(w.text for w in found)


# --- the measurements -----------------------------------------------------------------------------------


def compare(
    name: str,
    samples: np.ndarray,
    reference: str | None,
    seq: WhisperEngine,
    batched: WhisperEngine,
    repeats: int,
) -> dict[str, Any]:
    """Alternate the two paths `repeats` times on the same samples."""
    seq_s, bat_s = [], []
    seq_words: list[EngineWord] = []
    bat_words: list[EngineWord] = []
    for i in range(repeats):
        order = [("s", seq), ("b", batched)] if i % 2 == 0 else [("b", batched), ("s", seq)]
        for tag, engine in order:
            wall, found = run_once(engine, samples)
            (seq_s if tag == "s" else bat_s).append(wall)
            if tag == "s":
                seq_words = found
            else:
                bat_words = found
    duration = len(samples) / SAMPLE_RATE
    ref = reference if reference is not None else text_of(seq_words)
    row = {
        "clip": name,
        "duration_s": duration,
        "sequential_s": statistics.median(seq_s),
        "batched_s": statistics.median(bat_s),
        "sequential_runs": seq_s,
        "batched_runs": bat_s,
        "ratio_batched_over_sequential": statistics.median(bat_s) / statistics.median(seq_s),
        "sequential_rtf": statistics.median(seq_s) / duration,
        "batched_rtf": statistics.median(bat_s) / duration,
        "reference": "manifest" if reference is not None else "sequential words",
        "wer_sequential": wer(ref, text_of(seq_words)),
        "wer_batched": wer(ref, text_of(bat_words)),
        "words_sequential": len(seq_words),
        "words_batched": len(bat_words),
        "timing_vs_sequential": timing_deviation(seq_words, bat_words),
        "text_sequential": text_of(seq_words),
        "text_batched": text_of(bat_words),
    }
    print(
        f"{name:>48} {duration:6.1f}s  seq {row['sequential_s']:6.2f}s  batched {row['batched_s']:6.2f}s  "
        f"ratio {row['ratio_batched_over_sequential']:.2f}  WER {row['wer_sequential']:.4f}/"
        f"{row['wer_batched']:.4f}  timing mean {row['timing_vs_sequential']['mean_ms']:.0f} ms",
        flush=True,
    )
    return row


def small_jobs(clips: list[Clip], seq: WhisperEngine, batched: WhisperEngine, repeats: int) -> dict[str, Any]:
    """Short jobs as a node's workers decode them: one after another on the sequential path (the CPU's default
    for short files), one after another on the batched path (each file alone: the GPU's default before jobs
    shared calls), and all in one call (server/engine/batched_files.py, as call_batcher.py pools them)."""
    whisper = batched.load()
    english = TranscribeOptions(language="en")
    files = [FileToDecode(c.samples, english) for c in clips]
    beam = batched.batch_beam_size

    def decode(group: list[FileToDecode]) -> list[list[EngineWord]]:
        return [r.words for r in decode_files(whisper, group, batch_size=batched.batch_size, beam_size=beam)]

    paths: dict[str, Any] = {
        "sequential": lambda: [run_once(seq, c.samples)[1] for c in clips],
        "batched_alone": lambda: [decode([f])[0] for f in files],
        "batched_together": lambda: decode(files),
    }
    times: dict[str, list[float]] = {name: [] for name in paths}
    texts: dict[str, list[list[EngineWord]]] = {}
    for _ in range(repeats):
        for name, run in paths.items():  # rotated within each repeat, so a load change hits all three
            t0 = time.perf_counter()
            texts[name] = run()
            times[name].append(time.perf_counter() - t0)
    reference = " ".join(c.reference or "" for c in clips)
    row: dict[str, Any] = {"clips": [c.name for c in clips], "audio_s": sum(c.duration_s for c in clips)}
    for name in paths:
        row[f"{name}_s"] = statistics.median(times[name])
        row[f"wer_{name}"] = wer(reference, " ".join(w.text for ws in texts[name] for w in ws))
    row["together_over_alone"] = row["batched_together_s"] / row["batched_alone_s"]
    row["together_over_sequential"] = row["batched_together_s"] / row["sequential_s"]
    row["same_words_together_as_alone"] = [
        [w.text for w in a] == [w.text for w in b]
        for a, b in zip(texts["batched_alone"], texts["batched_together"], strict=True)
    ]
    print(
        f"small jobs ({len(clips)} clips, {row['audio_s']:.0f}s): sequential {row['sequential_s']:.2f}s, "
        f"batched alone {row['batched_alone_s']:.2f}s, together {row['batched_together_s']:.2f}s "
        f"(together/alone {row['together_over_alone']:.2f}, together/sequential "
        f"{row['together_over_sequential']:.2f}); WER {row['wer_sequential']:.4f} / "
        f"{row['wer_batched_alone']:.4f} / {row['wer_batched_together']:.4f}",
        flush=True,
    )
    return row


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    clips = load_clips(args.audio_cache)
    long_clip = clips[LONG]

    def engine(batch_size: int, batch_min_s: float, batch_beam_size: int | None = None) -> WhisperEngine:
        return WhisperEngine(
            default_model=args.model,
            models_dir=args.models_dir,
            device=args.device,
            compute_type=args.compute_type,
            cpu_threads=args.threads,
            beam_size=args.beam_size,
            batch_size=batch_size,
            batch_min_s=batch_min_s,
            batch_beam_size=batch_beam_size,
        )

    seq = engine(1, float("inf"))
    t0 = time.perf_counter()
    seq.load()  # built on a helper thread (build_off_thread), as the server does
    load_s = time.perf_counter() - t0
    run_once(seq, long_clip.samples[: 10 * SAMPLE_RATE])  # warm-up, untimed
    load_avg = os.getloadavg()
    print(
        f"model {args.model} on {args.device}/{args.compute_type}, threads {args.threads}, "
        f"load {load_s:.1f}s, "
        f"loadavg {load_avg[0]:.2f}",
        flush=True,
    )
    results: dict[str, Any] = {
        "benchmark": "batched_decoding",
        "quick": args.quick,
        "model": args.model,
        "device": args.device,
        "compute_type": args.compute_type,
        "threads": args.threads,
        "beam_size": args.beam_size,
        "repeats": args.repeats,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "loadavg_start": load_avg},
        "by_batch_size": {},
    }
    beams = [int(b) for b in args.batch_beam_sizes.split(",") if b] or [None]
    for batch_size, beam in [(int(b), m) for b in args.batch_sizes.split(",") for m in beams]:
        batched = engine(batch_size, 0.0, beam)
        batched._models = seq._models  # the same loaded model: only the path differs
        run_once(batched, long_clip.samples[: 10 * SAMPLE_RATE])  # warm-up (loads the VAD), untimed
        print(f"--- batch size {batch_size}, beam {batched.batch_beam_size}", flush=True)
        rows = []
        for crop in [float(c) for c in args.crops.split(",")]:
            if crop and crop >= long_clip.duration_s:
                continue
            samples = long_clip.samples[: int(crop * SAMPLE_RATE)] if crop else long_clip.samples
            rows.append(
                compare(
                    f"{LONG} [:{crop:.0f}s]" if crop else LONG,
                    samples,
                    None if crop else long_clip.reference,
                    seq,
                    batched,
                    args.repeats,
                )
            )
        clip_rows = []
        if not args.no_clips:
            for c in clips.values():
                if c.name != LONG:
                    clip_rows.append(compare(c.name, c.samples, c.reference, seq, batched, 1))
        out: dict[str, Any] = {"long_clip_crops": rows, "english_clips": clip_rows}
        if clip_rows:
            refs = " ".join(c.reference or "" for c in clips.values() if c.name != LONG)
            seq_total = sum(
                r["wer_sequential"] * len(words(clips[r["clip"]].reference or "")) for r in clip_rows
            )
            bat_total = sum(
                r["wer_batched"] * len(words(clips[r["clip"]].reference or "")) for r in clip_rows
            )
            out["english_clips_wer"] = {
                "sequential": seq_total / len(words(refs)),
                "batched": bat_total / len(words(refs)),
            }
            print(
                f"English clips pooled WER: sequential {out['english_clips_wer']['sequential']:.4f}, "
                f"batched {out['english_clips_wer']['batched']:.4f}",
                flush=True,
            )
        if args.small_jobs:
            short = [c for c in clips.values() if c.duration_s <= 15][:8]
            out["small_jobs"] = small_jobs(short, seq, batched, args.repeats)
        out["batch_beam_size"] = batched.batch_beam_size
        key = str(batch_size) if beam is None else f"{batch_size}/beam{beam}"
        results["by_batch_size"][key] = out
    results["machine"]["loadavg_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
