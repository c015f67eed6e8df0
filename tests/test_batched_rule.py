"""Which path a file takes (batched or sequential), and the `cuda` path's calls, without a GPU or a model run:
faster-whisper's classes are replaced by recorders, so the rule and what reaches CTranslate2 are checked
on any machine (the GPU run itself: docs/benchmarks.md#batched-decoding)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from server.config import Settings
from server.engine import build_engine
from server.engine.base import TranscribeOptions, WindowOf
from server.engine.whisper import BATCH_BEAM_SIZE, BATCH_JOBS, BATCH_MIN_S, WhisperEngine
from server.media.rate import SAMPLE_RATE

MODELS = Path(__file__).resolve().parents[1] / "models"


def _engine(device: str = "cpu", **kwargs: Any) -> WhisperEngine:
    return WhisperEngine(default_model="base", models_dir=MODELS, device=device, **kwargs)


def test_cpu_batches_long_files_only() -> None:
    engine = _engine()
    assert engine.compute_type == "int8" and engine.batch_min_s == BATCH_MIN_S["cpu"] > 30
    assert not engine.batches(TranscribeOptions(), 30.0)
    assert engine.batches(TranscribeOptions(), BATCH_MIN_S["cpu"])
    # a window of a long file follows the file, so a job's windows all take the same path
    short_window = TranscribeOptions(window=WindowOf(start_s=600.0, total_s=900.0, last=True))
    assert engine.batches(short_window, 10.0)
    assert not engine.batches(TranscribeOptions(window=WindowOf(0.0, 20.0, True)), 20.0)


def test_code_switching_and_batch_size_one_stay_sequential() -> None:
    assert not _engine().batches(TranscribeOptions(multilingual=True), 600.0)
    assert not _engine(batch_size=1).batches(TranscribeOptions(), 600.0)


def test_cuda_batches_every_file_in_float16() -> None:
    engine = _engine("cuda")
    assert (engine.device, engine.compute_type) == ("cuda", "float16")
    assert engine.batches(TranscribeOptions(), 3.0)


def test_settings_reach_the_engine() -> None:
    settings = Settings(engine="whisper", device="cuda", batch_size=16, batch_min_s=5.0, models_dir=MODELS)
    engine = build_engine(settings)
    assert isinstance(engine, WhisperEngine)
    assert (engine.batch_size, engine.batch_min_s, engine.compute_type) == (16, 5.0, "float16")
    assert engine.batch_jobs == BATCH_JOBS["cuda"] > 1  # short jobs share calls on a GPU...
    assert _engine().batch_jobs == BATCH_JOBS["cpu"] == 1  # ...not on the CPU, where that was slower
    settings = Settings(engine="whisper", device="cpu", batch_jobs=4, models_dir=MODELS)
    assert getattr(build_engine(settings), "batch_jobs", None) == 4


def test_batched_beam_is_the_device_default_unless_a_beam_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _engine().batch_beam_size == (BATCH_BEAM_SIZE["cpu"] or 5)
    assert _engine("cuda", beam_size=3).batch_beam_size == (BATCH_BEAM_SIZE["cuda"] or 3)
    assert _engine(batch_beam_size=2).batch_beam_size == 2
    for name in ("LOCALSCRIBE_BEAM_SIZE", "LOCALSCRIBE_BATCH_BEAM_SIZE"):
        monkeypatch.delenv(name, raising=False)

    def built(**settings: Any) -> int:
        engine = build_engine(Settings(engine="whisper", device="cpu", models_dir=MODELS, **settings))
        assert isinstance(engine, WhisperEngine)
        return engine.batch_beam_size

    assert built() == (BATCH_BEAM_SIZE["cpu"] or 5)
    monkeypatch.setenv("LOCALSCRIBE_BEAM_SIZE", "3")  # a beam set explicitly is every path's
    assert built() == 3
    assert built(batch_beam_size=2) == 2


class _Recorder:
    """Stands in for faster_whisper.WhisperModel and BatchedInferencePipeline; records each call."""

    calls: list[tuple[str, dict[str, Any]]] = []
    frames_per_second = 100

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _Recorder.calls.append((type(self).__name__ + ".__init__", kwargs))

    def transcribe(self, samples: np.ndarray, **kwargs: Any) -> tuple[list, SimpleNamespace]:
        _Recorder.calls.append((type(self).__name__ + ".transcribe", kwargs))
        word = SimpleNamespace(word=" hello", start=0.5, end=0.9, probability=0.9)
        segment = SimpleNamespace(words=[word], seek=0, start=0.0, end=1.0)
        return [segment], SimpleNamespace(language="en", language_probability=1.0)


class _Model(_Recorder):
    pass


class _Pipeline(_Recorder):
    pass


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    import faster_whisper
    import faster_whisper.vad

    _Recorder.calls = []
    monkeypatch.setattr(faster_whisper, "WhisperModel", _Model)
    monkeypatch.setattr(faster_whisper, "BatchedInferencePipeline", _Pipeline)

    def all_speech(
        samples: np.ndarray, *args: Any
    ) -> list[dict[str, int]]:  # silence here; no VAD model runs
        return [{"start": 0, "end": len(samples)}]

    monkeypatch.setattr(faster_whisper.vad, "get_speech_timestamps", all_speech)
    return _Recorder.calls


def test_cuda_path_builds_float16_and_decodes_in_batches(recorded: list) -> None:
    engine = _engine("cuda", batch_size=16)
    options = TranscribeOptions(language="en", hotwords=["ComfyUI"], prompt="Umm, hmm.", temperature=0.2)
    result = engine.transcribe(np.zeros(5 * SAMPLE_RATE, dtype=np.float32), options)
    assert [w.text for w in result.words] == ["hello"]
    (built, init), (_, pipe_init), (called, kwargs) = recorded
    assert built == "_Model.__init__" and (init["device"], init["compute_type"]) == ("cuda", "float16")
    assert pipe_init == {} and called == "_Pipeline.transcribe"
    assert kwargs["batch_size"] == 16 and kwargs["word_timestamps"] is True
    # the file's VAD chunk, as one clip (+0.5 sample: the pipeline rounds down when it turns it into samples)
    assert kwargs["clip_timestamps"] == [
        {"start": 0.5 / SAMPLE_RATE, "end": (5 * SAMPLE_RATE + 0.5) / SAMPLE_RATE}
    ]
    expected = ("ComfyUI", "Umm, hmm.", 0.2)
    assert (kwargs["hotwords"], kwargs["initial_prompt"], kwargs["temperature"]) == expected
    assert engine._shared_files.sizes == [1]  # a short file goes through the calls jobs share


def test_cpu_short_file_takes_the_sequential_path(recorded: list) -> None:
    engine = _engine()
    engine.transcribe(np.zeros(5 * SAMPLE_RATE, dtype=np.float32), TranscribeOptions(language="en"))
    assert [name for name, _ in recorded] == ["_Model.__init__", "_Model.transcribe"]
    kwargs = recorded[-1][1]
    assert kwargs["condition_on_previous_text"] is True and len(kwargs["temperature"]) == 6


def test_cpu_long_file_decodes_in_batches_with_the_batched_beam(recorded: list) -> None:
    engine = _engine(beam_size=4, batch_beam_size=2)
    long = np.zeros(int(BATCH_MIN_S["cpu"] + 1) * SAMPLE_RATE, dtype=np.float32)
    engine.transcribe(long, TranscribeOptions(language="en"))
    assert recorded[-1][0] == "_Pipeline.transcribe" and recorded[-1][1]["beam_size"] == 2
    engine.transcribe(long, TranscribeOptions(language="en", beam_size=3))  # a call's own beam wins
    assert recorded[-1][1]["beam_size"] == 3
    engine.transcribe(long[: 5 * SAMPLE_RATE], TranscribeOptions(language="en"))  # sequential: the engine's
    assert recorded[-1][0] == "_Model.transcribe" and recorded[-1][1]["beam_size"] == 4
