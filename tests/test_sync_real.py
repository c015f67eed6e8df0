"""The Sync API with the real engine on real speech: the sync path's WER within 0.01 of the async path's on
the same clips (issue 22), English and German, through both SDK clients unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import assemblyai as aai
import pytest

from tests.conftest import StartServer
from tests.support.server import API_KEY
from tests.support.spec import AUDIO
from tests.support.wer import word_errors
from tests.support.wer import words as wer_words

pytestmark = pytest.mark.real

CLIPS = (
    "en_timit_LDC93S1.wav",
    "en_picovoice_leopard_test.wav",
    "en_librivox_sense_and_sensibility_01_austen_64kb-0870.wav",
    "en_librivox_sense_and_sensibility_01_austen_64kb-0920.wav",
    "en_librispeech_1995-1837-0001.wav",
    "de_thorsten_1386ecbb98a8f46dd0b0eb75d68ee0d0.wav",
    "de_thorsten_eca9d4cc394847e6876b4ba43c046c5c.wav",
)


@pytest.fixture
def backend() -> str:
    return "sqlite"


def test_sync_wer_matches_async_wer(start_server: StartServer) -> None:
    server = start_server(
        LOCALSCRIBE_ENGINE="whisper",
        LOCALSCRIBE_MODEL="base",
        LOCALSCRIBE_WORKERS="1",
        LOCALSCRIBE_MODELS_DIR=str(Path(__file__).resolve().parents[1] / "models"),
    )
    aai.settings.base_url = aai.settings.sync_base_url = server.url
    aai.settings.api_key = API_KEY
    aai.settings.polling_interval = 0.2
    manifest = {item["file"]: item for item in json.loads((AUDIO / "manifest.json").read_text())}
    sync_errors = async_errors = words = 0
    try:
        for clip in CLIPS:
            language, reference = manifest[clip]["language"], manifest[clip]["reference"]
            done = aai.Transcriber().transcribe(
                str(AUDIO / clip), aai.TranscriptionConfig(language_code=language)
            )
            assert done.status == aai.TranscriptStatus.completed, done.error
            config = aai.SyncTranscriptionConfig(language_codes=[language])
            result = aai.SyncTranscriber().transcribe(str(AUDIO / clip), config)
            print(f"{clip}\n  async: {done.text}\n  sync:  {result.text}", flush=True)
            async_errors += word_errors(reference, done.text)
            sync_errors += word_errors(reference, result.text)
            words += len(wer_words(reference))
    finally:
        aai.settings.base_url = "https://api.assemblyai.com"
        aai.settings.sync_base_url = "https://sync.assemblyai.com"
    sync_wer, async_wer = sync_errors / words, async_errors / words
    print(f"WER over {len(CLIPS)} clips, {words} words: sync {sync_wer:.4f}, async {async_wer:.4f}")
    assert sync_wer <= async_wer + 0.01
    assert sync_wer < 0.2  # real words, not an empty answer
