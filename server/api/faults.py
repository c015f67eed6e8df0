"""Injected HTTP faults (docs/faults.md, effect `http`): a matching REST request answers 500 or 429.

A plain ASGI middleware, so it costs nothing when no `http` rule exists: the rules are read from the
database at most once a second per process, by one request at a time (the others wait for that read
instead of each taking a connection: issue 19), and at once after an edit made here. Only the AssemblyAI
API (`/v2/…`, `/v3/…`, and the Sync and Dictation APIs, which answer in their problem-details shape) is
affected; `/admin`, `/health`, `/ready` and `/metrics` never are. A request body is read ahead only for
`POST /v2/transcript`, and only when some rule matches on the audio URL.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import errors
from server.api.db import run_db
from server.api.deps import authenticate
from server.api.error_handlers import error_response, problem_response
from server.db.session import session_scope
from server.emulator import http_rules
from server.emulator.http_rules import HTTP_RULES, HttpFault, rules_changed
from server.emulator.matching import Facts, pick_http_fault
from server.emulator.rules import consume

_SYNC_PATHS = ("/v1/", "/transcribe", "/dictation/")  # the Sync and Dictation APIs answer problem details
_SYNC_TITLES = {429: errors.SYNC_THROTTLED[1], 500: errors.SYNC_SERVER_ERROR[1]}
_FAULTABLE = ("/v2/", "/v3/", *_SYNC_PATHS)
_PEEK_LIMIT = 1 << 20  # a transcript request is small; never buffer more than this


def _load_rules() -> list[HttpFault]:
    generation = HTTP_RULES.generation()  # an edit committed during the read makes it stale
    with session_scope(write_lock=False) as db:
        return HTTP_RULES.store(http_rules.load_http_faults(db), generation)


def _consume(rule: HttpFault) -> bool:
    with session_scope() as db:
        fired = consume(db, rule)
    rules_changed()  # a rule whose `times` ran out must stop firing here at once
    return fired


class FaultInjection:
    def __init__(self, app: ASGIApp, draw: Callable[[], float] = random.random) -> None:
        self.app = app
        self.draw = draw
        self._reload: asyncio.Lock | None = None  # made on first use, inside the serving event loop

    async def _rules(self, scope: Scope) -> list[HttpFault]:
        rules = HTTP_RULES.fresh()
        if rules is not None:
            return rules
        if self._reload is None:
            self._reload = asyncio.Lock()
        async with self._reload:  # one reload at a time; those who waited find the fresh copy
            rules = HTTP_RULES.fresh()
            if rules is None:
                rules = await run_db(scope, _load_rules)
        return rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(_FAULTABLE):
            await self.app(scope, receive, send)
            return
        rules = await self._rules(scope)
        if not rules:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        account_id = None
        if any("account_id" in r.match for r in rules):
            account = await authenticate(Request(scope))
            account_id = account.id if account is not None else None
        audio_url = None
        if (
            scope["method"] == "POST"
            and scope["path"].rstrip("/") == "/v2/transcript"
            and any("audio_url" in r.match or "audio_url_regex" in r.match for r in rules)
        ):
            audio_url, receive = await _peek_audio_url(receive)
        facts = Facts(
            account_id=account_id, audio_url=audio_url, headers=dict(headers.items()), path=scope["path"]
        )
        rule = pick_http_fault(rules, facts, self.draw)
        if rule is not None and (not rule.limited or await run_db(scope, _consume, rule)):
            extra = http_rules.http_fault_headers(rule)
            if scope["path"].startswith(_SYNC_PATHS):
                problem = errors.Problem(rule.status, _SYNC_TITLES[rule.status], rule.message, extra)
                response = problem_response(problem)
            else:
                response = error_response(rule.status, rule.message, extra)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _peek_audio_url(receive: Receive) -> tuple[str | None, Receive]:
    """Read the body ahead (up to a limit) for its `audio_url`; the app then gets the same messages."""
    seen: list[Message] = []
    size, more = 0, True
    while more and size <= _PEEK_LIMIT:
        message = await receive()
        seen.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    audio_url = None
    if not more:
        try:
            data: Any = json.loads(b"".join(m.get("body", b"") for m in seen))
        except (ValueError, UnicodeDecodeError, RecursionError):  # the route answers 400 for those
            data = None
        if isinstance(data, dict) and isinstance(data.get("audio_url"), str):
            audio_url = data["audio_url"]

    async def replay() -> Message:
        return seen.pop(0) if seen else await receive()

    return audio_url, replay
