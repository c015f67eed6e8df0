"""What may stand in for part of one live session: an injected close (docs/faults.md), and scripted turns
played instead of decoding (docs/testing.md#scripted-results).

Both are the emulator's. The route hands the gateway the node's look-up (server/node.py), which runs in the
database unit that takes the session's slot, so streaming never imports the emulator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from server.engine.recognizer import StreamRecognizer
from server.streaming.close_codes import Close


@dataclass(frozen=True)
class SessionStandIns:
    close: tuple[Close, float] | None = None  # close the session with this, this many seconds in
    recognizer: StreamRecognizer | None = None  # replaces the runner's: it plays scripted turns


# (database session, account id, the upgrade request's headers) -> what stands in for this session
StandInLookup = Callable[[Session, str, Mapping[str, str]], SessionStandIns]
