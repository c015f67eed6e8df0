"""Peak memory (RSS) and time of one async job on hours of silent FLAC, mock and real engine.

Each run is a fresh process that runs the job pipeline (`server.jobs.pipeline.run_job`) on an uploaded
file, as a worker does, and reports its peak RSS (`ru_maxrss`). `--root` points at another checkout of
the code (e.g. `git archive <commit>` unpacked) to measure the same thing before a change, in the same
run. A process whose RSS passes `--cap-gb` is killed and reported as over the cap, so the old code's
gigabytes per audio hour cannot take the machine down.

    python bench/job_memory.py --hours 1 10 --engines mock whisper --root-before /tmp/base
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from _common import DOCS_DIR, REPO, machine_info, print_table, write_json

from tests.support.bombs import silent_flac
from tests.support.jobmem import run_job_process


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--engines", nargs="+", default=["mock"], choices=["mock", "whisper"])
    parser.add_argument("--whisper-hours-max", type=float, default=1.0, help="real engine only up to this")
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--root-before", type=Path, help="a checkout of the code before the change")
    parser.add_argument("--cap-gb", type=float, default=6.0)
    parser.add_argument("--plot", action="store_true", help="write docs/job_memory.png")
    args = parser.parse_args()

    roots = [("after", REPO)] + ([("before", args.root_before)] if args.root_before else [])
    rows, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        for hours in args.hours:
            audio = silent_flac(scratch / f"silence-{hours:g}h.flac", hours * 3600)
            for engine in args.engines:
                if engine == "whisper" and hours > args.whisper_hours_max:
                    continue
                for label, root in roots:
                    r = run_job_process(root, audio, engine, args.model, args.cap_gb, scratch / "data")
                    r.update(code=label, engine=engine, hours=hours, file_bytes=audio.stat().st_size)
                    results.append(r)
                    peak = f"{r['peak_kb'] / 1024:.0f}" if r.get("peak_kb") else f">{args.cap_gb * 1024:.0f}"
                    seconds = r.get("seconds")
                    print(json.dumps(r), flush=True)  # as it comes: a long real-engine run may be cut short
                    rows.append(
                        [
                            f"{hours:g} h",
                            engine,
                            label,
                            audio.stat().st_size,
                            peak,
                            "-" if seconds is None else f"{seconds:.1f}",
                            r.get("audio_duration"),
                            r.get("error") or "",
                        ]
                    )
    print_table(
        "Peak RSS of one job on silent FLAC",
        ["audio", "engine", "code", "file bytes", "peak RSS MB", "job s", "audio_duration", "error"],
        rows,
    )
    write_json("job_memory", {"machine": machine_info(), "results": results, "pid": os.getpid()})
    if args.plot:
        plot(results, args.cap_gb, DOCS_DIR / "job_memory.png")


def plot(results: list[dict], cap_gb: float, path: Path) -> None:
    """Peak RSS against audio hours, one line per engine and code version; killed runs drawn at the cap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    series = sorted({(r["engine"], r["code"]) for r in results})
    for engine, code in series:
        points = sorted(
            (r["hours"], r["peak_kb"]) for r in results if (r["engine"], r["code"]) == (engine, code)
        )
        xs = [h for h, _ in points]
        ys = [(kb / 1024 / 1024) if kb else cap_gb for _, kb in points]
        style = "-o" if code == "after" else "--s"
        ax.plot(xs, ys, style, label=f"{engine}, {code}")
        for x, (_, kb) in zip(xs, points, strict=True):
            y = kb / 1024 / 1024 if kb else cap_gb
            ax.annotate(
                f"{y:.2f}" if kb else f">{cap_gb:g}",
                (x, y),
                fontsize=8,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.set_xlabel("audio hours (silent FLAC, ~13 kB per hour)")
    ax.set_ylabel("peak RSS of the job process (GB)")
    ax.set_title("One async job: peak memory against audio length", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
