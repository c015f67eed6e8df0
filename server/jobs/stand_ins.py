"""What may stand in for the engine on one job: a scripted result, or a recording of an upstream API.

Both are the emulator's (docs/testing.md#scripted-results, #record-and-replay). The node hands the worker pool
an implementation (server/node.py), so the job layer never imports the emulator; without one a job runs on the
engine alone (a unit test of the pipeline).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from server.config import Settings
from server.engine.base import Engine
from server.transcript_request import TranscriptRequest

Script = dict[str, Any]  # a scripted result's JSON effect, as stamped on the job (`JobFault.script`)
Speakers = list[tuple[int, int, str]]  # (start ms, end ms, speaker)


@dataclass(frozen=True)
class Recorded:
    """A job's outcome from a recording: its result and length, and the exports served as they were recorded
    (docs/testing.md#record-and-replay), not made again from its words."""

    result: dict[str, Any]
    audio_duration: int
    exports: dict[str, Any]


class JobStandIns(Protocol):
    def engine(self, script: Script | None, engine: Engine) -> Engine:
        """The engine the job runs with: the node's, or a script standing in for it."""
        ...

    def speakers(self, script: Script | None) -> Speakers | None:
        """Who speaks when, where the script says so (diarization then labels words from it)."""
        ...

    def recorded(self, request: TranscriptRequest, audio: Path, settings: Settings) -> Recorded | None:
        """The outcome from a recording; None: transcribe. A recording that fails the job
        raises JobError (server/jobs/errors.py)."""
        ...


class EngineAlone:
    """No stand-ins: every job is transcribed by the engine."""

    def engine(self, script: Script | None, engine: Engine) -> Engine:
        return engine

    def speakers(self, script: Script | None) -> Speakers | None:
        return None

    def recorded(self, request: TranscriptRequest, audio: Path, settings: Settings) -> Recorded | None:
        return None
