"""What one process runs besides HTTP: the engine, its worker pool (absent with `--no-workers`) and the
decoder that live streams share (streams are served where their socket is, so every API process has one).

The composition root below the app: the emulator's stand-ins (scripted results, recordings of jobs and of
streams, injected stream closes: docs/testing.md, docs/faults.md) are handed to the jobs and the streams from
here, as the small protocols those layers declare (server/jobs/stand_ins.py, server/streaming/stand_ins.py),
so neither imports the emulator, nor the emulator them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.orm import Session
from starlette.websockets import WebSocket

from server.config import Settings
from server.emulator import scripts
from server.emulator.matching import stream_fault
from server.emulator.recordings import RecordingError, recorded_outcome
from server.emulator.scripted import ScriptedRecognizer, scripted_engine, scripted_speakers
from server.emulator.stream_recorder import StreamRecorder
from server.emulator.stream_recording_file import AudioTally, stream_params
from server.emulator.stream_replay import ReplayRecognizer
from server.engine import build_engine
from server.engine.base import Engine
from server.intelligence import speaker_campplus
from server.jobs.errors import JobError
from server.jobs.stand_ins import Recorded, Script, Speakers
from server.jobs.sweeper import sweep
from server.jobs.worker import WorkerPool
from server.streaming.close_codes import V3_RECORDING, Close
from server.streaming.protocol import Ready, Refused
from server.streaming.scheduler import DecodeScheduler
from server.streaming.session import SessionRunner, close
from server.streaming.stand_ins import Relay, SessionStandIns, StandInLookup
from server.sync.transcribe import Capacity
from server.transcript_request import TranscriptRequest

log = logging.getLogger(__name__)


class Node:
    def __init__(self, settings: Settings, *, workers: bool = True, streams: bool = True) -> None:
        self.settings = settings
        speaker_campplus.set_cache_dir(settings.models_dir / "speaker-campplus")  # graph made on first use
        # models load on first use; the async jobs' decoding yields the CPU to live decodes (a person waits)
        self.engine: Engine = build_engine(settings, nice=settings.job_decode_nice)
        self.pool = WorkerPool(settings, self.engine, EmulatorJobStandIns()) if workers else None
        # live decodes (streams, Sync API) get models of their own: on a model shared with the async jobs,
        # CTranslate2 would run a live decode only between a job's calls (7.8 s instead of 0.54 s for a 5 s
        # sync request on base, bench/sync_latency.py); its own workers on one model slow every call instead
        live = build_engine(settings, concurrent_calls=settings.stream_decode_threads)
        self.decode_scheduler = DecodeScheduler(live, settings)
        # the routes hand it to the streams
        self.session_stand_ins: StandInLookup = EmulatorSessionStandIns(settings)
        self.streams = streams  # this process serves WebSockets: preload the streaming model
        self._stopped = threading.Event()
        # docs/compatibility.md#sync-api
        self.sync_capacity = Capacity(settings.sync_max_concurrent, settings.sync_retry_after_s)

    def start(self) -> None:
        if self.pool is not None:
            self.pool.start()
        # Load models in the background so the first job or stream does not pay for them.
        jobs = [(self.engine, self.settings.model)] if self.pool is not None else []
        # streams: the English model and the multilingual one behind Universal-3 Pro (the frameworks' default)
        live = self.decode_scheduler.engine
        if self.streams:
            jobs += [(live, self.settings.stream_model), (live, self.settings.stream_model_multilingual)]
        threading.Thread(target=self._warm_up, args=(jobs,), name="warm-up", daemon=True).start()
        threading.Thread(target=self._sweep_files, name="sweeper", daemon=True).start()

    def _sweep_files(self) -> None:
        """Expired uploads, orphans, stale redacted audio; the start-up sweep ran in prepare_database."""
        while not self._stopped.wait(self.settings.sweep_interval_s):
            try:
                sweep(self.settings)
            except Exception:
                log.exception("sweeping files failed")

    def _warm_up(self, models: list[tuple[Engine, str]]) -> None:
        for engine, model in models:
            load = getattr(engine, "load", None)
            if load is None:
                continue
            try:
                load(model)
            except Exception:
                log.exception("loading model %s failed", model)

    def stop(self) -> None:
        self._stopped.set()
        if self.pool is not None:
            self.pool.stop()
        self.decode_scheduler.shutdown()

    def wake(self) -> None:
        """A job was queued through this process: let an idle worker here take it without waiting to poll."""
        if self.pool is not None:
            self.pool.wake()

    def engine_ready(self) -> bool:
        """An API-only node has no model to wait for."""
        return self.pool is None or self.engine.is_ready()


class EmulatorJobStandIns:
    """The emulator's stand-ins for one job (the pipeline's `JobStandIns`); a recording that fails ends the
    job in `error` with its message."""

    def engine(self, script: Script | None, engine: Engine) -> Engine:
        return scripted_engine(script, engine)

    def speakers(self, script: Script | None) -> Speakers | None:
        return scripted_speakers(script)

    def recorded(self, request: TranscriptRequest, audio: Path, settings: Settings) -> Recorded | None:
        try:
            found = recorded_outcome(request.to_json(), audio, settings)
        except RecordingError as exc:
            raise JobError(exc.message) from exc
        return None if found is None else Recorded(found.result, found.audio_duration, found.exports)


class EmulatorSessionStandIns:
    """What stands in for one new live session (the gateway's `StandInLookup`): an injected close and scripted
    turns, each counting one firing of its rule; in record or replay mode, the v3 session's recording."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(self, db: Session, account_id: str, headers: Mapping[str, str]) -> SessionStandIns:
        fault = stream_fault(db, account_id, headers)
        turns = scripts.stream_turns(db, account_id, headers)
        return SessionStandIns(
            close=(Close(fault.code, fault.reason), fault.after_s) if fault else None,
            recognizer=ScriptedRecognizer(turns) if turns is not None else None,
            recording=None if self.settings.recordings_mode == "off" else self._recording,
        )

    def _recording(self, runner: SessionRunner, ws: WebSocket) -> Relay | None:
        """Replay: the recorded messages play in place of the runner's recognizer, keyed and checked on the
        bytes as sent (its tap); record: a relay to the upstream serves the session
        (docs/testing.md#record-and-replay)."""
        params = stream_params(ws.query_params)
        tally = AudioTally(runner.stream.encoding, runner.stream.sample_rate)
        if self.settings.recordings_mode == "replay":
            replay = ReplayRecognizer(
                runner.recognizer,
                params,
                tally,
                self.settings,
                ending=lambda: runner.terminating,
                as_is=Ready,
                refuse=_recording_refused,
            )
            runner.recognizer = replay  # type: ignore[assignment]
            runner.tap = replay.hear
            return None

        async def close_client(message: str | None) -> None:
            how = runner.adapter.server_error if message is None else V3_RECORDING.format(message=message)
            await close(ws, how, runner.adapter)

        credentials = [ws.headers.get("authorization") or "", ws.query_params.get("token") or ""]
        return StreamRecorder(
            ws,
            params,
            self.settings,
            [c for c in credentials if c],
            tally=tally,
            heartbeat=runner.heartbeat,
            close_client=close_client,
        )


def _recording_refused(message: str) -> Refused:
    """A replay that cannot go on closes its session with 3005 and the whole message in the Error frame."""
    return Refused(V3_RECORDING.format(message=message))
