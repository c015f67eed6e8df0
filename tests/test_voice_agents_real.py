"""LiveKit and Pipecat with their defaults (Universal-3 Pro) against the real engine on real speech.

English (jfk.flac) and German (a Thorsten clip): one final per turn, text matching the human reference,
SpeechStarted before each turn's first Turn, the right language code. Few and short: the CPU is shared.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import StartServer
from tests.support.server import API_KEY, ServerProcess
from tests.support.spec import AUDIO
from tests.support.voice_agents import livekit_stream, pipecat_pipeline
from tests.support.wer import wer
from tests.test_streaming import pcm16
from tests.test_voice_agents import assert_u3_pro_sequence

pytestmark = pytest.mark.real
MODELS = Path(__file__).resolve().parents[1] / "models"
MANIFEST = {m["file"]: m for m in json.loads((AUDIO / "manifest.json").read_text())}
GERMAN = "de_thorsten_1386ecbb98a8f46dd0b0eb75d68ee0d0.wav"
# 3 s of silence after the speech, as a live microphone would send: LiveKit stops reading 5 s after its
# Terminate, so the last turn should end (by silence) before that
TAIL = bytes(16_000 * 2 * 3)


@pytest.fixture
def backend() -> str:
    return "sqlite"  # recognition does not depend on the database


@pytest.fixture
def real_server(start_server: StartServer) -> ServerProcess:
    return start_server(
        ["serve", "--no-workers"], LOCALSCRIBE_ENGINE="whisper", LOCALSCRIBE_MODELS_DIR=str(MODELS)
    )


@pytest.mark.parametrize(("clip", "language"), [("jfk.flac", "en"), (GERMAN, "de")])
def test_livekit_defaults_on_real_speech(real_server: ServerProcess, clip: str, language: str) -> None:
    run = livekit_stream(real_server.url.replace("http://", "ws://"), API_KEY, pcm16(AUDIO / clip) + TAIL)
    assert run.messages[0]["type"] == "Begin" and run.messages[-1]["type"] == "Termination"
    ends = assert_u3_pro_sequence(run.messages[1:-1], language=language)
    finals = run.finals()
    assert [f.text for f in finals] == [e["transcript"] for e in ends]  # one FINAL per turn
    assert all(str(f.language).startswith(language) for f in finals)
    text = " ".join(f.text for f in finals)
    assert wer(MANIFEST[clip]["reference"], text) <= 0.3, text  # 100 ms turns: each decoded alone


def test_pipecat_assemblyai_turns_on_german(real_server: ServerProcess) -> None:
    url = real_server.url.replace("http://", "ws://") + "/v3/ws"
    settings = {"language_detection": True}
    run = pipecat_pipeline(url, API_KEY, pcm16(AUDIO / GERMAN), vad_force_turn_endpoint=False, **settings)
    assert not run.of("ErrorFrame")
    finals = run.of("TranscriptionFrame")
    names = [n for n in run.names() if n in ("ProposedUserStartedSpeakingFrame", "TranscriptionFrame")]
    assert finals and names == ["ProposedUserStartedSpeakingFrame", "TranscriptionFrame"] * len(finals)
    assert all(str(f.language.value).startswith("de") for f in finals)
    text = " ".join(f.text for f in finals)
    assert wer(MANIFEST[GERMAN]["reference"], text) <= 0.25, text
