"""`POST /v2/transcript` answered from the ASGI scope, as the poll is (server/api/transcript_poll.py): a CI
suite's parallel creates were CPU-bound, and FastAPI's routing, dependency resolution (one of them a hop to
a worker thread) and response classes were about half of a create's CPU on the event loop (issue 19,
docs/benchmarks.md section 4).

Taken only when the request's key is in this process's key cache; anything else goes on to the route. Both
read the body the same way (`read_json`: the cap, then the parse) after the key check, compute the same base
URL and run the same unit (`create_body`), so answers and errors are the same, in the same order. It sits
with the poll's, inside fault injection and the request journal.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from server import errors
from server.api.body import read_json
from server.api.db import run_db
from server.api.deps import base_url
from server.api.error_handlers import error_response
from server.api.routes.transcripts import create_body
from server.api.transcript_poll import cached_account

PATH = "/v2/transcript"
_JSON = (b"content-type", b"application/json")


class TranscriptCreate:
    """Pure ASGI: creates a transcript for a known key itself, passes everything else on untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_create = scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == PATH
        account = cached_account(scope) if is_create else None
        if account is None:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["account_id"] = account.id  # for the request journal, as the route
        request = Request(scope, receive)
        app = scope["app"]
        settings = app.state.settings
        try:
            body = await read_json(request, settings.max_json_body_bytes)
            base = await base_url(request)
            headers = dict(request.headers)
            rendered = await run_db(scope, create_body, settings, account, body, headers, base)
        except errors.ApiError as exc:
            await error_response(exc.status, exc.message, exc.headers)(scope, receive, send)
            return
        app.state.node.wake()  # the row is committed: an idle worker here may take it at once
        headers_out = [(b"content-length", str(len(rendered)).encode()), _JSON]
        await send({"type": "http.response.start", "status": 200, "headers": headers_out})
        await send({"type": "http.response.body", "body": rendered})
