"""Real-time: temporary tokens (REST) and the two streaming WebSockets. Thin: the work is in `streaming/`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, WebSocket

from server.api.db import run_db
from server.api.deps import AccountDep, JsonBody
from server.api.routes import api_errors, query
from server.db.session import session_scope
from server.services import stream_slots
from server.services.accounts import api_key_from
from server.streaming import gateway
from server.streaming.v2 import V2Adapter
from server.streaming.v3 import V3Adapter

router = APIRouter()


def _issue(api_key: str, expires_in_s: int, max_session_s: int | None) -> str:
    """A token tied to the key that minted it (revoking the key revokes the token)."""
    with session_scope() as db:  # committed before the answer: the token works on the next request
        return stream_slots.issue_token(db, api_key, expires_in_s=expires_in_s, max_session_s=max_session_s)


def _minting_key(request: Request) -> str:
    """The key `current_account` just accepted."""
    return api_key_from(request.headers.get("authorization")) or ""


@router.post(
    "/v2/realtime/token",
    operation_id="createTemporaryToken",
    tags=["streaming"],
    summary="Create temporary authentication token for Streaming STT",
    responses=api_errors(),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object", "required": ["expires_in"]}}},
        }
    },
)
async def create_v2_token(
    request: Request,
    account: AccountDep,  # first: no body is read without a valid key
    body: JsonBody,
) -> dict[str, Any]:
    """A single-use token for one `/v2/realtime/ws` session (docs/compatibility.md#tokens)."""
    expires_in = stream_slots.v2_token_lifetime(body)
    return {"token": await run_db(request.scope, _issue, _minting_key(request), expires_in, None)}


@router.get(
    "/v3/token",
    operation_id="generateStreamingToken",
    tags=["streaming"],
    summary="Generate temporary streaming token",
    responses=api_errors(400, 401, 429, 500),  # [TOK]: no 404
    openapi_extra={
        "parameters": [
            query("expires_in_seconds", {"type": "integer", "minimum": 1, "maximum": 600}, required=True),
            query("max_session_duration_seconds", {"type": "integer", "minimum": 60, "maximum": 10800}),
        ]
    },
)
async def create_v3_token(request: Request, account: AccountDep) -> dict[str, Any]:
    """A single-use token for one `/v3/ws` session; it must be used within `expires_in_seconds`."""
    expires_in, max_session = stream_slots.v3_token_lifetime(request.query_params)
    token = await run_db(request.scope, _issue, _minting_key(request), expires_in, max_session)
    return {"token": token, "expires_in_seconds": expires_in}


@router.websocket("/v2/realtime/ws")
async def realtime_v2(ws: WebSocket) -> None:
    node = ws.app.state.node
    await gateway.serve(ws, V2Adapter(), node.decode_scheduler, ws.app.state.settings, node.session_stand_ins)


@router.websocket("/v3/ws")
async def realtime_v3(ws: WebSocket) -> None:
    adapter = V3Adapter(ws.headers.get("assemblyai-version"))
    node = ws.app.state.node
    await gateway.serve(ws, adapter, node.decode_scheduler, ws.app.state.settings, node.session_stand_ins)
