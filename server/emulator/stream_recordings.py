"""Record and replay v3 streaming sessions (docs/testing.md#streaming-sessions-v3): what a session runs with
in each mode. `record` relays the session to the upstream (stream_recorder.py); `replay` plays the recorded
messages in place of the recognizer (stream_replay.py); the file and its key: stream_recording_file.py."""

from __future__ import annotations

from starlette.websockets import WebSocket

from server.config import Settings
from server.emulator.stream_recorder import StreamRecorder
from server.emulator.stream_recording_file import AudioTally, stream_params
from server.emulator.stream_replay import ReplayRecognizer
from server.streaming.session import SessionRunner


def attach(runner: SessionRunner, ws: WebSocket, settings: Settings) -> StreamRecorder | None:
    """In `replay` mode, the runner's recognizer plays recordings; in `record` mode, a recorder that replaces
    the runner; None otherwise (mode off)."""
    params = stream_params(ws.query_params)
    if settings.recordings_mode == "replay":
        replayer = ReplayRecognizer(
            runner.recognizer,
            params,
            AudioTally(runner.stream.encoding, runner.stream.sample_rate),
            settings,
            ending=lambda: runner.terminating,
        )
        runner.recognizer = replayer  # type: ignore[assignment]
        runner.tap = replayer.hear
        return None
    if settings.recordings_mode == "record":
        credentials = [ws.headers.get("authorization") or "", ws.query_params.get("token") or ""]
        return StreamRecorder(ws, runner, params, settings, [c for c in credentials if c])
    return None
