"""Pipecat's `AssemblyAISyncSTTService` (pipecat-ai 1.14.0, unchanged, `base_url` pointed here) in a pipeline
with its Silero VAD: one transcription per utterance, on speech from tests/data
(docs/compatibility.md#sync-api)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from server.media.decode import decode
from tests.conftest import StartServer
from tests.support.server import API_KEY
from tests.support.spec import AUDIO
from tests.support.wer import wer

pytest.importorskip("pipecat.services.assemblyai.stt")

RATE = 16000
ENGLISH = ("en_timit_LDC93S1.wav", "en_picovoice_leopard_test.wav")
GERMAN = (
    "de_thorsten_1386ecbb98a8f46dd0b0eb75d68ee0d0.wav",
    "de_thorsten_eca9d4cc394847e6876b4ba43c046c5c.wav",
)


@pytest.fixture
def backend() -> str:
    return "sqlite"


def _utterances(clips: tuple[str, ...]) -> bytes:
    """The clips one after another with 1.5 s of silence after each, as PCM16 at 16 kHz."""
    gap = np.zeros(int(1.5 * RATE), dtype=np.float32)
    audio = np.concatenate([part for clip in clips for part in (decode(AUDIO / clip), gap)])
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


async def _run_pipeline(url: str, pcm: bytes, language: Any) -> list[Any]:
    import aiohttp
    from pipecat.audio.vad.silero import SileroVADAnalyzer
    from pipecat.audio.vad.vad_analyzer import VADParams
    from pipecat.frames.frames import EndFrame, Frame, InputAudioRawFrame, TranscriptionFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.runner import PipelineRunner
    from pipecat.pipeline.task import PipelineParams, PipelineTask
    from pipecat.processors.audio.vad_processor import VADProcessor
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
    from pipecat.services.assemblyai.stt import AssemblyAISyncSTTService

    seen: list[Any] = []

    class Collector(FrameProcessor):
        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            if isinstance(frame, TranscriptionFrame):
                seen.append(frame)
            await self.push_frame(frame, direction)

    async with aiohttp.ClientSession() as session:
        settings = AssemblyAISyncSTTService.Settings(language=language)
        stt = AssemblyAISyncSTTService(
            api_key=API_KEY, aiohttp_session=session, base_url=url, settings=settings
        )
        # 0.8 s of silence ends an utterance (Pipecat's default 0.2 s also cuts at a speaker's breath)
        vad = SileroVADAnalyzer(params=VADParams(stop_secs=0.8))
        pipeline = Pipeline([VADProcessor(vad_analyzer=vad), stt, Collector()])
        task = PipelineTask(pipeline, params=PipelineParams(audio_in_sample_rate=RATE), enable_rtvi=False)

        async def feed() -> None:
            loop = asyncio.get_running_loop()
            step = RATE * 20 // 1000 * 2  # 20 ms, as a transport delivers microphone audio
            t0 = loop.time()
            for i, at in enumerate(range(0, len(pcm), step)):
                frame = InputAudioRawFrame(audio=pcm[at : at + step], sample_rate=RATE, num_channels=1)
                await task.queue_frame(frame)
                await asyncio.sleep(max(0.0, t0 + (i + 1) * 0.02 - loop.time()))
            await asyncio.sleep(1.0)
            for _ in range(600):  # the last request may still be running on a busy machine
                if len(seen) >= 2:
                    break
                await asyncio.sleep(0.5)
            await task.queue_frame(EndFrame())

        feeder = asyncio.create_task(feed())
        await PipelineRunner(handle_sigint=False).run(task)
        await feeder
    return seen


def test_one_transcription_per_utterance_mock(start_server: StartServer, tmp_path: Path) -> None:
    from pipecat.transcriptions.language import Language

    server = start_server(LOCALSCRIBE_MOCK_TEXT="turn text")
    frames = asyncio.run(_run_pipeline(server.url, _utterances(ENGLISH), Language.EN))
    assert len(frames) == 2  # Pipecat's VAD cut two utterances; each became one Sync request
    assert all(f.text.startswith("turn text") for f in frames)
    assert all(f.result["session_id"] and f.result["audio_duration_ms"] > 2000 for f in frames)


@pytest.mark.real
@pytest.mark.timeout(1200)
@pytest.mark.parametrize(("clips", "code"), [(ENGLISH, "EN"), (GERMAN, "DE")])
def test_pipecat_sync_real_speech(start_server: StartServer, clips: tuple[str, ...], code: str) -> None:
    from pipecat.transcriptions.language import Language

    server = start_server(
        LOCALSCRIBE_ENGINE="whisper",
        LOCALSCRIBE_WORKERS="1",
        LOCALSCRIBE_MODELS_DIR=str(Path(__file__).resolve().parents[1] / "models"),
    )
    frames = asyncio.run(_run_pipeline(server.url, _utterances(clips), getattr(Language, code)))
    manifest = {item["file"]: item for item in json.loads((AUDIO / "manifest.json").read_text())}
    assert len(frames) == len(clips)  # one transcription per utterance
    references = " ".join(manifest[clip]["reference"] for clip in clips)
    said = " ".join(frame.text for frame in frames)
    # the async path gets 0.14 on these English clips (en_timit: "your", "in", "water") and 0.05 on the German
    assert wer(references, said) <= 0.2, said
