"""Speaker labels of streamed turns (`speaker_labels=true` on /v3/ws) against the clips' RTTM references.

    python bench/stream_speakers.py [--speech-model universal-3-6-pro] [--model base]
                                    [--clips pyannote_sample pyannote_dev00]

Each clip is streamed at real-time pace the way LiveKit and Pipecat stream by default (Universal-3 Pro,
100 ms turn silences, language detection) plus `speaker_labels=true`, to a `localscribe serve` with the real
engine. Every end-of-turn `Turn` gives its words and its `speaker_label`; the hypothesis is those words with
their turn's label, scored with bench/diarization_der.py's DER (±0.25 s collar, one-to-one mapping), and turn
accuracy: the share of turns whose label, mapped the same way, is the reference speaker who speaks most
inside the turn. Results go to bench/results/stream_speakers.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import AUDIO_DIR, print_table, running_server, write_json  # noqa: E402
from diarization_der import der, read_rttm, word_segments  # noqa: E402
from stream_latency import FRAMEWORK_QUERY, one_stream  # noqa: E402

from server.media.decode import decode  # noqa: E402


def turns_of(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The end-of-turn messages of a streamed session."""
    return [m for _, m in run["received"] if m.get("type") == "Turn" and m.get("end_of_turn")]


def turn_accuracy(turns: list[dict[str, Any]], reference: list[tuple[float, float, str]]) -> float:
    """Share of turns whose label maps (majority vote over turns) to the reference speaker who talks most
    inside the turn."""
    names = sorted({s for *_, s in reference})
    truth, labels = [], []
    for turn in turns:
        if not turn["words"]:
            continue
        a, b = turn["words"][0]["start"] / 1000, turn["words"][-1]["end"] / 1000
        overlap = [sum(max(0.0, min(b, e) - max(a, s)) for s, e, who in reference if who == n) for n in names]
        truth.append(names[int(np.argmax(overlap))])
        labels.append(turn.get("speaker_label") or "?")
    if not truth:
        return 0.0
    from scipy.optimize import linear_sum_assignment

    hyp = sorted(set(labels))
    counts = np.zeros((len(hyp), len(names)), dtype=int)
    for label, who in zip(labels, truth, strict=True):
        counts[hyp.index(label), names.index(who)] += 1
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum()) / len(truth)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--speech-model", default="universal-3-6-pro")
    p.add_argument("--model", default="base", help="the local model behind the speech model")
    p.add_argument("--clips", nargs="+", default=["pyannote_sample", "pyannote_dev00"])
    args = p.parse_args()
    manifest = {m["file"]: m for m in json.loads((AUDIO_DIR / "manifest.json").read_text())}
    rows, results = [], []
    with running_server(
        log_name="stream_speakers",
        LOCALSCRIBE_ENGINE="whisper",
        LOCALSCRIBE_STREAM_MODEL=args.model,
        LOCALSCRIBE_STREAM_MODEL_MULTILINGUAL=args.model,
        LOCALSCRIBE_MODELS_DIR=str(Path(__file__).resolve().parents[1] / "models"),
        LOCALSCRIBE_WORKERS="1",
    ) as server:
        url = server.url.replace("http://", "ws://") + "/v3/ws?sample_rate=16000&speaker_labels=true"
        url += f"&speech_model={args.speech_model}&{FRAMEWORK_QUERY}"
        for clip in args.clips:
            name = f"{clip}.wav"
            pcm = (np.clip(decode(AUDIO_DIR / name), -1, 1) * 32767).astype("<i2").tobytes()
            print(f"streaming {name} ({len(pcm) / 32000:.1f} s)...", flush=True)
            turns = turns_of(asyncio.run(one_stream(url, pcm + bytes(32000), 0)))
            words = [w for t in turns for w in t["words"]]
            speakers = [t.get("speaker_label") or "?" for t in turns for _ in t["words"]]
            reference = read_rttm(AUDIO_DIR / manifest[name]["rttm"])
            score = der(reference, word_segments(words, speakers))
            accuracy = turn_accuracy(turns, reference)
            results.append({"clip": clip, "turns": len(turns), "turn_accuracy": accuracy, **score})
            rows.append(
                [clip, len(turns), manifest[name]["speakers"], score["speakers"], accuracy, score["der"],
                 score["missed"], score["false_alarm"], score["confusion"]]
            )  # fmt: skip
    print_table(
        f"streamed speaker labels ({args.speech_model} on {args.model}), DER collar ±0.25 s",
        ["clip", "turns", "speakers", "labels", "turn accuracy", "DER", "missed", "false alarm", "confusion"],
        rows,
    )
    write_json(
        "stream_speakers.json", {"speech_model": args.speech_model, "model": args.model, "clips": results}
    )


if __name__ == "__main__":
    main()
