"""Finished transcripts as JSON bytes, so that polling a finished job re-renders nothing (issue 19).

An entry is valid only for the row state it was rendered from (its `stamp`: status, completion, deletion,
webhook status code), which the reader fetches cheaply first; anything else renders afresh. Bounded by
total bytes, least recently used dropped first.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


def dumps(content: Any) -> bytes:
    """The same bytes Starlette's JSONResponse would send for `content`."""
    text = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
    return text.encode()


class RenderedCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[Hashable, bytes]] = OrderedDict()
        self._bytes = 0

    def get(self, key: str, stamp: Hashable) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != stamp:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: str, stamp: Hashable, body: bytes) -> None:
        if len(body) > self.max_bytes // 4:
            return  # one huge transcript must not flush everything else
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1])
            self._entries[key] = (stamp, body)
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= len(dropped)


FINISHED = RenderedCache(64 * 1024 * 1024)
