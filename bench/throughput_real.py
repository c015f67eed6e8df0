"""Part (b) of bench/throughput.py: audio hours per wall-clock hour, direct vs the server."""

from __future__ import annotations

import argparse
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from _common import (
    API_KEY,
    API_NAME_FOR_MODEL,
    MODELS_DIR,
    SAMPLE_RATE,
    SERVER_ERRORS,
    CpuMeter,
    create_transcript,
    crop_to_wav,
    database,
    epoch,
    job_times,
    load_whisper,
    median,
    print_table,
    running_server,
    server_db_url,
    transcribe_like_server,
    upload,
    wait_for_quiet,
    wait_transcript,
)

# --- (b) real engine: audio hours per wall hour ---------------------------------------------------------


def transcribe_direct_loop(
    model: str, files: list[Path], quiet_share: float, quiet_timeout: float, where: str
) -> dict[str, Any]:
    from faster_whisper import decode_audio

    whisper = load_whisper(model, where)

    def one(path: Path) -> int:
        return len(transcribe_like_server(whisper, decode_audio(str(path), sampling_rate=SAMPLE_RATE)))

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
    busy = [epoch(r["completed_at"]) - epoch(r["started_at"]) for r in rows]
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
