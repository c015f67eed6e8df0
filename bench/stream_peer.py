"""LocalScribe beside WhisperLive, the open-source real-time Whisper server, on the same machine and weights.

Each server is started alone (one after the other, never together) with the same `tiny.en` CTranslate2
weights and int8 on the CPU, and gets the same clips (bench/stream_latency.py's English set, laid out the
same way) streamed at real-time pace in 50 ms chunks to 1, 2, 3, 4, 6 and 8 concurrent sessions. Both are
measured with bench/stream_latency.py's definitions: its `analyse` reads LocalScribe's v3 `Turn` messages as
they are, and WhisperLive's segments (sent with their words: `word_timestamps`) turned into the same shape,
a segment being a turn and `completed` its end of turn:

* partial latency: chunk holding a word's end sent -> first message that shows the word;
* final latency: chunk holding a turn's last word sent -> the turn's end-of-turn message;
* WER of all end-of-turn texts of a stream against the clips' human references;
* bounded: final p50 <= 1 s and p95 <= 2 s (stream_latency.py's "sustained") and no growth: the median
  final latency of the stream's second half exceeds its first half's by at most 0.5 s;
* CPU seconds of the server process per second of audio streamed, and its peak resident memory (VmHWM).

WhisperLive runs from its own virtual environment (`--whisperlive-python`; `pip install whisper-live` there,
never into LocalScribe's), with `single_model` (one model shared by all sessions, as LocalScribe does) and
its defaults otherwise (its Silero VAD on, `send_last_n_segments` 10). The server name `whisperlive-batch`
runs its cross-client batching mode (`batch_enabled`). Its VAD model is fetched from GitHub on first use;
offline, `--silero-onnx` names a local copy of the same Silero v5 ONNX file.

A whole sweep of one server takes minutes: run it in chunks (each under the shared bench lock) and draw the
table and plot from what the chunks wrote:

    flock /tmp/bench.lock .venv/bin/python bench/stream_peer.py --servers localscribe --streams 1,2,3
    flock /tmp/bench.lock .venv/bin/python bench/stream_peer.py --servers whisperlive --streams 1,2,3
    .venv/bin/python bench/stream_peer.py --report

(`--clips N` streams the first N clips only, for shorter chunks; `--report` merges one `--clips`.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import _common as common
import numpy as np
from _common import DOCS_DIR, MODELS_DIR, RESULTS_DIR, SAMPLE_RATE
from stream_latency import (
    CHUNK_MS,
    CLIPS,
    analyse,
    load_clips,
    one_stream,
    send_paced,
    stream_audio,
    summarize,
)

SERVERS = ("localscribe", "localscribe-batch", "whisperlive", "whisperlive-batch")
GROWTH_LIMIT_S = 0.5
RESULTS = RESULTS_DIR / "stream_peer"
WHISPERLIVE_SERVER = """
import sys
from whisper_live.server import TranscriptionServer
port, model, batch = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
TranscriptionServer().run("127.0.0.1", port, backend="faster_whisper", faster_whisper_custom_model_path=model,
                          single_model=True, max_clients=64, max_connection_time=3600, batch_enabled=batch)
"""


def model_path(name: str) -> str:
    """The CTranslate2 folder both servers load (LocalScribe's own resolution of the name)."""
    from server.engine.model_store import resolve_model

    return resolve_model(name, MODELS_DIR)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- WhisperLive -------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def whisperlive_server(python: str, model: str, batch: bool) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    log = (RESULTS / f"whisperlive{'-batch' if batch else ''}.log").open("wb")
    proc = subprocess.Popen(
        [python, "-c", WHISPERLIVE_SERVER, str(port), model, "1" if batch else "0"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"WhisperLive exited ({proc.returncode}); see {log.name}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        yield f"ws://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def as_turns(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A WhisperLive message as stream_latency.py's `Turn` messages: one per segment, keyed by its start."""
    turns = []
    for segment in message.get("segments") or []:
        words = [
            {"text": w["word"].strip(), "end": float(w["end"]) * 1000}
            for w in segment.get("words") or []
            if w["word"].strip()
        ]
        turns.append(
            {
                "type": "Turn",
                "turn_order": segment["start"],
                "end_of_turn": bool(segment.get("completed")),
                "words": words,
                "transcript": segment["text"].strip(),
            }
        )
    return turns


async def whisperlive_stream(url: str, audio: bytes, start_delay: float, model: str) -> dict[str, Any]:
    """The same pacing as stream_latency.one_stream, in WhisperLive's protocol (float32 PCM, END_OF_AUDIO)."""
    import websockets

    await asyncio.sleep(start_delay)
    pcm = (np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768).tobytes()
    size = SAMPLE_RATE * 4 * CHUNK_MS // 1000
    received: list[tuple[float, dict[str, Any]]] = []
    options = {
        "uid": str(uuid.uuid4()),
        "language": "en",
        "task": "transcribe",
        "model": model,
        "use_vad": True,
        "word_timestamps": True,
    }
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(json.dumps(options))
        ready = json.loads(await ws.recv())
        if ready.get("message") != "SERVER_READY":
            raise RuntimeError(f"WhisperLive refused the session: {ready}")

        async def reader() -> None:
            async for message in ws:
                now = time.monotonic()
                received.extend((now, turn) for turn in as_turns(json.loads(message)))

        task = asyncio.create_task(reader())
        sent = await send_paced(ws, pcm, size)
        await asyncio.sleep(2.0)  # what it still sends for the last words (it has no forced final)
        await ws.send(b"END_OF_AUDIO")
        await ws.close()
        task.cancel()
    return {"received": received, "sent": sent}


# --- the sweep ---------------------------------------------------------------------------------------------


def growth_s(analyses: list[dict[str, Any]]) -> float:
    """Median final latency of the streams' second halves minus their first halves'."""
    first, second = [], []
    for a in analyses:
        half = len(a["final_s"]) // 2
        first += a["final_s"][:half]
        second += a["final_s"][half:]
    return common.percentile(second, 50) - common.percentile(first, 50) if first and second else 0.0


def sweep(
    name: str,
    pid: int,
    counts: list[int],
    stream: Callable[[float], Any],
    audio_s: float,
    clips: list[Any],
) -> list[dict[str, Any]]:
    points = []
    for n in counts:
        print(f"{name}: {n} concurrent stream(s)... (load {os.getloadavg()[0]:.2f})", flush=True)
        load = os.getloadavg()[0]

        async def together(n: int = n) -> list[dict[str, Any]]:
            return list(await asyncio.gather(*(stream(i * 0.37) for i in range(n))))

        with common.CpuMeter([pid]) as meter:
            runs = asyncio.run(together())
        analyses = [analyse(r, clips) for r in runs]
        point = summarize(n, analyses)
        point["growth_s"] = growth_s(analyses)
        point["bounded"] = point["sustained"] and point["growth_s"] <= GROWTH_LIMIT_S
        point["cpu_s_per_audio_s"] = meter.result["own_cpu_s"] / (audio_s * n)
        point["peak_rss_mb"] = peak_rss_mb(pid)
        point["foreign_cpu_share"] = meter.result["foreign_share"]
        point["load_average_before"] = load
        points.append(point)
        if common.percentile(point["final_s"], 50) > 5:
            break  # far past keeping up
    return points


def run_server(name: str, counts: list[int], args: argparse.Namespace) -> dict[str, Any]:
    names = CLIPS[: args.clips]
    clips, _ = load_clips(names, args.model)
    audio = stream_audio(clips)
    audio_s = len(audio) / 2 / SAMPLE_RATE
    model = model_path(args.model)
    if name.startswith("localscribe"):
        # the server's default (on the CPU: each window alone), or localscribe-batch: 8 windows per call
        batch = {"LOCALSCRIBE_STREAM_BATCH_SIZE": "8"} if name.endswith("-batch") else {}
        with common.running_server(
            log_name=name,
            **batch,
            LOCALSCRIBE_ENGINE="whisper",
            LOCALSCRIBE_STREAM_MODEL=model,
            LOCALSCRIBE_MODELS_DIR=str(MODELS_DIR),
            LOCALSCRIBE_WORKERS="1",
        ) as server:
            url = server.url.replace("http://", "ws://") + "/v3/ws?sample_rate=16000"
            asyncio.run(one_stream(url, audio[: SAMPLE_RATE * 2 * 3], 0))  # load the model
            pid = server.proc.pid if server.proc else 0
            points = sweep(name, pid, counts, lambda d: one_stream(url, audio, d), audio_s, clips)
    else:
        if args.silero_onnx:  # WhisperLive's VadDetector reads it from here, downloading it when absent
            cache = Path("~/.cache/whisper-live").expanduser()
            cache.mkdir(parents=True, exist_ok=True)
            if not (cache / "silero_vad.onnx").exists():
                shutil.copyfile(args.silero_onnx, cache / "silero_vad.onnx")
        with whisperlive_server(args.whisperlive_python, model, name.endswith("batch")) as (url, proc):
            asyncio.run(whisperlive_stream(url, audio[: SAMPLE_RATE * 2 * 3], 0, model))  # load the model
            points = sweep(
                name, proc.pid, counts, lambda d: whisperlive_stream(url, audio, d, model), audio_s, clips
            )
    return {
        "server": name,
        "model": args.model,
        "clips": list(names),
        "stream_audio_s": audio_s,
        "points": [{k: v for k, v in p.items() if k not in ("partial_s", "final_s")} for p in points],
        "latencies": {p["streams"]: {"partial_s": p["partial_s"], "final_s": p["final_s"]} for p in points},
        "machine": common.machine_info(),
        "git": common.git_state(),
    }


def merged(clips: int) -> dict[str, dict[int, dict[str, Any]]]:
    """Every chunk of `clips` clips written so far, by server and stream count (a later chunk replaces an
    earlier point)."""
    table: dict[str, dict[int, dict[str, Any]]] = {}
    for path in sorted(RESULTS.glob(f"*_clips{clips}_streams_*.json"), key=lambda p: p.stat().st_mtime):
        data = json.loads(path.read_text())
        for point in data["points"]:
            lat = data["latencies"][str(point["streams"])]
            table.setdefault(data["server"], {})[point["streams"]] = {**point, **lat}
    return table


def report(clips: int) -> None:
    table = merged(clips)
    rows = []
    for server in SERVERS:
        for n, p in sorted(table.get(server, {}).items()):
            rows.append(
                [server, n]
                + [
                    f"{p[k] * 1000:.0f}"
                    for k in ("partial_p50_s", "partial_p95_s", "final_p50_s", "final_p95_s")
                ]
                + [
                    f"{p['stream_wer']:.3f}",
                    "yes" if p["bounded"] else "no",
                    f"{p['growth_s']:+.2f}",
                    f"{p['cpu_s_per_audio_s']:.2f}",
                    f"{p['peak_rss_mb']:.0f}",
                    f"{p['load_average_before']:.1f}",
                ]
            )
    common.print_table(
        "live streams, tiny.en int8, real-time pace: latency (ms), WER, bounded, CPU s per audio s, peak RSS",
        [
            "server",
            "streams",
            "partial p50",
            "partial p95",
            "final p50",
            "final p95",
            "WER",
            "bounded",
            "growth s",
            "CPU s/audio s",
            "peak RSS MiB",
            "load avg",
        ],
        rows,
    )
    held = {s: max((n for n, p in points.items() if p["bounded"]), default=0) for s, points in table.items()}
    print("streams held in real time:", held)
    servers = {s: list(p.values()) for s, p in table.items()}
    common.write_json("stream_peer.json", {"servers": servers, "held": held})
    plot(table, DOCS_DIR / "stream_peer.png")


def plot(table: dict[str, dict[int, dict[str, Any]]], path: Path) -> None:
    plt = common.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for server, points in table.items():
        ns = sorted(points)
        for ax, key in ((axes[0], "final_p50_s"), (axes[0], "final_p95_s"), (axes[1], "partial_p50_s")):
            style = "--" if key.endswith("p95_s") else "-"
            ax.plot(ns, [points[n][key] * 1000 for n in ns], style, marker="o", label=f"{server} {key[:-2]}")
        axes[2].plot(ns, [points[n]["cpu_s_per_audio_s"] for n in ns], marker="o", label=server)
    axes[0].axhline(1000, color="grey", lw=0.8)
    axes[0].axhline(2000, color="grey", lw=0.8, ls="--")
    for ax, title in zip(
        axes, ("final latency (ms)", "partial latency p50 (ms)", "CPU s per audio s"), strict=True
    ):
        ax.set_title(title)
        ax.set_xlabel("concurrent streams")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("LocalScribe vs WhisperLive, tiny.en, real-time pace, 50 ms chunks")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--servers", default="localscribe,whisperlive")
    p.add_argument("--streams", default="1,2,3,4,6,8")
    p.add_argument("--model", default="tiny.en")
    p.add_argument(
        "--clips", type=int, default=len(CLIPS), help="the first N clips of stream_latency.py's set"
    )
    p.add_argument(
        "--whisperlive-python",
        default=os.environ.get("WHISPERLIVE_PYTHON"),
        help="python of a separate virtualenv with whisper-live installed (or WHISPERLIVE_PYTHON)",
    )
    p.add_argument("--silero-onnx", default=None, help="a local silero_vad.onnx (v5) for WhisperLive offline")
    p.add_argument("--report", action="store_true", help="only merge the chunks written so far: table, plot")
    args = p.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not args.report:
        counts = [int(n) for n in args.streams.split(",")]
        for server in args.servers.split(","):
            if server not in SERVERS:
                sys.exit(f"unknown server {server}; one of {SERVERS}")
            if server.startswith("whisperlive") and not args.whisperlive_python:
                sys.exit("WhisperLive needs --whisperlive-python (a virtualenv with whisper-live installed)")
            result = run_server(server, counts, args)
            result["load_average_after"] = os.getloadavg()
            chunk = RESULTS / f"{server}_clips{args.clips}_streams_{'-'.join(map(str, counts))}.json"
            chunk.write_text(json.dumps(result, indent=1))
    report(args.clips)


if __name__ == "__main__":
    main()
