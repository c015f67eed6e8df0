"""Real-time factor of one long file: faster-whisper called directly vs the same model behind LocalScribe.

In one run, for one clip (default: the 237 s LJSpeech long-form FLAC):

* direct sequential: ``WhisperModel(models/<model>, device=cpu, compute_type=int8)`` built once on a helper
  thread; each repeat times ``faster_whisper.decode_audio`` + ``transcribe(...)`` + consuming every segment
  and word, with the options the server's sequential path uses for a plain English request (language en,
  beam 5, word timestamps, temperature fallback, condition_on_previous_text).
* direct batched: the same model through ``BatchedInferencePipeline`` with the options of the server's
  batched path (VAD chunks, batch ``--batch-size``, beam ``--batch-beam-size``, first temperature only).
* server: ``localscribe serve`` (engine whisper, WORKERS=1) started once and waited on until ``/ready``
  (model loaded); each repeat times upload -> create -> poll every 0.1 s until ``completed``. The server
  picks its path per job (server/engine/whisper.py ``batches``); the long clip takes the batched one.

Repeats rotate the order of the three paths. With the long clip, each path's WER against its reference
transcript (tests/data/manifest.json) is reported. The server's side is split with its own database timestamps
(created/started/completed) into upload, queue wait (worker poll), processing and poll lag.

    .venv/bin/python bench/async_rtf.py [--quick] [--clip PATH] [--model base|tiny.en] [--repeats N]
        [--batch-size 8] [--batch-beam-size N] [--compute-type int8] [--threads 0]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
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
    SHORT_CLIP,
    CpuMeter,
    add_quiet_args,
    audio_duration,
    create_transcript,
    crop_to_wav,
    job_times,
    load_whisper,
    machine_info,
    median,
    print_table,
    pyplot,
    running_server,
    server_db_url,
    transcribe_like_server,
    upload,
    wait_for_quiet,
    wait_transcript,
    write_json,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clip", type=Path, default=None, help=f"audio file (default {LONG_CLIP.name})")
    p.add_argument("--model", default="base", help="local model name: base (default) or tiny.en")
    p.add_argument(
        "--server-model",
        default=None,
        help="the server's LOCALSCRIBE_MODEL (default: --model). A different one makes the server load "
        "--model lazily, on its job thread, at the (untimed) warm-up job",
    )
    p.add_argument("--repeats", type=int, default=None, help="timed runs of each path (default 2)")
    p.add_argument(
        "--direct-load",
        choices=("thread", "main"),
        default="thread",
        help="build the direct WhisperModel on a helper thread like the server does (default), or on the "
        "main thread like a naive script; see docs/benchmarks.md for why this matters",
    )
    p.add_argument("--batch-size", type=int, default=8, help="batched paths' batch size (server and direct)")
    p.add_argument(
        "--batch-beam-size",
        type=int,
        default=None,
        help="batched paths' beam (server and direct; default: the server's CPU default, BATCH_BEAM_SIZE)",
    )
    p.add_argument("--compute-type", default="int8", help="CTranslate2 compute type, all paths")
    p.add_argument("--threads", type=int, default=0, help="CTranslate2 cpu_threads, all paths (0: default)")
    p.add_argument("--poll", type=float, default=0.1, help="client poll interval in seconds")
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed 10 s warm-up of both paths")
    add_quiet_args(p)
    p.add_argument("--quick", action="store_true", help="CI-sized: jfk.flac (11 s), tiny.en, 1 repeat")
    p.add_argument("--plot", type=Path, default=None, help="PNG path (default docs/async_rtf.png)")
    p.add_argument(
        "--replot", action="store_true", help="only redraw the PNG from the JSON of an earlier run (--out)"
    )
    p.add_argument("--out", default=None, help="JSON name under bench/results/ (default async_rtf.json)")
    args = p.parse_args(argv)
    if args.quick:
        args.clip = args.clip or SHORT_CLIP
        args.repeats = args.repeats or 1
        if args.model == "base":
            args.model = "tiny.en"
    args.clip = args.clip or LONG_CLIP
    args.repeats = args.repeats or 2
    from server.engine.whisper import BATCH_BEAM_SIZE

    # stated to the server (LOCALSCRIBE_BEAM_SIZE=5 alone would make it every path's beam)
    args.batch_beam_size = args.batch_beam_size or BATCH_BEAM_SIZE["cpu"] or 5
    if args.quiet_timeout is None:
        args.quiet_timeout = 2.0 if args.quick else 300.0
    suffix = "_quick" if args.quick else ""
    # a quick run's plot stays out of docs/ (it is not the documented measurement)
    default_plot = RESULTS_DIR / "async_rtf_quick.png" if args.quick else DOCS_DIR / "async_rtf.png"
    args.plot = args.plot or default_plot
    args.out = args.out or f"async_rtf{suffix}.json"
    return args


# --- direct ---------------------------------------------------------------------------------------------


def load_direct(model: str, where: str, compute_type: str, threads: int) -> Any:
    t0 = time.perf_counter()
    whisper = load_whisper(model, where, compute_type, threads)
    where_text = "a helper thread" if where == "thread" else "the main thread"
    print(f"direct: loaded {model} on {where_text} in {time.perf_counter() - t0:.2f}s")
    return whisper


def transcribe_direct(
    whisper: Any, clip: Path, pids: list[int], batch_size: int = 0, batch_beam_size: int | None = None
) -> dict[str, Any]:
    """decode_audio + transcribe + consume every segment, as the server's engine does (batched when
    `batch_size` is set)."""
    with CpuMeter(pids) as meter:
        out = _transcribe_direct(whisper, clip, batch_size, batch_beam_size)
    out["cpu_s"] = meter.result["cpu_s_pid0"]  # this process: faster-whisper and CTranslate2 threads
    out["server_idle_cpu_s"] = meter.result["cpu_s_pid1"]
    out["foreign_share"] = meter.result["foreign_share"]
    return out


def _transcribe_direct(
    whisper: Any, clip: Path, batch_size: int, batch_beam_size: int | None
) -> dict[str, Any]:
    from faster_whisper import decode_audio

    t0 = time.perf_counter()
    audio = decode_audio(str(clip), sampling_rate=SAMPLE_RATE)
    t_decoded = time.perf_counter()
    words = transcribe_like_server(whisper, audio, batch_size, batch_beam_size)
    t_done = time.perf_counter()
    return {
        "wall_s": t_done - t0,
        "decode_s": t_decoded - t0,
        "words": len(words),
        "text": " ".join(words),
    }


# --- server ---------------------------------------------------------------------------------------------


def _epoch(dt: datetime | None) -> float | None:
    return dt.replace(tzinfo=timezone.utc).timestamp() if dt else None


def transcribe_server(
    client: httpx.Client, db_url: str, clip: Path, model: str, poll_s: float, pids: list[int]
) -> dict[str, Any]:
    data = clip.read_bytes()
    speech_models = [API_NAME_FOR_MODEL.get(model, model)]
    with CpuMeter(pids) as meter:
        t0 = time.perf_counter()
        audio_url = upload(client, data)
        t_uploaded = time.perf_counter()
        tid = create_transcript(client, audio_url, speech_models)
        t_created = time.perf_counter()
        body = wait_transcript(client, tid, poll_s=poll_s)
        t_done = time.perf_counter()
        done_epoch = time.time()
    row = job_times(db_url, [tid])[0]
    created, started, completed = (_epoch(row[k]) for k in ("created_at", "started_at", "completed_at"))
    assert created is not None and started is not None and completed is not None
    return {
        "id": tid,
        "wall_s": t_done - t0,
        "upload_s": t_uploaded - t0,
        "create_s": t_created - t_uploaded,
        "after_upload_s": t_done - t_uploaded,
        "queue_wait_s": started - created,  # worker poll interval + claim
        "processing_s": completed - started,  # probe + decode + engine + formatting + result write
        "poll_lag_s": done_epoch - completed,  # from the result's commit to the client seeing it
        "words": len(body.get("words") or []),
        "audio_duration": body.get("audio_duration"),
        "text": body.get("text") or "",
        "speech_model_used": body.get("speech_model_used"),
        "cpu_s": meter.result["cpu_s_pid1"],  # the server process
        "client_cpu_s": meter.result["cpu_s_pid0"],  # this process: upload and polling
        "foreign_share": meter.result["foreign_share"],
    }


# --- decode paths (outside the timed runs) --------------------------------------------------------------


def decode_comparison(clip: Path) -> dict[str, float]:
    """What each side spends turning the file into samples (best of 3)."""
    from faster_whisper import decode_audio

    from server.media.decode import decode
    from server.media.probe import probe

    def best(fn: Any) -> float:
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    return {
        "faster_whisper_decode_audio_s": best(lambda: decode_audio(str(clip), sampling_rate=SAMPLE_RATE)),
        "server_probe_s": best(lambda: probe(clip)),
        "server_decode_s": best(lambda: decode(clip)),
    }


def word_agreement(a: str, b: str) -> float:
    """Share of word positions that match after normalisation (a rough check both sides agree)."""
    import difflib

    def norm(t: str) -> list[str]:
        return ["".join(c for c in w.lower() if c.isalnum()) for w in t.split()]

    wa, wb = norm(a), norm(b)
    if not wa and not wb:
        return 1.0
    return difflib.SequenceMatcher(a=wa, b=wb, autojunk=False).ratio()


def _wers(clip: Path, *runs: list[dict[str, Any]]) -> dict[str, float]:
    """WER of each path's last run against the clip's reference, when the manifest has one."""
    import json

    from tests.support.wer import wer

    path = clip.parent / "manifest.json"
    manifest = {m["file"]: m for m in json.loads(path.read_text())} if path.exists() else {}
    reference = (manifest.get(clip.name) or {}).get("reference")
    if not reference:
        return {}
    names = ("wer_direct", "wer_batched", "wer_server")
    return {name: wer(reference, r[-1]["text"]) for name, r in zip(names, runs, strict=True)}


# --- main -----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.replot:
        import json

        old = json.loads((RESULTS_DIR / args.out).read_text())
        duration = old["summary"]["audio_duration_s"]
        name = Path(old["clip"]).name
        plot(old["direct"], old.get("batched", []), old["server"], duration, name, old["model"], args.plot)
        print(f"wrote {args.plot}")
        return 0
    clip: Path = args.clip
    duration = audio_duration(clip)
    print(f"clip {clip.name}: {duration:.1f}s, model {args.model}, {args.repeats} repeat(s) per path")
    direct_runs: list[dict[str, Any]] = []
    batched_runs: list[dict[str, Any]] = []
    server_runs: list[dict[str, Any]] = []
    overrides = {
        "LOCALSCRIBE_ENGINE": "whisper",
        "LOCALSCRIBE_MODEL": args.server_model or args.model,
        "LOCALSCRIBE_MODELS_DIR": str(MODELS_DIR),
        "LOCALSCRIBE_WORKERS": "1",
        "LOCALSCRIBE_DEVICE": "cpu",
        "LOCALSCRIBE_COMPUTE_TYPE": args.compute_type,
        "LOCALSCRIBE_CPU_THREADS": str(args.threads),
        "LOCALSCRIBE_BATCH_SIZE": str(args.batch_size),
        "LOCALSCRIBE_BEAM_SIZE": "5",
        "LOCALSCRIBE_BATCH_BEAM_SIZE": str(args.batch_beam_size),
        "LOCALSCRIBE_POLL_INTERVAL_S": "0.2",  # the default, stated so the result does not drift
    }
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="localscribe-bench-") as tmp:
        warm_clip = Path(tmp) / "warmup.wav"
        crop_to_wav(clip, warm_clip, 10.0)
        with (
            running_server(
                log_name=f"async_rtf_{args.model}_{args.server_model or 'same'}", **overrides
            ) as srv,
            httpx.Client(base_url=srv.url, headers={"Authorization": API_KEY}, timeout=120) as client,
        ):
            db_url = server_db_url(srv)
            assert srv.proc is not None
            pids = [os.getpid(), srv.proc.pid]
            print(f"server ready at {srv.url}")
            whisper = load_direct(args.model, args.direct_load, args.compute_type, args.threads)
            if not args.no_warmup:
                transcribe_direct(whisper, warm_clip, pids)
                transcribe_direct(whisper, warm_clip, pids, args.batch_size, args.batch_beam_size)
                transcribe_server(client, db_url, warm_clip, args.model, args.poll, pids)
                print("warm-up done (10 s of the clip through each path, untimed)")
            paths = ["direct", "batched", "server"]
            for i in range(args.repeats):
                for path in paths[i % 3 :] + paths[: i % 3]:  # rotate: no path always runs first
                    wait_for_quiet(pids, args.quiet_share, timeout_s=args.quiet_timeout)
                    if path == "server":
                        s = transcribe_server(client, db_url, clip, args.model, args.poll, pids)
                        server_runs.append(s)
                        print(
                            f"repeat {i + 1}: server {s['wall_s']:.2f}s (upload {s['upload_s']:.3f}s, "
                            f"processing {s['processing_s']:.2f}s, server cpu {s['cpu_s']:.1f}s, "
                            f"others used {s['foreign_share']:.0%} of the CPUs, "
                            f"load {os.getloadavg()[0]:.2f})",
                            flush=True,
                        )
                        continue
                    batch = args.batch_size if path == "batched" else 0
                    d = transcribe_direct(whisper, clip, pids, batch, args.batch_beam_size)
                    (batched_runs if path == "batched" else direct_runs).append(d)
                    print(
                        f"repeat {i + 1}: {path} {d['wall_s']:.2f}s (cpu {d['cpu_s']:.1f}s, "
                        f"others used {d['foreign_share']:.0%} of the CPUs, load {os.getloadavg()[0]:.2f})",
                        flush=True,
                    )
            del whisper
        decode = decode_comparison(clip)

    d_wall = median([r["wall_s"] for r in direct_runs])
    b_wall = median([r["wall_s"] for r in batched_runs])
    s_wall = median([r["wall_s"] for r in server_runs])
    s_after = median([r["after_upload_s"] for r in server_runs])
    s_proc = median([r["processing_s"] for r in server_runs])
    summary = {
        "audio_duration_s": duration,
        "direct_wall_s_median": d_wall,
        "server_wall_s_median": s_wall,
        "direct_rtf": d_wall / duration,
        "server_rtf": s_wall / duration,
        "overhead_ratio": s_wall / d_wall,
        "batched_wall_s_median": b_wall,
        "batched_rtf": b_wall / duration,
        "batched_over_direct": b_wall / d_wall,
        "server_over_batched": s_wall / b_wall,
        # the rotation puts each path first in turn: per-repeat ratios cancel slow drifts in machine load
        "server_over_direct_per_repeat": [
            s["wall_s"] / d["wall_s"] for s, d in zip(server_runs, direct_runs, strict=True)
        ],
        **_wers(clip, direct_runs, batched_runs, server_runs),
        "loadavg_end": os.getloadavg(),
        # on a shared machine the fastest run of each path is the one least disturbed by other processes
        "direct_wall_s_min": min(r["wall_s"] for r in direct_runs),
        "server_wall_s_min": min(r["wall_s"] for r in server_runs),
        "overhead_ratio_best": min(r["wall_s"] for r in server_runs) / min(r["wall_s"] for r in direct_runs),
        "server_upload_s_median": median([r["upload_s"] for r in server_runs]),
        "server_after_upload_s_median": s_after,
        "server_after_upload_rtf": s_after / duration,
        "server_after_upload_ratio": s_after / d_wall,
        "server_queue_wait_s_median": median([r["queue_wait_s"] for r in server_runs]),
        "server_processing_s_median": s_proc,
        "server_processing_ratio": s_proc / d_wall,
        "server_poll_lag_s_median": median([r["poll_lag_s"] for r in server_runs]),
        "direct_decode_s_median": median([r["decode_s"] for r in direct_runs]),
        "direct_cpu_s_median": median([r["cpu_s"] for r in direct_runs]),
        "server_cpu_s_median": median([r["cpu_s"] for r in server_runs]),
        "client_cpu_s_median": median([r["client_cpu_s"] for r in server_runs]),
        "foreign_share_max": max(r["foreign_share"] for r in (*direct_runs, *server_runs)),
        "word_agreement_direct_vs_server": word_agreement(direct_runs[-1]["text"], server_runs[-1]["text"]),
    }

    print_table(
        f"Per repeat ({clip.name}, {duration:.1f}s audio, model {args.model})",
        [
            "repeat",
            "direct s",
            "batched s",
            "server s",
            "upload s",
            "queue s",
            "processing s",
            "poll lag s",
            "cpu s d/s",
            "others % d/s",
            "words d/b/s",
        ],
        [
            [
                i + 1,
                d["wall_s"],
                b["wall_s"],
                s["wall_s"],
                s["upload_s"],
                s["queue_wait_s"],
                s["processing_s"],
                s["poll_lag_s"],
                f"{d['cpu_s']:.1f}/{s['cpu_s']:.1f}",
                f"{d['foreign_share']:.0%}/{s['foreign_share']:.0%}",
                f"{d['words']}/{b['words']}/{s['words']}",
            ]
            for i, (d, b, s) in enumerate(zip(direct_runs, batched_runs, server_runs, strict=True))
        ],
    )
    print_table(
        "Summary (medians)",
        ["metric", "value"],
        [
            ["audio duration s", duration],
            ["direct wall s", d_wall],
            ["server wall s (upload..completed seen)", s_wall],
            ["direct RTF", summary["direct_rtf"]],
            ["server RTF", summary["server_rtf"]],
            ["overhead ratio server/direct", summary["overhead_ratio"]],
            ["batched direct wall s", b_wall],
            ["batched direct RTF", summary["batched_rtf"]],
            ["batched direct / sequential direct", summary["batched_over_direct"]],
            ["server / batched direct", summary["server_over_batched"]],
            *([[f"WER {k[4:]}", v] for k, v in summary.items() if k.startswith("wer_")]),
            [
                "best-of: direct s / server s",
                f"{summary['direct_wall_s_min']:.2f} / {summary['server_wall_s_min']:.2f}",
            ],
            ["overhead ratio best-of", summary["overhead_ratio_best"]],
            ["server upload s", summary["server_upload_s_median"]],
            ["server wall minus upload s", s_after],
            ["  of which queue wait s", summary["server_queue_wait_s_median"]],
            ["  of which processing s (DB started..completed)", s_proc],
            ["  of which poll lag s", summary["server_poll_lag_s_median"]],
            ["processing / direct", summary["server_processing_ratio"]],
            ["decode: faster_whisper.decode_audio s", decode["faster_whisper_decode_audio_s"]],
            ["decode: server probe s", decode["server_probe_s"]],
            ["decode: server decode s", decode["server_decode_s"]],
            ["CPU s direct (bench process)", summary["direct_cpu_s_median"]],
            ["CPU s server process", summary["server_cpu_s_median"]],
            ["CPU s client while server ran (upload+poll)", summary["client_cpu_s_median"]],
            ["max share of CPUs used by other processes", summary["foreign_share_max"]],
            ["word agreement direct vs server", summary["word_agreement_direct_vs_server"]],
        ],
    )

    for r in (*direct_runs, *batched_runs, *server_runs):
        r["text_head"] = r.pop("text")[:200]
    result = {
        "benchmark": "async_rtf",
        "quick": args.quick,
        "clip": str(clip),
        "direct_load": args.direct_load,
        "model": args.model,
        "server_default_model": args.server_model or args.model,
        "repeats": args.repeats,
        "client_poll_s": args.poll,
        "server_settings": overrides,
        "machine": machine_info(),
        "summary": summary,
        "decode": decode,
        "batch_size": args.batch_size,
        "batch_beam_size": args.batch_beam_size,
        "compute_type": args.compute_type,
        "threads": args.threads,
        "direct": direct_runs,
        "batched": batched_runs,
        "server": server_runs,
        "total_bench_s": time.perf_counter() - t_start,
    }
    path = write_json(args.out, result)
    plot(direct_runs, batched_runs, server_runs, duration, clip.name, args.model, args.plot)
    print(f"\nwrote {path} and {args.plot}")
    return 0


def plot(
    direct: list[dict[str, Any]],
    batched: list[dict[str, Any]],
    server: list[dict[str, Any]],
    duration: float,
    clip_name: str,
    model: str,
    path: Path,
) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    n = len(direct)
    xs = list(range(n))
    width = 0.27
    dx = [x - width for x in xs]
    bx = list(xs)
    sx = [x + width for x in xs]
    ax.bar(dx, [r["wall_s"] for r in direct], width, label="faster-whisper direct", color="#4c72b0")
    if batched:
        ax.bar(bx, [r["wall_s"] for r in batched], width, label="direct batched", color="#64b5cd")
    upload_s = [r["upload_s"] for r in server]
    queue_s = [r["create_s"] + r["queue_wait_s"] for r in server]
    proc_s = [r["processing_s"] for r in server]
    rest = [r["wall_s"] - u - q - p for r, u, q, p in zip(server, upload_s, queue_s, proc_s, strict=True)]
    bottom = [0.0] * n
    for values, label, color in (
        (upload_s, "server: upload", "#dd8452"),
        (queue_s, "server: create + queue wait", "#c44e52"),
        (proc_s, "server: processing", "#55a868"),
        (rest, "server: poll lag", "#8172b3"),
    ):
        ax.bar(sx, values, width, bottom=bottom, label=label, color=color)
        bottom = [b + max(v, 0.0) for b, v in zip(bottom, values, strict=True)]
    for x, r in zip(dx, direct, strict=True):
        ax.text(x, r["wall_s"], f"{r['wall_s']:.1f}s", ha="center", va="bottom", fontsize=8)
    for x, r in [*zip(bx, batched, strict=False), *zip(sx, server, strict=True)]:
        ax.text(x, r["wall_s"], f"{r['wall_s']:.1f}s", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(xs, [f"repeat {i + 1}" for i in xs])
    ax.set_ylabel("wall time (s)")
    ax.set_title(
        f"{clip_name} ({duration:.0f} s audio)\n{model} int8 on CPU, beam 5, word timestamps, WORKERS=1",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3)
    ax.margins(y=0.12)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
