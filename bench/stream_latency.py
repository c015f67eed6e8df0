"""Streaming latency and accuracy: clips streamed over `/v3/ws` at exactly real-time pace in 50 ms chunks.

Per stream, the English clips of tests/data that have a human reference are played back to back with
1.5 s of silence between them (so turns end). Measured, per word and per turn:

* partial latency: from the moment the chunk holding the end of a word was sent to the first Turn message
  that contains the word. Word end times come from faster-whisper called directly on the same clip with the
  same model (word timestamps), matched to streamed words by text within 0.6 s.
* final latency: from the chunk holding the end of a turn's last word to its end-of-turn message.
* accuracy: word error rate of all finals of a stream vs the human references of its clips, and the same for
  faster-whisper called directly on each whole clip (the batch path): their ratio.

The sweep runs 1, 2, 3, ... concurrent streams; a count is "sustained" (the machine keeps up in real time)
when turns end promptly for all streams: final p50 <= 1 s and final p95 <= 2 s.

`--session-per-clip` streams each clip in a session of its own, one after another (as the batch path decodes
each clip alone, so no turn's prompt carries an unrelated clip's words); latencies and finals are pooled.

`--speech-model universal-3-6-pro` streams as LiveKit and Pipecat do by default (Universal-3 Pro: one
formatted end of turn, min/max_turn_silence 100 ms, language detection), decoded by the multilingual model
(`--model base`); `--language de` plays the German clips instead (batch then decodes them in German). The
CPU load seen before the run is recorded: on a shared machine the numbers move with it.

    .venv/bin/python bench/stream_latency.py [--quick] [--model tiny.en] [--streams 1,2,3,4]
    .venv/bin/python bench/stream_latency.py --speech-model universal-3-6-pro --model base --language de
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    API_KEY,
    AUDIO_DIR,
    DOCS_DIR,
    SAMPLE_RATE,
    CpuMeter,
    add_quiet_args,
    git_state,
    load_whisper,
    machine_info,
    percentile,
    print_table,
    pyplot,
    running_server,
    wait_for_quiet,
    write_json,
)

CHUNK_MS = 50
GAP_S = 1.5
MATCH_S = 0.6
SUSTAINED_FINAL_P50_S = 1.0
SUSTAINED_FINAL_P95_S = 2.0
GERMAN_CLIPS = (
    "de_thorsten_1386ecbb98a8f46dd0b0eb75d68ee0d0.wav",
    "de_thorsten_eca9d4cc394847e6876b4ba43c046c5c.wav",
)
# what LiveKit and Pipecat send by default on Universal-3 Pro (CONTRACT §6.10)
FRAMEWORK_QUERY = "min_turn_silence=100&max_turn_silence=100&language_detection=true"
CLIPS = (
    "jfk.flac",
    "en_librispeech_1995-1837-0001.wav",
    "en_librispeech_2412-153948-0000.flac",
    "en_picovoice_leopard_test.wav",
    "en_timit_LDC93S1.wav",
    "en_librivox_sense_and_sensibility_01_austen_64kb-0870.wav",
    "en_librivox_sense_and_sensibility_01_austen_64kb-0920.wav",
)


def norm_words(text: str) -> list[str]:
    return [w for w in (re.sub(r"[^\w']", "", t.lower()) for t in text.split()) if w]


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = norm_words(reference), norm_words(hypothesis)
    d = np.arange(len(hyp) + 1)
    for i, r in enumerate(ref, 1):
        prev, d[0] = d.copy(), i
        for j, h in enumerate(hyp, 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (r != h))
    return float(d[-1]) / max(1, len(ref))


@dataclass
class Clip:
    name: str
    reference: str
    samples: np.ndarray
    offset_s: float = 0.0  # where it starts in the stream
    words: list[tuple[str, float]] = field(default_factory=list)  # (normalized word, end s in the stream)
    batch_text: str = ""


def load_clips(names: tuple[str, ...], model: str, language: str = "en") -> tuple[list[Clip], float]:
    """Decode the clips, lay them out in one stream, transcribe each directly (word ends, batch WER)."""
    from server.media.decode import decode

    manifest = {m["file"]: m for m in json.loads((AUDIO_DIR / "manifest.json").read_text())}
    whisper = load_whisper(model)
    clips, offset, batch_s = [], 0.0, 0.0
    for name in names:
        clip = Clip(name, manifest[name]["reference"], decode(AUDIO_DIR / name), offset)
        t0 = time.perf_counter()
        segments, _ = whisper.transcribe(clip.samples, language=language, beam_size=5, word_timestamps=True)
        words = [w for s in segments for w in s.words or []]
        batch_s += time.perf_counter() - t0
        clip.batch_text = " ".join(w.word.strip() for w in words)
        clip.words = [(k, offset + w.end) for w in words for k in norm_words(w.word)[:1]]
        clips.append(clip)
        offset += len(clip.samples) / SAMPLE_RATE + GAP_S
    return clips, batch_s


def stream_audio(clips: list[Clip]) -> bytes:
    gap = np.zeros(int(GAP_S * SAMPLE_RATE), dtype=np.float32)
    parts = [p for c in clips for p in (c.samples, gap)]
    return (np.clip(np.concatenate(parts), -1, 1) * 32767).astype("<i2").tobytes()


async def one_stream(url: str, audio: bytes, start_delay: float) -> dict[str, Any]:
    """Stream at real-time pace; return every message with its arrival time and every chunk's send time."""
    import websockets

    await asyncio.sleep(start_delay)
    size = SAMPLE_RATE * 2 * CHUNK_MS // 1000
    received: list[tuple[float, dict[str, Any]]] = []
    async with websockets.connect(url, additional_headers={"Authorization": API_KEY}, max_size=None) as ws:
        await ws.recv()  # Begin

        async def reader() -> None:
            async for message in ws:
                received.append((time.monotonic(), json.loads(message)))

        task = asyncio.create_task(reader())
        sent = await send_paced(ws, audio, size)
        await ws.send(json.dumps({"type": "Terminate"}))
        await asyncio.wait_for(task, timeout=60 + len(audio) / (SAMPLE_RATE * 2) * 3)  # a loaded machine lags
    return {"received": received, "sent": sent}


async def clip_sessions(url: str, clips: list[Clip], start_delay: float) -> list[dict[str, Any]]:
    """Each clip (and the silence after it) in a session of its own, one after another: what the batch path
    sees, one file per clip, so no session carries the previous clip's words as its context."""
    await asyncio.sleep(start_delay)
    return [await one_stream(url, stream_audio([clip]), 0) for clip in clips]


async def send_paced(ws: Any, audio: bytes, size: int) -> list[float]:
    """Send `audio` in chunks of `size` bytes (CHUNK_MS each), at real-time pace; return when each left."""
    sent = []
    t0 = time.monotonic()
    for i, start in enumerate(range(0, len(audio), size)):
        await asyncio.sleep(max(0.0, t0 + i * CHUNK_MS / 1000 - time.monotonic()))
        await ws.send(audio[start : start + size])
        sent.append(time.monotonic())
    return sent


def sent_at(sent: list[float], stream_s: float) -> float:
    """When the chunk holding stream time `stream_s` left the client."""
    index = min(len(sent) - 1, int(stream_s * 1000 // CHUNK_MS))
    return sent[index]


def analyse(run: dict[str, Any], clips: list[Clip]) -> dict[str, Any]:
    received, sent = run["received"], run["sent"]
    turns = [(t, m) for t, m in received if m.get("type") == "Turn"]
    seen: list[tuple[float, str, float]] = []  # (arrival, word, streamed end s) in arrival order
    for arrival, message in turns:
        for w in message["words"]:
            for key in norm_words(w["text"])[:1]:
                seen.append((arrival, key, w["end"] / 1000))
    partial = []
    for clip in clips:
        for key, end in clip.words:
            hits = [a for a, k, e in seen if k == key and abs(e - end) <= MATCH_S]
            if hits:
                partial.append(min(hits) - sent_at(sent, end))
    finals, final_text, ended = [], [], set()
    for arrival, message in turns:
        # the first end-of-turn message of each turn (Universal-Streaming may send a formatted second one)
        if not message["end_of_turn"] or message["turn_order"] in ended or not message["words"]:
            continue
        ended.add(message["turn_order"])
        end = message["words"][-1]["end"] / 1000
        finals.append(arrival - sent_at(sent, end))
        final_text.append(message["transcript"])
    # the whole stream at once: a turn that runs across two clips (its end came too late) is not an error
    stream_wer = wer(" ".join(c.reference for c in clips), " ".join(final_text))
    return {"partial_s": partial, "final_s": finals, "wer": stream_wer, "finals_text": final_text}


def analyse_sessions(runs: list[dict[str, Any]], clips: list[Clip]) -> dict[str, Any]:
    """One stream's clip sessions (`clip_sessions`) as one stream: latencies and finals pooled."""
    parts = [
        analyse(run, [replace(c, offset_s=0.0, words=[(k, end - c.offset_s) for k, end in c.words])])
        for run, c in zip(runs, clips, strict=True)
    ]
    text = [t for part in parts for t in part["finals_text"]]
    return {
        "partial_s": [x for part in parts for x in part["partial_s"]],
        "final_s": [x for part in parts for x in part["final_s"]],
        "wer": wer(" ".join(c.reference for c in clips), " ".join(text)),
        "finals_text": text,
    }


async def sweep_point(url: str, audio: bytes, n: int, clips: list[Clip] | None = None) -> list[Any]:
    """`n` concurrent streams of `audio`; with `clips`, each stream plays them in a session per clip."""
    delays = [i * 0.37 for i in range(n)]  # staggered, so decodes of different streams do not align
    if clips is not None:
        return list(await asyncio.gather(*(clip_sessions(url, clips, d) for d in delays)))
    return list(await asyncio.gather(*(one_stream(url, audio, d) for d in delays)))


def summarize(n: int, analyses: list[dict[str, Any]]) -> dict[str, Any]:
    partial = [x for a in analyses for x in a["partial_s"]]
    final = [x for a in analyses for x in a["final_s"]]
    mean_wer = float(np.mean([a["wer"] for a in analyses]))
    texts = analyses[0]["finals_text"] if analyses else []
    return {
        "streams": n,
        "words_matched": len(partial),
        "partial_p50_s": percentile(partial, 50),
        "partial_p95_s": percentile(partial, 95),
        "final_p50_s": percentile(final, 50),
        "final_p95_s": percentile(final, 95),
        "finals": len(final),
        "stream_wer": mean_wer,
        "sustained": bool(partial and final)
        and percentile(final, 50) <= SUSTAINED_FINAL_P50_S
        and percentile(final, 95) <= SUSTAINED_FINAL_P95_S,
        "partial_s": partial,
        "final_s": final,
        "finals_text": texts,  # the first stream's finals, one per turn: what the WER was taken on
    }


def plot(points: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    panels = ((axes[0], "partial_s", "word → first partial"), (axes[1], "final_s", "end of speech → final"))
    for ax, key, title in panels:
        for p in points:
            values = np.sort(p[key])
            if len(values):
                ax.plot(values * 1000, np.linspace(0, 1, len(values)), label=f"{p['streams']} stream(s)")
        ax.set_title(title)
        ax.set_xlabel("latency (ms)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("fraction of words / turns")
    axes[1].legend()
    fig.suptitle("LocalScribe /v3/ws, real-time pace, 50 ms chunks")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="one clip, one stream (CI)")
    p.add_argument("--model", default="tiny.en")
    p.add_argument("--streams", default="1,2,3,4")
    p.add_argument("--speech-model", default="universal-streaming-english")
    p.add_argument("--language", default="en", choices=["en", "de"])
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="LOCALSCRIBE_X=V",
        help="a setting for the server under test (repeatable), e.g. LOCALSCRIBE_STREAM_DECODE_THREADS=2",
    )
    p.add_argument(
        "--clips",
        default=None,
        metavar="A,B",
        help="these clips of the audio manifest (with a reference) instead of the language's set, e.g. "
        "pyannote_sample.wav: a conversation",
    )
    p.add_argument(
        "--query",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="another /v3/ws query parameter (repeatable), e.g. previous_context_n_turns=0",
    )
    p.add_argument(
        "--session-per-clip",
        action="store_true",
        help="each clip in a session of its own, as the batch path decodes each clip on its own (no carried "
        "context from an unrelated clip); default: all clips in one session",
    )
    add_quiet_args(p)
    args = p.parse_args()
    quiet_timeout = args.quiet_timeout if args.quiet_timeout is not None else (2.0 if args.quick else 300.0)
    pro = args.speech_model.startswith(("u3-", "universal-3"))
    clip_set = GERMAN_CLIPS if args.language == "de" else CLIPS
    if args.clips:
        clip_set = tuple(args.clips.split(","))
    names = clip_set[:1] if args.quick else clip_set
    counts = [1] if args.quick else [int(n) for n in args.streams.split(",")]
    load_before = os.getloadavg()

    clips, batch_s = load_clips(names, args.model, args.language)
    audio = stream_audio(clips)
    audio_s = len(audio) / 2 / SAMPLE_RATE
    batch_wer = wer(" ".join(c.reference for c in clips), " ".join(c.batch_text for c in clips))
    print(f"{len(clips)} clips, {audio_s:.1f} s per stream; direct batch WER {batch_wer:.3f}", flush=True)

    points = []
    settings = {
        "LOCALSCRIBE_ENGINE": "whisper",
        "LOCALSCRIBE_STREAM_MODEL": args.model,
        "LOCALSCRIBE_STREAM_MODEL_MULTILINGUAL": args.model,
        "LOCALSCRIBE_MODELS_DIR": str(Path(__file__).resolve().parents[1] / "models"),
        "LOCALSCRIBE_WORKERS": "1",
    }
    settings.update(item.split("=", 1) for item in args.server_env)
    with running_server(log_name="stream_latency", **settings) as server:
        url = server.url.replace("http://", "ws://") + "/v3/ws?sample_rate=16000"
        url += f"&speech_model={args.speech_model}"
        url += f"&{FRAMEWORK_QUERY}" if pro else ""
        url += "".join(f"&{item}" for item in args.query)
        asyncio.run(one_stream(url, audio[: SAMPLE_RATE * 2 * 3], 0))  # warm the streaming model
        for n in counts:
            pids = [server.proc.pid] if server.proc else []
            waited = wait_for_quiet(pids, args.quiet_share, timeout_s=quiet_timeout)
            print(f"{n} concurrent stream(s)...", flush=True)
            with CpuMeter(pids) as meter:
                if args.session_per_clip:
                    per_clip = asyncio.run(sweep_point(url, audio, n, clips))
                    analyses = [analyse_sessions(runs, clips) for runs in per_clip]
                else:
                    analyses = [analyse(run, clips) for run in asyncio.run(sweep_point(url, audio, n))]
            point = summarize(n, analyses)
            point["foreign_cpu_share"] = meter.result["foreign_share"]  # the load others put on the CPUs
            point["waited_for_quiet_s"] = waited
            points.append(point)
            if percentile(point["final_s"], 50) > 3 * SUSTAINED_FINAL_P50_S:
                break  # far past keeping up: more streams only take longer

    sustained = max((p["streams"] for p in points if p["sustained"]), default=0)
    rows = [
        [p["streams"], p["words_matched"]]
        + [f"{p[k] * 1000:.0f}" for k in ("partial_p50_s", "partial_p95_s", "final_p50_s", "final_p95_s")]
        + [f"{p['stream_wer']:.3f}", "yes" if p["sustained"] else "no", f"{p['foreign_cpu_share']:.0%}"]
        for p in points
    ]
    print_table(
        f"streaming {args.speech_model} on {args.model}, {args.language}: latency (ms) and WER "
        f"(batch WER {batch_wer:.3f}; load average before {load_before[0]:.2f})",
        [
            "streams",
            "words",
            "partial p50",
            "partial p95",
            "final p50",
            "final p95",
            "WER",
            "real time",
            "CPU used by others",
        ],
        rows,
    )
    one = points[0]
    result = {
        "quick": args.quick,
        "model": args.model,
        "speech_model": args.speech_model,
        "query": args.query,
        "session_per_clip": args.session_per_clip,
        "language": args.language,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "clips": [c.name for c in clips],
        "batch_text": [c.batch_text for c in clips],
        "reference": [c.reference for c in clips],
        "stream_audio_s": audio_s,
        "batch_wer": batch_wer,
        "batch_direct_s": batch_s,
        "wer_ratio_stream_vs_batch": one["stream_wer"] / batch_wer if batch_wer else None,
        "max_sustained_streams": sustained,
        "points": [{k: v for k, v in p.items() if k not in ("partial_s", "final_s")} for p in points],
        "machine": machine_info(),
        "git": git_state(),
    }
    print(f"WER ratio stream/batch: {result['wer_ratio_stream_vs_batch']}; sustained streams: {sustained}")
    default = args.speech_model == "universal-streaming-english" and args.language == "en"
    name = "stream_latency" if default else f"stream_latency_{args.speech_model}_{args.language}"
    name += "_per_clip" if args.session_per_clip else ""
    write_json(f"{name}_quick.json" if args.quick else f"{name}.json", result)
    if not args.quick and default and not args.session_per_clip:
        plot(points, DOCS_DIR / "stream_latency.png")


if __name__ == "__main__":
    main()
