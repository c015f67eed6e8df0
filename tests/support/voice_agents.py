"""Drive LiveKit's and Pipecat's AssemblyAI plugins the way their frameworks do, against a local server.

LiveKit: an `STT` stream fed 50 ms `AudioFrame`s at real-time pace; we read its `SpeechEvent`s.
Pipecat: a pipeline (input transport with Silero VAD -> `AssemblyAISTTService` -> a collector) fed 20 ms
frames at real-time pace, in either turn mode; we read the frames that reach the end of the pipeline.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FRAME_MS = 50


@dataclass
class LiveKitRun:
    events: list[Any]  # livekit.agents.stt.SpeechEvent, in order
    messages: list[dict[str, Any]] = field(default_factory=list)  # every server message the plugin read

    def kinds(self) -> list[str]:
        return [e.type.value for e in self.events]

    def finals(self) -> list[Any]:
        return [e.alternatives[0] for e in self.events if e.type.value == "final_transcript"]


def livekit_stream(
    ws_base: str, api_key: str, pcm: bytes, sample_rate: int = 16_000, **options: Any
) -> LiveKitRun:
    """Run LiveKit's AssemblyAI STT stream over `pcm` (16-bit mono) with the plugin's defaults + `options`."""
    return asyncio.run(_livekit(ws_base, api_key, pcm, sample_rate, options))


async def _livekit(ws_base: str, api_key: str, pcm: bytes, rate: int, options: dict[str, Any]) -> LiveKitRun:
    import aiohttp
    from livekit import rtc
    from livekit.plugins import assemblyai

    messages: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as http:
        stt = assemblyai.STT(
            api_key=api_key, base_url=ws_base, http_session=http, sample_rate=rate, **options
        )
        stream = stt.stream()
        original = stream._process_stream_event

        def spy(data: dict) -> None:  # what the plugin read, to validate against the specs
            messages.append(json.loads(json.dumps(data)))
            original(data)

        stream._process_stream_event = spy  # type: ignore[method-assign]
        step = rate * FRAME_MS // 1000

        async def feed() -> None:
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            samples = np.frombuffer(pcm, dtype="<i2")
            for i, at in enumerate(range(0, len(samples), step)):
                chunk = samples[at : at + step]
                frame = rtc.AudioFrame(
                    chunk.tobytes(), sample_rate=rate, num_channels=1, samples_per_channel=len(chunk)
                )
                stream.push_frame(frame)
                await asyncio.sleep(max(0.0, t0 + (i + 1) * FRAME_MS / 1000 - loop.time()))
            stream.end_input()

        feeder = asyncio.create_task(feed())
        events = [event async for event in stream]
        await feeder
        await stt.aclose()
    return LiveKitRun(events, messages)


@dataclass
class PipecatRun:
    frames: list[Any]  # the frames that reached the end of the pipeline, in order (audio left out)

    def of(self, name: str) -> list[Any]:
        return [f for f in self.frames if type(f).__name__ == name]

    def names(self) -> list[str]:
        return [type(f).__name__ for f in self.frames]


def pipecat_pipeline(
    url: str, api_key: str, pcm: bytes, *, sample_rate: int = 16_000, vad_force_turn_endpoint: bool = True,
    tail_s: float = 2.0, **settings: Any,
) -> PipecatRun:  # fmt: skip
    """Run `pcm` through input VAD -> AssemblyAISTTService (its defaults, `url`) -> a collector."""
    return asyncio.run(_pipecat(url, api_key, pcm, sample_rate, vad_force_turn_endpoint, tail_s, settings))


async def _pipecat(
    url: str, api_key: str, pcm: bytes, rate: int, force: bool, tail_s: float, settings: dict[str, Any]
) -> PipecatRun:
    from pipecat.audio.vad.silero import SileroVADAnalyzer
    from pipecat.frames.frames import EndFrame, Frame, InputAudioRawFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.runner import PipelineRunner
    from pipecat.pipeline.task import PipelineParams, PipelineTask
    from pipecat.processors.audio.vad_processor import VADProcessor
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
    from pipecat.services.assemblyai.stt import AssemblyAISTTService

    seen: list[Any] = []

    class Collector(FrameProcessor):
        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            if not isinstance(frame, InputAudioRawFrame):
                seen.append(frame)
            await self.push_frame(frame, direction)

    stt = AssemblyAISTTService(
        api_key=api_key,
        api_endpoint_base_url=url,
        vad_force_turn_endpoint=force,
        settings=AssemblyAISTTService.Settings(**settings) if settings else None,
    )
    pipeline = Pipeline([VADProcessor(vad_analyzer=SileroVADAnalyzer()), stt, Collector()])
    task = PipelineTask(pipeline, params=PipelineParams(audio_in_sample_rate=rate), enable_rtvi=False)

    async def feed() -> None:
        loop = asyncio.get_running_loop()
        step = rate * 20 // 1000  # 20 ms, as a transport delivers microphone audio
        data = pcm + bytes(int(rate * tail_s) * 2)  # silence after the speech: the last turn can end
        t0 = loop.time()
        for i, at in enumerate(range(0, len(data), step * 2)):
            frame = InputAudioRawFrame(audio=data[at : at + step * 2], sample_rate=rate, num_channels=1)
            await task.queue_frame(frame)
            await asyncio.sleep(max(0.0, t0 + (i + 1) * 0.02 - loop.time()))
        await task.queue_frame(EndFrame())

    feeder = asyncio.create_task(feed())
    await PipelineRunner(handle_sigint=False).run(task)
    await feeder
    return PipecatRun(seen)
