"""Deadlines for slow or half-sent HTTP requests, at the connection level (docs/security.md "Slow peers").

uvicorn closes idle keep-alive connections (`timeout_keep_alive`) and caps concurrent connections
(`limit_concurrency`, answered 503), but it has no deadline for a request's headers and none for a body that
stops arriving: a client sending one header byte a minute, or a Content-Length it never delivers, held its
connection (and, past the headers, a request task and its worker thread) forever. `guarded_protocol` wraps
the HTTP protocol class uvicorn would pick with two nginx-style timers:

- header timeout: a request's headers must be complete this long after its first byte (or after the
  connection opened);
- body timeout: while a request body is still expected, the client may go this long without sending any of
  it. Time during which the server itself stopped reading (back-pressure: the app has not asked for more)
  does not count.

Either one closes the connection; the app sees a disconnect (an upload in progress removes its `.part`).
WebSocket upgrades leave the guard as soon as the handshake is read.
"""

from __future__ import annotations

import asyncio
from typing import Any


def _base_protocol() -> type[asyncio.Protocol]:
    """What `http="auto"` picks: httptools when installed, else h11."""
    try:
        import httptools  # noqa: F401
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return HttpToolsProtocol
    except ImportError:  # pragma: no cover - depends on the install
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol


def guarded_protocol(header_timeout_s: float, body_timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol with the two deadlines; pass as `uvicorn.run(..., http=...)`."""
    base: Any = _base_protocol()

    class GuardedProtocol(base):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self._guard: asyncio.TimerHandle | None = None
            self._arm(header_timeout_s)

        def data_received(self, data: bytes) -> None:
            before = self.cycle
            if self._guard is None and self._between_requests():
                self._arm(header_timeout_s)  # the first byte of the next request on a kept-alive connection
            super().data_received(data)
            if self.transport.get_protocol() is not self:  # upgraded to WebSocket: not ours any more
                self._disarm()
            elif self._awaiting_body():
                self._arm(body_timeout_s)  # every chunk restarts the body clock
            elif self.cycle is not before or not self._between_requests():
                self._disarm()  # the request is whole: the app's own time is not the client's

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _between_requests(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _awaiting_body(self) -> bool:
            cycle = self.cycle
            return cycle is not None and cycle.more_body and not cycle.disconnected

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._guard = self.loop.call_later(seconds, self._expired, seconds)

        def _disarm(self) -> None:
            if self._guard is not None:
                self._guard.cancel()
                self._guard = None

        def _expired(self, seconds: float) -> None:
            self._guard = None
            if self.transport.is_closing():
                return
            if self._awaiting_body() and self.flow.read_paused:
                self._arm(seconds)  # we are the slow one (back-pressure): the client is not to blame
                return
            self.transport.close()

    GuardedProtocol.__name__ = f"Guarded{base.__name__}"
    return GuardedProtocol
