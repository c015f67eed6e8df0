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
import random
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from _common import (
    API_KEY,
    API_NAME_FOR_MODEL,
    DOCS_DIR,
    LONG_CLIP,
    MODELS_DIR,
    RESULTS_DIR,
    SAMPLE_RATE,
    SERVER_ERRORS,
    SERVER_TEMPERATURES,
    SHORT_CLIP,
    CpuMeter,
    create_key,
    create_transcript,
    crop_to_wav,
    job_times,
    load_whisper,
    machine_info,
    median,
    percentile,
    postgres_database,
    print_table,
    pyplot,
    running_server,
    server_db_url,
    upload,
    wait_for_quiet,
    wait_transcript,
    write_json,
)

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
    p.add_argument(
        "--quiet-share",
        type=float,
        default=0.10,
        help="before each timed run, wait until other processes use less than this share of the CPUs",
    )
    p.add_argument("--quiet-timeout", type=float, default=None, help="give up waiting after this (s)")
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


@contextmanager
def database(use_postgres: bool) -> Iterator[str | None]:
    if use_postgres:
        with postgres_database() as url:
            yield url
    else:
        yield None


def _epoch(dt: datetime) -> float:
    return dt.replace(tzinfo=timezone.utc).timestamp()


# --- (a) mock engine: the queue, the limits -------------------------------------------------------------


class ProcessingSampler(threading.Thread):
    """Lists every account's `processing` transcripts over and over; keeps the largest count seen."""

    def __init__(self, base_url: str, keys: list[str]) -> None:
        super().__init__(name="sampler", daemon=True)
        self.base_url = base_url
        self.keys = keys
        self.max_seen = [0] * len(keys)
        self.samples = [0] * len(keys)
        self.errors = 0
        self.timeline: list[tuple[float, int, int]] = []  # (epoch, account index, processing)
        self._stop_event = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            while not self._stop_event.is_set():
                for i, key in enumerate(self.keys):
                    try:
                        r = client.get(
                            "/v2/transcript",
                            params={"status": "processing", "limit": 200},
                            headers={"Authorization": key},
                        )
                        r.raise_for_status()
                        n = len(r.json()["transcripts"])
                    except httpx.HTTPError:
                        self.errors += 1
                        continue
                    self.samples[i] += 1
                    self.max_seen[i] = max(self.max_seen[i], n)
                    self.timeline.append((time.time(), i, n))

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=30)


def exact_max_processing(rows: list[dict[str, Any]], account_ids: list[str]) -> list[int]:
    """From started/completed timestamps: the most jobs of each account ever processing at once."""
    events: dict[str, list[tuple[float, int]]] = {a: [] for a in account_ids}
    for row in rows:
        if row["account_id"] in events and row["started_at"] is not None and row["completed_at"] is not None:
            events[row["account_id"]].append((_epoch(row["started_at"]), 1))
            events[row["account_id"]].append((_epoch(row["completed_at"]), -1))
    out = []
    for a in account_ids:
        running = peak = 0
        for _, delta in sorted(events[a]):  # at equal times -1 sorts first: [start, end) intervals
            running += delta
            peak = max(peak, running)
        out.append(peak)
    return out


def run_mock(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    rng = random.Random(args.seed)
    tiers = ["free" if i % 2 == 0 else "paid" for i in range(args.accounts)]
    limits = [FREE_LIMIT if t == "free" else PAID_LIMIT for t in tiers]
    weights = [1.0 if args.uniform else 1.0 / (i + 1) for i in range(args.accounts)]
    plan = rng.choices(range(args.accounts), weights=weights, k=args.jobs)
    per_account = [plan.count(i) for i in range(args.accounts)]
    short = tmp / "one_second.wav"
    crop_to_wav(SHORT_CLIP, short, 1.0)
    data = short.read_bytes()
    overrides = {
        "LOCALSCRIBE_ENGINE": "mock",
        "LOCALSCRIBE_MOCK_DELAY_S": str(args.mock_delay),
        "LOCALSCRIBE_MOCK_RTF": "0",
        "LOCALSCRIBE_WORKERS": str(args.workers),
        "LOCALSCRIBE_POLL_INTERVAL_S": "0.2",
        "LOCALSCRIBE_FREE_ASYNC_LIMIT": str(FREE_LIMIT),
        "LOCALSCRIBE_PAID_ASYNC_LIMIT": str(PAID_LIMIT),
    }
    log_name = f"throughput_mock_{'postgres' if args.postgres else 'sqlite'}"
    with database(args.postgres) as db_url, running_server(db_url, log_name=log_name, **overrides) as srv:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            keys = list(
                pool.map(
                    lambda i: create_key(srv, name=f"bench-{i}-{tiers[i]}", tier=tiers[i]),
                    range(args.accounts),
                )
            )
        print(f"(a) {args.accounts} accounts created with the CLI in {time.perf_counter() - t0:.1f}s")
        urls = []
        with httpx.Client(base_url=srv.url, timeout=30) as client:
            for key in keys:
                client.headers["Authorization"] = key
                urls.append(upload(client, data))
            client.headers["Authorization"] = keys[0]
            account_ids = _account_ids(srv, keys)

        sampler = ProcessingSampler(srv.url, keys)
        sampler.start()
        local = threading.local()
        latencies: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()

        def send(i: int) -> str | None:
            client: httpx.Client | None = getattr(local, "client", None)
            if client is None:
                client = local.client = httpx.Client(base_url=srv.url, timeout=60)
            a = plan[i]
            t = time.perf_counter()
            try:
                r = client.post(
                    "/v2/transcript", json={"audio_url": urls[a]}, headers={"Authorization": keys[a]}
                )
                r.raise_for_status()
                tid = str(r.json()["id"])
            except httpx.HTTPStatusError as exc:
                with lock:
                    failures.append(f"{exc.response.status_code} {exc.response.text[:200]}")
                return None
            except httpx.HTTPError as exc:
                with lock:
                    failures.append(repr(exc))
                return None
            with lock:
                latencies.append(time.perf_counter() - t)
            return tid

        assert srv.proc is not None
        pids = [os.getpid(), srv.proc.pid]
        wait_for_quiet(pids, args.quiet_share, timeout_s=args.quiet_timeout)
        print(f"(a) sending {args.jobs} jobs from {args.threads} threads ...", flush=True)
        meter = CpuMeter(pids).__enter__()
        c0_epoch, c0 = time.time(), time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            ids = [tid for tid in pool.map(send, range(args.jobs)) if tid]
        create_wall = time.perf_counter() - c0
        print(f"(a) created {len(ids)} in {create_wall:.1f}s; waiting for completion ...", flush=True)
        db = server_db_url(srv)
        deadline = time.monotonic() + max(600.0, args.jobs * args.mock_delay * 2)
        while time.monotonic() < deadline:
            rows = job_times(db)
            if all(r["status"] in ("completed", "error") for r in rows if r["account_id"] in account_ids):
                break
            time.sleep(0.5)
        done_wall = time.perf_counter() - c0
        meter.__exit__(None, None, None)
        sampler.stop()
        rows = [r for r in job_times(db) if r["account_id"] in account_ids]

    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    completed = sorted(_epoch(r["completed_at"]) for r in rows if r["completed_at"] is not None)
    created = sorted(_epoch(r["created_at"]) for r in rows)
    first_created = created[0]
    span = completed[-1] - first_created
    busy = sum(
        _epoch(r["completed_at"]) - _epoch(r["started_at"])
        for r in rows
        if r["started_at"] and r["completed_at"]
    )
    # steady state: the middle of the run (10th to 60th percentile of completions), before the tail where
    # only the heaviest (free, limit 5) account has work left and fewer than WORKERS jobs may run
    lo, hi = completed[len(completed) // 10], completed[(len(completed) * 6) // 10]
    steady = ((len(completed) * 6) // 10 - len(completed) // 10) / (hi - lo) if hi > lo else float("nan")
    exact = exact_max_processing(rows, account_ids)
    accounts = [
        {
            "account": i,
            "tier": tiers[i],
            "limit": limits[i],
            "jobs": per_account[i],
            "max_processing_sampled": sampler.max_seen[i],
            "samples": sampler.samples[i],
            "max_processing_exact": exact[i],
            "within_limit": max(sampler.max_seen[i], exact[i]) <= limits[i],
        }
        for i in range(args.accounts)
    ]
    summary = {
        "jobs": args.jobs,
        "created_ok": len(ids),
        "create_failures": len(failures),
        "statuses": statuses,
        "create_wall_s": create_wall,
        "created_jobs_per_s": len(ids) / create_wall,
        "create_latency_p50_ms": percentile(latencies, 50) * 1000,
        "create_latency_p99_ms": percentile(latencies, 99) * 1000,
        "create_latency_max_ms": max(latencies) * 1000 if latencies else float("nan"),
        "completion_wall_s": span,
        "completed_jobs_per_s": len(completed) / span,
        "completed_jobs_per_s_steady": steady,
        "ideal_jobs_per_s": args.workers / args.mock_delay,
        "worker_utilisation": busy / (args.workers * span),
        "mean_job_busy_s": busy / max(1, len(completed)),
        "sampler_requests": sum(sampler.samples),
        "sampler_errors": sampler.errors,
        "limits_respected": all(a["within_limit"] for a in accounts),
        "bench_wall_s": done_wall,
        "server_cpu_s": meter.result["cpu_s_pid1"],
        "client_cpu_s": meter.result["cpu_s_pid0"],
        "foreign_share": meter.result["foreign_share"],
    }
    timeline = {
        "created_s": [c - c0_epoch for c in created],
        "completed_s": [c - c0_epoch for c in completed],
    }
    return {
        "settings": overrides,
        "threads": args.threads,
        "database": "postgresql" if args.postgres else "sqlite",
        "distribution": "uniform" if args.uniform else "zipf 1/(i+1)",
        "summary": summary,
        "accounts": accounts,
        "timeline": timeline,
        "failures_head": failures[:5],
        "server_errors_retried": list(SERVER_ERRORS.seen),
    }


def _account_ids(srv: Any, keys: list[str]) -> list[str]:
    """Account id of each key, via one transcript-free look at the database (read only)."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from server.db.models import ApiKey
    from server.services.accounts import hash_key

    engine = create_engine(server_db_url(srv))
    try:
        with Session(engine) as db:
            found = {h: a for h, a in db.execute(select(ApiKey.key_hash, ApiKey.account_id))}
    finally:
        engine.dispose()
    return [found[hash_key(k)] for k in keys]


def print_mock(res: dict[str, Any]) -> None:
    s = res["summary"]
    print_table(
        f"(a) mock engine, {res['database']}, {s['jobs']} jobs, "
        f"WORKERS={res['settings']['LOCALSCRIBE_WORKERS']}, "
        f"delay {res['settings']['LOCALSCRIBE_MOCK_DELAY_S']}s, {res['threads']} client threads",
        ["metric", "value"],
        [
            ["created OK / failed", f"{s['created_ok']} / {s['create_failures']}"],
            ["final statuses", ", ".join(f"{k}={v}" for k, v in sorted(s["statuses"].items()))],
            ["created jobs/s", s["created_jobs_per_s"]],
            ["create latency p50 ms", s["create_latency_p50_ms"]],
            ["create latency p99 ms", s["create_latency_p99_ms"]],
            ["create latency max ms", s["create_latency_max_ms"]],
            ["completed jobs/s (first create..last complete)", s["completed_jobs_per_s"]],
            ["completed jobs/s, steady state (10-60% of completions)", s["completed_jobs_per_s_steady"]],
            ["ideal jobs/s (workers / delay)", s["ideal_jobs_per_s"]],
            ["worker utilisation", s["worker_utilisation"]],
            ["mean job busy s (started..completed)", s["mean_job_busy_s"]],
            ["sampler list requests", s["sampler_requests"]],
            ["limits respected", s["limits_respected"]],
            ["CPU s server / client (bench)", f"{s['server_cpu_s']:.1f} / {s['client_cpu_s']:.1f}"],
            ["share of CPUs used by other processes", f"{s['foreign_share']:.0%}"],
        ],
    )
    print_table(
        "(a) per account: largest `processing` count vs limit",
        ["account", "tier", "limit", "jobs", "max sampled", "samples", "max exact (DB)", "ok"],
        [
            [
                a["account"],
                a["tier"],
                a["limit"],
                a["jobs"],
                a["max_processing_sampled"],
                a["samples"],
                a["max_processing_exact"],
                "yes" if a["within_limit"] else "NO",
            ]
            for a in res["accounts"]
        ],
    )


# --- (b) real engine: audio hours per wall hour ---------------------------------------------------------


def transcribe_direct_loop(
    model: str, files: list[Path], quiet_share: float, quiet_timeout: float, where: str
) -> dict[str, Any]:
    from faster_whisper import decode_audio

    whisper = load_whisper(model, where)

    def one(path: Path) -> int:
        audio = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
        segments, _ = whisper.transcribe(
            audio,
            language="en",
            beam_size=5,
            word_timestamps=True,
            vad_filter=False,
            condition_on_previous_text=True,
            temperature=SERVER_TEMPERATURES,
        )
        return sum(len(s.words or []) for s in segments)

    one(files[0])  # warm-up, untimed (the server gets one too)
    wait_for_quiet([os.getpid()], quiet_share, timeout_s=quiet_timeout)
    per_file = []
    words = 0
    with CpuMeter([os.getpid()]) as meter:
        t0 = time.perf_counter()
        for path in files:
            t = time.perf_counter()
            words += one(path)
            per_file.append(time.perf_counter() - t)
        wall = time.perf_counter() - t0
    return {
        "wall_s": wall,
        "per_file_s": per_file,
        "words": words,
        "cpu_s": meter.result["own_cpu_s"],
        "foreign_share": meter.result["foreign_share"],
    }


def transcribe_server_batch(
    model: str,
    files: list[Path],
    workers: int,
    cpu_threads: int,
    db_url: str | None,
    quiet_share: float,
    quiet_timeout: float,
    poll_s: float,
) -> dict[str, Any]:
    overrides = {
        "LOCALSCRIBE_ENGINE": "whisper",
        "LOCALSCRIBE_MODEL": model,
        "LOCALSCRIBE_MODELS_DIR": str(MODELS_DIR),
        "LOCALSCRIBE_WORKERS": str(workers),
        "LOCALSCRIBE_CPU_THREADS": str(cpu_threads),
        "LOCALSCRIBE_DEVICE": "cpu",
        "LOCALSCRIBE_COMPUTE_TYPE": "int8",
        "LOCALSCRIBE_BEAM_SIZE": "5",
        "LOCALSCRIBE_POLL_INTERVAL_S": "0.2",
    }
    speech_models = [API_NAME_FOR_MODEL.get(model, model)]
    log_name = f"throughput_real_w{workers}_t{cpu_threads}{'_postgres' if db_url else ''}"
    errors_before = len(SERVER_ERRORS.seen)
    with running_server(db_url, log_name=log_name, **overrides) as srv:
        local = threading.local()

        def one(path: Path) -> tuple[str, int]:
            client: httpx.Client | None = getattr(local, "client", None)
            if client is None:
                client = local.client = httpx.Client(
                    base_url=srv.url, headers={"Authorization": API_KEY}, timeout=120
                )
            tid = create_transcript(client, upload(client, path.read_bytes()), speech_models)
            body = wait_transcript(client, tid, poll_s=poll_s)
            return tid, len(body.get("words") or [])

        assert srv.proc is not None
        pids = [os.getpid(), srv.proc.pid]
        with ThreadPoolExecutor(min(len(files), 16)) as pool:
            list(pool.map(one, files[:workers]))  # warm-up: every worker runs one job, untimed
            wait_for_quiet(pids, quiet_share, timeout_s=quiet_timeout)
            with CpuMeter(pids) as meter:
                t0 = time.perf_counter()
                results = list(pool.map(one, files))
                wall = time.perf_counter() - t0
        rows = job_times(server_db_url(srv), [tid for tid, _ in results])
    busy = [_epoch(r["completed_at"]) - _epoch(r["started_at"]) for r in rows]
    return {
        "settings": overrides,
        "wall_s": wall,
        "words": sum(n for _, n in results),
        "job_processing_s_median": median(busy),
        "statuses": sorted({r["status"] for r in rows}),
        "cpu_s": meter.result["cpu_s_pid1"],
        "client_cpu_s": meter.result["cpu_s_pid0"],
        "foreign_share": meter.result["foreign_share"],
        "server_errors_retried": SERVER_ERRORS.seen[errors_before:],
    }


def run_real(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    clip = tmp / f"crop_{int(args.seconds)}s.wav"
    seconds = crop_to_wav(args.clip, clip, args.seconds)
    files = [clip] * args.files  # the same crop n times: every job does the same work
    audio_s = seconds * args.files
    n = os.cpu_count() or 1
    print(f"(b) {args.files} x {seconds:.1f}s of {args.clip.name}, model {args.model}", flush=True)
    runs: list[dict[str, Any]] = []
    d = transcribe_direct_loop(args.model, files, args.quiet_share, args.quiet_timeout, args.direct_load)
    runs.append({"label": "direct loop", "workers": None, "cpu_threads": 0, "load": args.direct_load, **d})
    print(f"(b) direct loop: {d['wall_s']:.1f}s", flush=True)
    configs = [(w, 0) for w in args.worker_counts]
    if n > 1:
        configs.append((n, 1))  # N jobs at once, one CTranslate2 thread each: no oversubscription
    with database(args.postgres) as db_url:
        for workers, threads in configs:
            r = transcribe_server_batch(
                args.model, files, workers, threads, db_url, args.quiet_share, args.quiet_timeout, args.poll
            )
            label = f"server W={workers}" + (f" T={threads}" if threads else "")
            runs.append({"label": label, "workers": workers, "cpu_threads": threads, **r})
            print(f"(b) {label}: {r['wall_s']:.1f}s", flush=True)
    base = runs[0]["wall_s"]
    for r in runs:
        r["audio_h_per_wall_h"] = audio_s / r["wall_s"]
        r["rtf"] = r["wall_s"] / audio_s
        r["vs_direct"] = base / r["wall_s"]
    return {
        "model": args.model,
        "files": args.files,
        "clip_s": seconds,
        "audio_s": audio_s,
        "client_poll_s": args.poll,
        "runs": runs,
    }


def print_real(res: dict[str, Any]) -> None:
    print_table(
        f"(b) real engine {res['model']} int8: {res['files']} x {res['clip_s']:.0f}s "
        f"= {res['audio_s'] / 60:.1f} min of audio",
        [
            "run",
            "wall s",
            "audio-h / wall-h",
            "RTF",
            "vs direct",
            "job processing s (median)",
            "CPU s",
            "others %",
            "5xx retried",
        ],
        [
            [
                r["label"],
                r["wall_s"],
                r["audio_h_per_wall_h"],
                r["rtf"],
                r["vs_direct"],
                r.get("job_processing_s_median", "-"),
                r["cpu_s"],
                f"{r['foreign_share']:.0%}",
                len(r.get("server_errors_retried", [])),
            ]
            for r in res["runs"]
        ],
    )


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
