"""`GET /v2/transcript/{id}` answered from the ASGI scope: the request a client sends most (it polls until
the job ends), without FastAPI's routing, dependency resolution and response classes, which were about 40 %
of a poll's CPU (issue 19, docs/benchmarks.md section 4).

The fast path is taken only when the request's key is in this process's key cache (`KEYS`), so it never
reads a key from the database; anything else (no key, an unknown or expired key, another path or method)
goes on to the app and its route. Both run the same unit of work (`transcript_body`: the stamp read, then
the cached bytes or a render), so the answers, headers and errors are the same. It is the innermost
middleware: fault injection and the request journal see every request before it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from server import errors
from server.api.db import run_db
from server.api.error_handlers import error_response
from server.api.routes.transcripts import transcript_body
from server.services.accounts import KEYS, AccountRef, api_key_from

PREFIX = "/v2/transcript/"
_JSON = (b"content-type", b"application/json")


def cached_account(scope: Scope) -> AccountRef | None:
    """The account of the request's key if this process knows it already, else None (the app decides)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            key = api_key_from(value.decode("latin-1"))
            return KEYS.get(key) if key else None
    return None


def transcript_id_of(scope: Scope) -> str | None:
    """The id of a `GET /v2/transcript/{id}` (what the route's path parameter would hold), else None."""
    if scope["type"] != "http" or scope["method"] != "GET":
        return None
    path: str = scope["path"]
    if not path.startswith(PREFIX):
        return None
    transcript_id = path[len(PREFIX) :]
    return transcript_id if transcript_id and "/" not in transcript_id else None


class TranscriptPoll:
    """Pure ASGI: answers a poll of a known key itself, passes everything else on untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        transcript_id = transcript_id_of(scope)
        account = cached_account(scope) if transcript_id is not None else None
        if transcript_id is None or account is None:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["account_id"] = account.id  # for the request journal, as the route
        try:
            body = await run_db(scope, transcript_body, account, transcript_id)
        except errors.ApiError as exc:
            await error_response(exc.status, exc.message, exc.headers)(scope, receive, send)
            return
        headers = [(b"content-length", str(len(body)).encode()), _JSON]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
