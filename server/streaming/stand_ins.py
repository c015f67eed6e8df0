"""What may stand in for part of one live session: an injected close (docs/faults.md), scripted turns played
instead of decoding (docs/testing.md#scripted-results), and a v3 session's recording: relayed to an upstream
and recorded, or replayed (docs/testing.md#streaming-sessions-v3).

All are the emulator's. The route hands the gateway the node's look-up (server/node.py), which runs in the
database unit that takes the session's slot, so streaming never imports the emulator (nor it streaming: the
node adapts one to the other).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session
from starlette.websockets import WebSocket

from server.engine.recognizer import Recognizer
from server.streaming.close_codes import Close
from server.streaming.session import SessionRunner


class Relay(Protocol):
    """A session served by another server and relayed (record mode): it speaks to the client itself, `Begin`
    to the close, in place of the runner."""

    @property
    def audio_s(self) -> float: ...  # the audio passed on, for the session's slot

    async def run(self) -> None: ...


# (the session's runner, its socket) -> a relay that serves the session in place of the runner, or None: the
# runner serves it, with whatever the set-up gave it (a replay: its recognizer and its `tap`)
RecordingSetUp = Callable[[SessionRunner, WebSocket], Relay | None]


@dataclass(frozen=True)
class SessionStandIns:
    close: tuple[Close, float] | None = None  # close the session with this, this many seconds in
    recognizer: Recognizer | None = None  # replaces the runner's: it plays scripted turns
    recording: RecordingSetUp | None = None  # record or replay mode: set up on a v3 session's runner


# (database session, account id, the upgrade request's headers) -> what stands in for this session
StandInLookup = Callable[[Session, str, Mapping[str, str]], SessionStandIns]
