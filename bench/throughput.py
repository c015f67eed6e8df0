"""Throughput of one LocalScribe node: the queue with the mock engine, and audio hours with the real one.

(a) mock: ``--jobs`` jobs over ``--accounts`` accounts (made with ``localscribe keys create``, half Free
    and half Paid, tier limits 5 / 32) sent through real HTTP from ``--threads`` client threads to one
    server (SQLite, or a fresh PostgreSQL database with ``--postgres``) whose mock engine takes
    ``--mock-delay`` s per job on ``--workers`` worker threads. Jobs are spread over the accounts with
    Zipf-like weights (account i gets a share ~ 1/(i+1)), so the last minutes belong to a few heavy
    accounts and the per-account limits bind. Measured: jobs/s created and completed, create
    latency p50/p99, and the largest ``processing`` count of every account, both as sampled through
    ``GET /v2/transcript?status=processing`` by a sampler thread and exactly, from the server's own
    started/completed timestamps. Neither may exceed the account's limit.
(b) real: ``--files`` copies of a ``--seconds`` crop of the long-form clip, transcribed with tiny.en int8
    by faster-whisper directly (a loop) and by the server with WORKERS = 1, 2, cpu count (plus
    WORKERS = cpu count with CPU_THREADS = 1). Measured: audio hours per wall-clock hour.

    .venv/bin/python bench/throughput.py [--quick] [--postgres] [--skip-mock] [--skip-real]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from _common import (
    DOCS_DIR,
    LONG_CLIP,
    RESULTS_DIR,
    add_quiet_args,
    machine_info,
    pyplot,
    write_json,
)
from throughput_mock import print_mock, run_mock
from throughput_real import print_real, run_real

FREE_LIMIT, PAID_LIMIT = 5, 32  # the tier defaults (LOCALSCRIBE_FREE/PAID_ASYNC_LIMIT)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="CI-sized: 120 mock jobs / 4 accounts, 4 x 10 s real")
    p.add_argument("--postgres", action="store_true", help="PostgreSQL (fresh database) instead of SQLite")
    p.add_argument("--skip-mock", action="store_true", help="leave out part (a)")
    p.add_argument("--skip-real", action="store_true", help="leave out part (b)")
    g = p.add_argument_group("(a) mock engine")
    g.add_argument("--jobs", type=int, default=None, help="jobs to create (default 2000)")
    g.add_argument("--accounts", type=int, default=None, help="accounts, half free half paid (default 20)")
    g.add_argument("--threads", type=int, default=16, help="client threads sending requests")
    g.add_argument("--workers", type=int, default=8, help="server worker threads (LOCALSCRIBE_WORKERS)")
    g.add_argument("--mock-delay", type=float, default=0.2, help="seconds per mock job")
    g.add_argument("--uniform", action="store_true", help="spread jobs evenly instead of Zipf-like")
    g.add_argument("--seed", type=int, default=1)
    g = p.add_argument_group("(b) real engine")
    g.add_argument("--files", type=int, default=None, help="copies of the clip (default 16)")
    g.add_argument("--seconds", type=float, default=None, help="clip length in seconds (default 60)")
    g.add_argument("--clip", type=Path, default=LONG_CLIP, help="source to crop from")
    g.add_argument("--model", default="tiny.en", help="local model (default tiny.en)")
    g.add_argument(
        "--direct-load",
        choices=("thread", "main"),
        default="thread",
        help="build the direct loop's WhisperModel on a helper thread like the server (default) or on "
        "the main thread like a naive script",
    )
    g.add_argument(
        "--poll", type=float, default=0.5, help="client poll interval per transcript in seconds (default 0.5)"
    )
    g.add_argument(
        "--worker-counts", default=None, help="comma-separated LOCALSCRIBE_WORKERS values (default 1,2,N)"
    )
    add_quiet_args(p)
    p.add_argument("--out", default=None, help="JSON name under bench/results/")
    p.add_argument("--plot", type=Path, default=None, help="PNG path (default docs/throughput.png)")
    args = p.parse_args(argv)
    q = args.quick
    args.jobs = args.jobs or (120 if q else 2000)
    args.accounts = args.accounts or (4 if q else 20)
    args.files = args.files or (4 if q else 16)
    args.seconds = args.seconds or (10.0 if q else 60.0)
    if q and args.threads == 16:
        args.threads = 8
    n = os.cpu_count() or 1
    counts = args.worker_counts or ("1," + str(n) if q else f"1,2,{n}")
    if args.quiet_timeout is None:
        args.quiet_timeout = 1.0 if q else 300.0
    args.worker_counts = sorted({int(c) for c in counts.split(",")})
    db = "_postgres" if args.postgres else ""
    args.out = args.out or f"throughput{db}{'_quick' if q else ''}.json"
    default_plot = RESULTS_DIR / f"throughput{db}_quick.png" if q else DOCS_DIR / f"throughput{db}.png"
    args.plot = args.plot or default_plot
    return args


# --- plot -----------------------------------------------------------------------------------------------


def plot(mock: dict[str, Any] | None, real: dict[str, Any] | None, path: Path) -> None:
    plt = pyplot()
    panels = (2 if mock else 0) + (1 if real else 0)
    if panels == 0:
        return
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.6), squeeze=False)
    ax_iter = iter(axes[0])
    if mock:
        s = mock["summary"]
        ax = next(ax_iter)
        t = mock["timeline"]
        ax.plot(t["created_s"], range(1, len(t["created_s"]) + 1), label="created")
        ax.plot(t["completed_s"], range(1, len(t["completed_s"]) + 1), label="completed")
        ax.set_xlabel("seconds since first request")
        ax.set_ylabel("jobs")
        ax.set_title(
            f"(a) mock, {mock['database']}: {s['created_jobs_per_s']:.0f} created/s, "
            f"{s['completed_jobs_per_s']:.1f} completed/s",
            fontsize=9,
        )
        ax.legend(fontsize=8)
        ax = next(ax_iter)
        accts = mock["accounts"]
        xs = range(len(accts))
        ax.bar(
            [x - 0.2 for x in xs],
            [a["max_processing_sampled"] for a in accts],
            0.4,
            label="max processing (API samples)",
        )
        ax.bar(
            [x + 0.2 for x in xs],
            [a["max_processing_exact"] for a in accts],
            0.4,
            label="max processing (DB timestamps)",
        )
        ax.scatter(xs, [a["limit"] for a in accts], marker="_", s=300, color="red", label="limit", zorder=3)
        workers = int(mock["settings"]["LOCALSCRIBE_WORKERS"])
        ax.axhline(workers, color="grey", linestyle=":", linewidth=1, label=f"{workers} workers (ceiling)")
        for x, a in zip(xs, accts, strict=True):
            top = max(a["max_processing_sampled"], a["max_processing_exact"])
            ax.text(x, top + 0.3, str(top), ha="center", va="bottom", fontsize=7)
        ax.set_xticks(list(xs), [f"{'F' if a['tier'] == 'free' else 'P'}{a['account']}" for a in accts])
        ax.tick_params(axis="x", labelsize=7, rotation=90)
        ax.set_ylim(0, max(a["limit"] for a in accts) * 1.12)
        ax.set_ylabel("most jobs processing at once")
        ax.set_title(f"(a) per account vs limit (F=free 5, P=paid 32), {workers} workers", fontsize=9)
        ax.legend(fontsize=7)
    if real:
        ax = next(ax_iter)
        runs = real["runs"]
        bars = ax.bar(
            [r["label"] for r in runs],
            [r["audio_h_per_wall_h"] for r in runs],
            color=["#4c72b0"] + ["#55a868"] * (len(runs) - 1),
        )
        for b, r in zip(bars, runs, strict=True):
            ax.text(
                b.get_x() + b.get_width() / 2,
                b.get_height(),
                f"{r['audio_h_per_wall_h']:.1f}",
                ha="center",
                va="bottom",
                fontsize=8,
            )
        ax.set_ylabel("audio hours per wall-clock hour")
        ax.set_title(
            f"(b) {real['model']} int8, {real['files']} x {real['clip_s']:.0f}s, {os.cpu_count()} CPUs",
            fontsize=9,
        )
        ax.tick_params(axis="x", labelsize=8, rotation=20)
        ax.margins(y=0.12)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    mock = real = None
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="localscribe-bench-")))
        if not args.skip_mock:
            mock = run_mock(args, tmp)
            print_mock(mock)
        if not args.skip_real:
            real = run_real(args, tmp)
            print_real(real)
    result = {
        "benchmark": "throughput",
        "quick": args.quick,
        "machine": machine_info(),
        "mock": mock,
        "real": real,
        "total_bench_s": time.perf_counter() - t0,
    }
    path = write_json(args.out, result)
    plot(mock, real, args.plot)
    print(f"\nwrote {path} and {args.plot} in {result['total_bench_s']:.0f}s")
    return 0 if (mock is None or mock["summary"]["limits_respected"]) else 1


if __name__ == "__main__":
    sys.exit(main())
