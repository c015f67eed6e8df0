"""Part (a) of bench/throughput.py: the queue and the per-account limits, with the mock engine."""

from __future__ import annotations

import argparse
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from _common import (
    SERVER_ERRORS,
    SHORT_CLIP,
    CpuMeter,
    create_key,
    crop_to_wav,
    database,
    epoch,
    job_times,
    percentile,
    print_table,
    running_server,
    server_db_url,
    upload,
    wait_for_quiet,
)

FREE_LIMIT, PAID_LIMIT = 5, 32  # the tier defaults (LOCALSCRIBE_FREE/PAID_ASYNC_LIMIT)


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
            events[row["account_id"]].append((epoch(row["started_at"]), 1))
            events[row["account_id"]].append((epoch(row["completed_at"]), -1))
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
    completed = sorted(epoch(r["completed_at"]) for r in rows if r["completed_at"] is not None)
    created = sorted(epoch(r["created_at"]) for r in rows)
    first_created = created[0]
    span = completed[-1] - first_created
    busy = sum(
        epoch(r["completed_at"]) - epoch(r["started_at"])
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
