"""The speech options through the batched decoding path (server/engine/whisper.py `batches`): the same SDK
tests as tests/test_options_real.py, against a server that batches every file (LOCALSCRIBE_BATCH_MIN_S=0),
so each option gives the same API result whichever path a job takes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import assemblyai as aai
import numpy as np
import pytest

from server.engine.base import TranscribeOptions
from server.engine.batched_files import FileToDecode, decode_files
from server.engine.whisper import WhisperEngine
from server.media.rate import SAMPLE_RATE
from tests import test_options_real as options
from tests.conftest import StartServer
from tests.support.server import API_KEY
from tests.support.spec import AUDIO
from tests.support.wer import wer

pytestmark = pytest.mark.real
MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def real_settings() -> dict[str, str]:
    return {"LOCALSCRIBE_BATCH_MIN_S": "0"}  # every file through the batched path


# the option tests of tests/test_options_real.py, collected again here under this module's settings
for _name in (
    "test_span_custom_spelling_and_unformatted_text",
    "test_multichannel_transcribes_each_channel",
    "test_word_boost_recognises_a_rare_term",
    "test_disfluencies_on_synthesised_speech",
    "test_filter_profanity_on_synthesised_speech",
    "test_exports_of_a_real_transcript",
):
    globals()[_name.replace("test_", "test_batched_", 1)] = getattr(options, _name)


# --- several short jobs in one batched call (server/engine/batched_files.py, call_batcher.py) -------------

SHORT_CLIPS = [
    "jfk.flac",
    "en_timit_LDC93S1.wav",
    "en_librispeech_1995-1837-0001.wav",
    "en_picovoice_leopard_test.wav",
]


def _engine(model: str = "tiny.en") -> WhisperEngine:
    return WhisperEngine(default_model=model, models_dir=MODELS, device="cpu", batch_min_s=0)


def test_short_files_decoded_together_give_what_each_gives_alone() -> None:
    from faster_whisper import decode_audio

    whisper = _engine().load()
    clips = [decode_audio(str(AUDIO / name)) for name in SHORT_CLIPS]
    clips.insert(2, np.zeros(3 * SAMPLE_RATE, dtype=np.float32))  # a silent file among them
    english = TranscribeOptions(language="en")
    alone = [decode_files(whisper, [FileToDecode(c, english)], batch_size=8, beam_size=2)[0] for c in clips]
    together = decode_files(whisper, [FileToDecode(c, english) for c in clips], batch_size=8, beam_size=2)

    assert [[w.text for w in r.words] for r in together] == [[w.text for w in r.words] for r in alone]
    assert together[2].words == []
    assert "ask not what your country can do for you" in " ".join(w.text for w in together[0].words).lower()
    for samples, one, shared in zip(clips, alone, together, strict=True):
        duration = len(samples) / SAMPLE_RATE
        assert all(0 <= w.start <= w.end <= duration + 0.05 for w in shared.words)  # each on its own clock
        shifts = [
            abs(a.start - b.start) + abs(a.end - b.end) for a, b in zip(one.words, shared.words, strict=True)
        ]
        # faster-whisper shortens a long first word after a pause, measured from the previous chunk's last
        # word: a file's first word may move when another file precedes it in the call; the rest may not
        assert not shifts or max(shifts[1:], default=0.0) <= 0.1


def test_concurrent_short_jobs_share_one_batched_call(start_server: StartServer) -> None:
    server = start_server(
        LOCALSCRIBE_ENGINE="whisper",
        LOCALSCRIBE_MODEL="base",
        LOCALSCRIBE_MODELS_DIR=str(MODELS),
        LOCALSCRIBE_WORKERS="4",
        LOCALSCRIBE_BATCH_MIN_S="0",  # short files take the batched path on the CPU too,
        LOCALSCRIBE_BATCH_JOBS="4",  # and share calls there as on a GPU
    )
    aai.settings.base_url, aai.settings.api_key, aai.settings.polling_interval = server.url, API_KEY, 0.2
    try:
        transcriber = aai.Transcriber()
        nano = aai.TranscriptionConfig(speech_models=["nano"])
        urls = [transcriber.upload_file(str(AUDIO / name)) for name in SHORT_CLIPS]  # then all jobs at once
        submitted = [transcriber.submit(url, nano) for url in urls]
        done = [t.wait_for_completion(poll_timeout=120) for t in submitted]
    finally:
        aai.settings.base_url = "https://api.assemblyai.com"
    references = {m["file"]: m["reference"] for m in json.loads((AUDIO / "manifest.json").read_text())}
    for name, transcript in zip(SHORT_CLIPS, done, strict=True):
        assert transcript.status == "completed", transcript.error
        assert wer(references[name], transcript.text) <= 0.2, (name, transcript.text)
        assert all(
            0 <= w.start <= w.end <= transcript.audio_duration * 1000 + 50 for w in transcript.words
        ), [(w.text, w.start, w.end) for w in transcript.words]
    assert server.log_path is not None
    shared = re.findall(r"decoded (\d+) files in one batched call", server.log_path.read_text())
    assert shared and max(map(int, shared)) >= 2  # the first job decodes alone; the next ones, together
