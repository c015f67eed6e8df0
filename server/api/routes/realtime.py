"""Real-time: temporary tokens (REST) and the two streaming WebSockets. Thin: the work is in `streaming/`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, WebSocket
from sqlalchemy.orm import Session

from server.api.deps import current_account, get_db
from server.api.routes import api_errors, query
from server.api.routes.transcripts import json_body
from server.db.models import Account
from server.services import streams
from server.streaming import gateway
from server.streaming.v2 import V2Adapter
from server.streaming.v3 import V3Adapter

router = APIRouter()


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
def create_v2_token(
    body: Any = Depends(json_body),
    account: Account = Depends(current_account),
    db: Session = Depends(get_db, scope="function"),
) -> dict[str, Any]:
    """A single-use token for one `/v2/realtime/ws` session (CONTRACT §7)."""
    expires_in = streams.v2_token_lifetime(body)
    return {"token": streams.issue_token(db, account.id, expires_in_s=expires_in, max_session_s=None)}


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
def create_v3_token(
    request: Request,
    account: Account = Depends(current_account),
    db: Session = Depends(get_db, scope="function"),
) -> dict[str, Any]:
    """A single-use token for one `/v3/ws` session; it must be used within `expires_in_seconds`."""
    expires_in, max_session = streams.v3_token_lifetime(request.query_params)
    token = streams.issue_token(db, account.id, expires_in_s=expires_in, max_session_s=max_session)
    return {"token": token, "expires_in_seconds": expires_in}


@router.websocket("/v2/realtime/ws")
async def realtime_v2(ws: WebSocket) -> None:
    await gateway.serve(ws, V2Adapter(), ws.app.state.node.stream_decoder)


@router.websocket("/v3/ws")
async def realtime_v3(ws: WebSocket) -> None:
    adapter = V3Adapter(ws.headers.get("assemblyai-version"))
    await gateway.serve(ws, adapter, ws.app.state.node.stream_decoder)
