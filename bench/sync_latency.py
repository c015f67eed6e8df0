"""Sync and Dictation API latency: time from the last byte of the upload to the response (issue 22).

Utterances of 2, 5 and 15 s are cut from the LJSpeech long-form fixture (16 kHz mono PCM16 WAV). Paths:

* buffered: `POST /v1/transcribe` with the whole clip at once (Pipecat's `AssemblyAISyncSTTService`);
* live: `POST /v1/transcribe/live`, raw PCM in 50 ms chunks at real-time pace (the SDK's `transcribe_live`
  fed by a microphone): the server decodes finished segments while the audio is still arriving;
* dictation: the same live upload to `/dictation/v1/transcribe/live` (always the multilingual model).

"Last byte" is the moment the client handed the closing boundary to the socket. Each point runs with the node
idle and again with async jobs (`POST /v2/transcript`, the long-form clip) running on the same node. Then the
capacity sweep: N clients send 2 s buffered requests back to back; successful requests per second, 429s and
the p95 of the successes, for N past `LOCALSCRIBE_SYNC_MAX_CONCURRENT`. The machine is shared: every point
reports how much of the CPUs other processes used while it ran (`foreign_share`) and the load average.

    .venv/bin/python bench/sync_latency.py [--quick] [--models tiny.en,base] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from _common import (
    API_KEY,
    DOCS_DIR,
    LONG_CLIP,
    CpuMeter,
    crop_to_wav,
    git_state,
    machine_info,
    percentile,
    print_table,
    pyplot,
    running_server,
    write_json,
)

MODEL_HEADER = {"tiny.en": "nano", "base": "universal-3-5-pro"}
BOUNDARY = "benchboundary"


def _multipart_head(config: dict[str, Any], content_type: str) -> bytes:
    config_part = 'Content-Disposition: form-data; name="config"\r\nContent-Type: application/json'
    audio_part = (
        f'Content-Disposition: form-data; name="audio"; filename="clip"\r\nContent-Type: {content_type}'
    )
    return (
        f"--{BOUNDARY}\r\n{config_part}\r\n\r\n{json.dumps(config)}\r\n--{BOUNDARY}\r\n{audio_part}\r\n\r\n"
    ).encode()


def one_request(
    url: str, path: str, pcm: bytes, wav: bytes, *, mode: str, model: str | None
) -> dict[str, Any]:
    """Latency from the last byte to the response, in seconds, and the status."""
    marks: dict[str, float] = {}
    if mode == "buffered":
        parts = [_multipart_head({}, "audio/wav"), wav]
        pace = 0.0
    else:
        parts = [_multipart_head({"sample_rate": 16000, "channels": 1}, "audio/pcm")]
        parts += [pcm[i : i + 1600] for i in range(0, len(pcm), 1600)]  # 50 ms
        pace = 0.05

    def body():  # noqa: ANN202
        for i, part in enumerate(parts):
            if pace and i > 1:
                time.sleep(pace)
            yield part
        yield f"\r\n--{BOUNDARY}--\r\n".encode()
        marks["last"] = time.perf_counter()  # runs once the closing bytes were written

    headers = {"Authorization": API_KEY, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    if model:
        headers["X-AAI-Model"] = model
    response = httpx.post(url + path, content=body(), headers=headers, timeout=300)
    done = time.perf_counter()
    return {
        "status": response.status_code,
        "latency_s": done - marks.get("last", done),
        "body": response.text,
    }


class AsyncLoad:
    """Keeps `jobs` async transcriptions of the long-form clip running on the node until stopped."""

    def __init__(self, url: str, jobs: int, model: str) -> None:
        self.url, self.jobs, self.model = url, jobs, model
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(jobs)]
        self.completed = 0

    def __enter__(self) -> AsyncLoad:
        with httpx.Client(headers={"Authorization": API_KEY}, timeout=120) as c:
            self.upload = c.post(self.url + "/v2/upload", content=LONG_CLIP.read_bytes()).json()["upload_url"]
        for t in self.threads:
            t.start()
        time.sleep(2)  # let the workers pick the jobs up
        return self

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, headers={"Authorization": API_KEY}, timeout=60) as c:
            while not self.stop.is_set():
                body = {"audio_url": self.upload, "speech_models": [self.model]}
                tid = c.post("/v2/transcript", json=body).json()["id"]
                while not self.stop.is_set():
                    if c.get(f"/v2/transcript/{tid}").json()["status"] in ("completed", "error"):
                        self.completed += 1
                        break
                    time.sleep(0.5)
                else:
                    c.delete(f"/v2/transcript/{tid}")

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=120)


def latency_points(
    url: str, pid: int, clips: dict[float, tuple[bytes, bytes]], models: list[str], reps: int, load: str
) -> list[dict[str, Any]]:
    points = []
    for model in models:
        modes = [("buffered", "/v1/transcribe"), ("live", "/v1/transcribe/live")]
        if model == "base":
            modes.append(("dictation", "/dictation/v1/transcribe/live"))
        for mode, path in modes:
            header = None if mode == "dictation" else MODEL_HEADER[model]
            for seconds, (pcm, wav) in clips.items():
                one_request(url, path, pcm[: 16000 * 2], wav, mode="buffered", model=header)  # warm
                runs = []
                with CpuMeter([pid]) as meter:
                    for _ in range(reps):
                        run = one_request(
                            url, path, pcm, wav, mode="live" if mode != "buffered" else mode, model=header
                        )
                        assert run["status"] == 200, run["body"]
                        runs.append(run["latency_s"])
                point = {
                    "model": model,
                    "mode": mode,
                    "utterance_s": seconds,
                    "load": load,
                    "reps": reps,
                    "p50_ms": percentile(runs, 50) * 1000,
                    "p95_ms": percentile(runs, 95) * 1000,
                    "foreign_share": meter.result["foreign_share"],
                    "loadavg_1m": os.getloadavg()[0],
                }
                print(
                    f"  {model:7} {mode:9} {seconds:>4g} s {load:5}: p50 {point['p50_ms']:.0f} ms, "
                    f"p95 {point['p95_ms']:.0f} ms (others used {point['foreign_share']:.0%} of the CPUs)",
                    flush=True,
                )
                points.append(point)
    return points


def _client(
    url: str, pcm: bytes, wav: bytes, model: str, deadline: float, results: list[dict[str, Any]]
) -> None:
    """One client sending 2 s buffered requests back to back; after a 429 it waits 200 ms."""
    while time.perf_counter() < deadline:
        run = one_request(url, "/v1/transcribe", pcm, wav, mode="buffered", model=MODEL_HEADER[model])
        results.append(run)
        if run["status"] == 429:
            time.sleep(0.2)


def capacity_sweep(
    url: str, pid: int, pcm: bytes, wav: bytes, clients: list[int], seconds_each: float, model: str
) -> list[dict[str, Any]]:
    points = []
    for n in clients:
        results: list[dict[str, Any]] = []
        deadline = time.perf_counter() + seconds_each
        with CpuMeter([pid]) as meter, ThreadPoolExecutor(n) as pool:
            for _ in range(n):
                pool.submit(_client, url, pcm, wav, model, deadline, results)
        ok = [r["latency_s"] for r in results if r["status"] == 200]
        point = {
            "clients": n,
            "ok": len(ok),
            "rejected_429": sum(r["status"] == 429 for r in results),
            "ok_per_s": len(ok) / meter.result["wall_s"],
            "p50_ms": percentile(ok, 50) * 1000 if ok else None,
            "p95_ms": percentile(ok, 95) * 1000 if ok else None,
            "foreign_share": meter.result["foreign_share"],
            "loadavg_1m": os.getloadavg()[0],
        }
        print(
            f"  {n:2} clients: {point['ok_per_s']:.2f} ok/s, {point['rejected_429']} x 429, "
            f"p95 {point['p95_ms'] or 0:.0f} ms",
            flush=True,
        )
        points.append(point)
    return points


def plot(points: list[dict[str, Any]], target: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, load in zip(axes, ("idle", "async"), strict=True):
        for key in sorted({(p["model"], p["mode"]) for p in points}):
            series = sorted(
                (p["utterance_s"], p["p50_ms"])
                for p in points
                if (p["model"], p["mode"]) == key and p["load"] == load
            )
            if series:
                ax.plot(*zip(*series, strict=True), marker="o", label=f"{key[0]} {key[1]}")
        ax.set_title(f"last byte → response, p50 ({load})")
        ax.set_xlabel("utterance (s)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("ms")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(target, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="one 2 s utterance, tiny.en, one rep (CI)")
    p.add_argument("--models", default="tiny.en,base")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--clients", default="1,4,8,12,16")
    p.add_argument("--lengths", default="2,5,15", help="utterance lengths (s)")
    p.add_argument("--sweep-s", type=float, default=15.0, help="seconds per capacity point")
    p.add_argument("--sweep-only", action="store_true", help="only the capacity sweep")
    p.add_argument("--capacity", type=int, default=8, help="LOCALSCRIBE_SYNC_MAX_CONCURRENT")
    p.add_argument("--job-nice", type=int, default=None, help="LOCALSCRIBE_JOB_DECODE_NICE")
    args = p.parse_args()
    lengths = [2.0] if args.quick else [float(n) for n in args.lengths.split(",")]
    models = ["tiny.en"] if args.quick else args.models.split(",")
    reps = 1 if args.quick else args.reps

    clips: dict[float, tuple[bytes, bytes]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in sorted({*lengths, 2.0}):  # 2 s: the capacity sweep's utterance
            target = Path(tmp) / f"{seconds:g}.wav"
            crop_to_wav(LONG_CLIP, target, seconds, start_s=30.0)
            with wave.open(str(target)) as w:
                clips[seconds] = (w.readframes(w.getnframes()), target.read_bytes())

    with running_server(
        log_name="sync_latency",
        LOCALSCRIBE_ENGINE="whisper",
        LOCALSCRIBE_MODEL="base",
        LOCALSCRIBE_WORKERS="1",
        LOCALSCRIBE_SYNC_MAX_CONCURRENT=str(args.capacity),
        LOCALSCRIBE_MODELS_DIR=str(Path(__file__).resolve().parents[1] / "models"),
        **({} if args.job_nice is None else {"LOCALSCRIBE_JOB_DECODE_NICE": str(args.job_nice)}),
    ) as server:
        url, pid = server.url, server.proc.pid
        for model in models:
            httpx.get(
                url + "/v1/warm",
                headers={"Authorization": API_KEY, "X-AAI-Model": MODEL_HEADER[model]},
                timeout=300,
            )
        timed = {s: clips[s] for s in lengths}
        print("idle node:", flush=True)
        points = [] if args.sweep_only else latency_points(url, pid, timed, models, reps, "idle")
        partial = "sync_latency_quick.json" if args.quick else "sync_latency.partial.json"
        write_json(partial, {"quick": args.quick, "points": points})  # a long run keeps what it measured
        if not args.quick and not args.sweep_only:
            print("with async jobs running:", flush=True)
            with AsyncLoad(url, 1, "universal-2"):
                points += latency_points(url, pid, timed, models, reps, "async")
            write_json(partial, {"quick": args.quick, "points": points})
        print("capacity sweep (tiny.en, 2 s buffered):", flush=True)
        clients = [1, 2] if args.quick else [int(n) for n in args.clients.split(",")]
        pcm2, wav2 = clips[2.0]
        capacity = capacity_sweep(
            url, pid, pcm2, wav2, clients, 5.0 if args.quick else args.sweep_s, "tiny.en"
        )

    print_table(
        "Sync API: last byte → response (ms)",
        ["model", "path", "utterance s", "load", "p50", "p95", "others' CPU"],
        [
            [
                p["model"],
                p["mode"],
                p["utterance_s"],
                p["load"],
                f"{p['p50_ms']:.0f}",
                f"{p['p95_ms']:.0f}",
                f"{p['foreign_share']:.0%}",
            ]
            for p in points
        ],
    )
    print_table(
        f"capacity sweep (bound {args.capacity})",
        ["clients", "ok/s", "429s", "p50 ms", "p95 ms", "others' CPU"],
        [
            [
                c["clients"],
                f"{c['ok_per_s']:.2f}",
                c["rejected_429"],
                f"{c['p50_ms'] or 0:.0f}",
                f"{c['p95_ms'] or 0:.0f}",
                f"{c['foreign_share']:.0%}",
            ]
            for c in capacity
        ],
    )
    result = {
        "quick": args.quick,
        "models": models,
        "utterances_s": lengths,
        "reps": reps,
        "capacity": args.capacity,
        "points": points,
        "capacity_sweep": capacity,
        "machine": machine_info(),
        "git": git_state(),
    }
    name = "sync_latency_quick.json" if args.quick else "sync_latency.json"
    write_json(name.replace(".json", "_sweep.json") if args.sweep_only else name, result)
    if not args.quick and points:
        plot(points, DOCS_DIR / "sync_latency.png")


if __name__ == "__main__":
    main()
