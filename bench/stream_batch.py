"""What decoding several streams' windows together saves: the engine alone, no server, no network.

For N = 1, 2, 4, 6, 8 windows (the live windows N streams have pending at once: prefixes of 2-8 s of the
English clips of bench/stream_latency.py, as a partial decode sees them), the same windows are decoded one
after another (`WhisperEngine.transcribe`, the path before batching) and together
(`WhisperEngine.transcribe_batch`), alternately, `--repeats` times each; the best time of each is kept, and
their ratio is the saving. Partials (greedy, as `stream_beam_size` 1) and finals (beam 5) are measured
apart, since they never share a batch. The words must be the same both ways (checked; a difference is
reported). Ratios measured in one run hold better than times on a shared machine; the load average is
printed beside them.

    flock /tmp/bench.lock .venv/bin/python bench/stream_batch.py [--model tiny.en] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from _common import AUDIO_DIR, MODELS_DIR, SAMPLE_RATE, git_state, machine_info, print_table, write_json
from stream_latency import CLIPS

SIZES = (1, 2, 4, 6, 8)


def windows(count: int) -> list[np.ndarray]:
    """`count` live windows: clip prefixes of 2 to 8 s, a different clip and length each."""
    from server.media.decode import decode

    clips = [decode(AUDIO_DIR / name) for name in CLIPS]
    lengths = np.linspace(2.0, 8.0, count) if count > 1 else [4.0]
    return [clips[i % len(clips)][: int(s * SAMPLE_RATE)] for i, s in enumerate(lengths)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny.en")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="1 and 2 windows, once (CI)")
    args = p.parse_args()
    sizes, repeats = ((1, 2), 1) if args.quick else (SIZES, args.repeats)
    from server.engine.base import TranscribeOptions
    from server.engine.whisper import WhisperEngine

    engine = WhisperEngine(default_model=args.model, models_dir=MODELS_DIR)
    engine.load(args.model)
    language = "en" if args.model.endswith(".en") else None
    rows, points = [], []
    for kind, beam in (("partial", 1), ("final", 5)):
        for n in sizes:
            load = os.getloadavg()[0]
            options = TranscribeOptions(
                model=args.model, language=language, beam_size=beam, short_context=True
            )
            items = [(w, options) for w in windows(n)]
            engine.transcribe_batch(items[:1])  # warm
            alone_s, together_s = [], []
            for _ in range(repeats):
                t0 = time.perf_counter()
                alone = [engine.transcribe(s, o) for s, o in items]
                alone_s.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                together = engine.transcribe_batch(items)
                together_s.append(time.perf_counter() - t0)
            same = sum(
                [w.text for w in a.words] == [w.text for w in b.words]
                for a, b in zip(alone, together, strict=True)
            )
            point = {
                "kind": kind,
                "windows": n,
                "alone_s": min(alone_s),
                "together_s": min(together_s),
                "ratio": min(together_s) / min(alone_s),
                "same_words": same,
                "load_average_before": load,
            }
            points.append(point)
            rows.append(
                [
                    kind,
                    n,
                    f"{point['alone_s'] / n * 1000:.0f}",
                    f"{point['together_s'] / n * 1000:.0f}",
                    f"{point['ratio']:.2f}",
                    f"{same}/{n}",
                    f"{load:.1f}",
                ]
            )
            print(rows[-1], flush=True)
    print_table(
        f"{args.model}: live windows decoded one after another vs together (best of {repeats})",
        [
            "decode",
            "windows",
            "alone ms/window",
            "together ms/window",
            "together/alone",
            "same words",
            "load",
        ],
        rows,
    )
    name = "stream_batch_quick.json" if args.quick else f"stream_batch_{args.model}.json"
    result = {"quick": args.quick, "model": args.model, "points": points, "machine": machine_info()}
    write_json(name, {**result, "git": git_state()})


if __name__ == "__main__":
    main()
