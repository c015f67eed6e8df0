"""Speaker count without `speakers_expected`: the estimator's bounds, and real recordings (one voice stays
one speaker; two held-out voices stitched into a conversation are two)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.speaker_count import HELD_OUT, pseudo_words, speech_floor, speech_spans, stitch
from server.intelligence import diarization, speaker_count
from server.media.decode import decode
from tests.support.spec import AUDIO

ROOT = Path(__file__).resolve().parents[1]


def _groups(sizes: list[int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), 64))
    x = np.repeat(centres, sizes, axis=0) + 0.03 * rng.normal(size=(sum(sizes), 64))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_estimate_counts_and_respects_bounds() -> None:
    three = _groups([10, 10, 10])
    assert speaker_count.estimate(three) == 3
    assert speaker_count.estimate(three, max_speakers=2) == 2
    assert speaker_count.estimate(_groups([30]), min_speakers=2) == 2
    assert speaker_count.estimate(_groups([40, 1], seed=2)) == 1  # a stray segment is not a speaker
    assert speaker_count.estimate(_groups([1])) == 1


def _near(x: np.ndarray, n: int, scale: float, seed: int) -> np.ndarray:
    """`n` unit vectors scattered around the mean of `x`."""
    rng = np.random.default_rng(seed)
    y = x.mean(axis=0) + scale * rng.normal(size=(n, x.shape[1])) / np.sqrt(x.shape[1])
    return y / np.linalg.norm(y, axis=1, keepdims=True)


def test_small_clusters_count_only_when_far_from_the_speakers() -> None:
    """CAM++'s rule: a small cluster (under `share`) is a speaker when it is `apart` from every big one (a
    visitor's one sentence), not when it lies near one (windows that straddle a turn, a cough)."""
    rule = speaker_count.Rule(threshold=0.3, share=0.2, min_units=3, apart=0.8)
    two = _groups([20, 20], seed=4)
    visitor = _groups([4], seed=5)  # a third voice, far from both
    straddle = _near(two[:20], 4, 0.9, seed=6)  # near the first voice, but not inside its cluster
    assert speaker_count.count(np.concatenate([two, visitor]), rule) == 3
    assert speaker_count.count(np.concatenate([two, straddle]), rule) == 2
    assert speaker_count.count(np.concatenate([two, visitor[:2]]), rule) == 2  # under min_units
    never = speaker_count.Rule(threshold=0.3, share=0.2)  # the d-vector's shape: small clusters never count
    assert speaker_count.count(np.concatenate([two, visitor]), never) == 2


def test_one_voice_is_one_speaker_on_jfk() -> None:
    samples = decode(AUDIO / "jfk.flac")
    words = pseudo_words([(a, b, "jfk") for a, b in speech_spans(samples)])
    assert set(diarization.diarize(samples, words)) == {"A"}


def test_two_held_out_voices_are_two_speakers() -> None:
    voices = {s: decode(AUDIO / HELD_OUT[s][0]) for s in ("librispeech_2412", "picovoice")}
    conv = stitch("t", "held_out", voices, np.random.default_rng(0))
    labels = diarization.diarize(conv.samples, conv.words)
    assert len(set(labels)) == 2


def test_turns_cut_from_lead_in_silence_are_not_speech() -> None:
    """A turn that is all of a recording's lead-in silence holds no reference speech: the VAD is judged
    against the whole recording's level (FLEURS files open with 1-2 s of quiet noise)."""
    voice = decode(AUDIO / HELD_OUT["pt_fleurs"][0])
    quiet = voice[: int(0.7 * 16000)]  # before the first word
    assert speech_spans(quiet, speech_floor(voice)) == []
    assert speech_spans(voice, speech_floor(voice))


def test_separation_measures_what_the_count_sees() -> None:
    """bench/speaker_separation.py's diagnosis: for two well-apart voices the different-speaker distance
    exceeds the same-speaker one, and the best 2-split finds the reference centroids."""
    from bench.speaker_separation import Units, separation

    x = _groups([12, 12], seed=3)
    s = separation(Units(x, np.repeat([0, 1], 12)))
    assert s["raw_different"] > 5 * s["raw_same"] and s["centred_different"] > s["centred_same"]
    assert abs(s["reference_centroid_distance"] - s["split_centroid_distance"]) < 1e-6
    one = separation(Units(_groups([24], seed=3), np.zeros(24, dtype=int)))
    assert np.isnan(one["raw_different"]) and "reference_centroid_distance" not in one


@pytest.mark.real
def test_separation_benchmark_runs(tmp_path: Path) -> None:
    """bench/speaker_separation.py end to end at its smallest (2 stitched conversations per group)."""
    run = subprocess.run(
        [sys.executable, "bench/speaker_separation.py", "--per-group", "2", "--plot", str(tmp_path / "a.png"),
         "--json", "speaker_separation_test.json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads((ROOT / "bench" / "results" / "speaker_separation_test.json").read_text())
    assert result["jfk.flac"]["count_by_threshold"]["0.55"] == 1
    assert set(result["held_out_count_accuracy"]) == set(result["jfk.flac"]["count_by_threshold"])
    assert (tmp_path / "a.png").stat().st_size > 10_000
