"""From an accepted WebSocket to a running session: credentials, tier, query, slot, optional fault.

Every refusal is a close code after the upgrade (docs/compatibility.md#v2-close-codes, #v3-close-codes): the
SDKs read close codes, not HTTP statuses. Database calls run in threads so a slow database never stalls other
sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from starlette.websockets import WebSocket, WebSocketDisconnect

from server.config import Settings
from server.db.session import session_scope
from server.services import stream_slots
from server.services.accounts import api_key_from
from server.streaming.protocol import Adapter, Refused
from server.streaming.scheduler import DecodeScheduler
from server.streaming.session import SessionRunner, close
from server.streaming.stand_ins import SessionStandIns, StandInLookup

log = logging.getLogger(__name__)


def _credential(ws: WebSocket) -> str | None:
    """API key or temporary token, from the Authorization header or the `token` query
    (docs/compatibility.md#auth)."""
    return api_key_from(ws.headers.get("authorization")) or ws.query_params.get("token") or None


def _identify(credential: str) -> stream_slots.Caller | None:
    with session_scope(write_lock=False) as db:
        return stream_slots.identify(db, credential)


def _open(
    caller: stream_slots.Caller, adapter: Adapter, headers: dict[str, str], stand_ins: StandInLookup
) -> tuple[str, SessionStandIns]:
    """Take the slot (and the token); also look up what stands in for this session: an injected close (and
    its delay), scripted turns (docs/testing.md#scripted-results), a recording's set-up (record or replay)."""
    with session_scope() as db:
        session_id = stream_slots.open_session(db, caller, adapter.name)
        return session_id, stand_ins(db, caller.account_id, headers)


def _heartbeat(session_id: str) -> Callable[[float], None]:
    def beat(audio_s: float) -> None:
        with session_scope() as db:
            stream_slots.heartbeat(db, session_id, audio_s)

    return beat


def _release(session_id: str, audio_s: float) -> None:
    with session_scope() as db:
        stream_slots.close_session(db, session_id, audio_s)


async def serve(
    ws: WebSocket, adapter: Adapter, decoder: DecodeScheduler, settings: Settings, stand_ins: StandInLookup
) -> None:
    await ws.accept()
    try:
        caller = await _admit(ws, adapter)
        stream = adapter.parse_query(ws.query_params, settings.stream_partial_interval_ms)
        session_id, standing_in = await asyncio.to_thread(_open, caller, adapter, dict(ws.headers), stand_ins)
    except Refused as refused:
        await close(ws, refused.close, adapter)
        return
    except stream_slots.TooManyStreams:
        await close(ws, adapter.too_many_streams, adapter)
        return
    except stream_slots.TokenSpent:
        await close(ws, adapter.invalid_auth, adapter)
        return

    max_session_s = min(settings.stream_max_session_s, caller.max_session_s or settings.stream_max_session_s)
    runner = SessionRunner(
        ws,
        adapter,
        stream,
        decoder,
        max_session_s=max_session_s,
        idle_timeout_s=settings.stream_idle_timeout_s,
        max_lead_s=settings.stream_max_lead_s,
        heartbeat=_heartbeat(session_id),
    )
    relay = None
    if standing_in.recognizer is not None:
        runner.recognizer = standing_in.recognizer
    elif adapter.is_v3 and standing_in.recording is not None:  # a scripted session is never recorded
        relay = standing_in.recording(runner, ws)  # record or replay (docs/testing.md#record-and-replay)
    log.info("stream %s started (%s, account %s)", session_id, adapter.name, caller.account_id)
    try:
        if relay is not None:  # record mode: the upstream answers, Begin included
            await relay.run()
        else:
            await ws.send_json(adapter.begin(session_id, time.time() + max_session_s, stream))
            await runner.run(fault=standing_in.close)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client left mid-send
    finally:
        audio_s = (relay or runner).audio_s
        await asyncio.shield(asyncio.to_thread(_release, session_id, audio_s))
        log.info("stream %s ended after %.1f s of audio", session_id, audio_s)


async def _admit(ws: WebSocket, adapter: Adapter) -> stream_slots.Caller:
    credential = _credential(ws)
    if credential is None:
        raise Refused(adapter.missing_auth)
    caller = await asyncio.to_thread(_identify, credential)
    if caller is None:
        raise Refused(adapter.invalid_auth)
    ws.state.account_id = caller.account_id  # the request journal's (server/emulator/journal.py)
    # Free tier: real-time is paid-only (docs/compatibility.md#v2-close-codes CHOICE)
    if caller.realtime_limit <= 0:
        message = adapter.paid_only_message()
        if message is not None:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await ws.send_json(message)
        raise Refused(adapter.paid_only)
    return caller
