"""How a JSON request body is read: capped before it is read, parsed off the event loop (issue 14).

Routes declare `Depends(json_body)` after their authentication, so a request without a valid key is refused
before a byte of its body is read. `parse_json` is the one place a body becomes Python values; checks on
the values belong right after it.
"""

from __future__ import annotations

import json
from typing import Any

import anyio.to_thread
from fastapi import Request

from server import errors

INLINE_PARSE_BYTES = 16_384  # smaller bodies parse in microseconds, less than a hop to a thread costs


def parse_json(raw: bytes) -> Any:
    """Bytes to values, or the API's 400."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise errors.ApiError(400, errors.INVALID_JSON) from None


async def read_capped(request: Request, limit: int) -> bytes:
    """The whole body, or 413 as soon as it is known to exceed `limit` (declared length first)."""
    too_large = errors.ApiError(413, errors.BODY_TOO_LARGE.format(limit=limit))
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int) -> Any:
    raw = await read_capped(request, limit)
    if len(raw) <= INLINE_PARSE_BYTES:
        return parse_json(raw)
    return await anyio.to_thread.run_sync(parse_json, raw)


async def json_body(request: Request) -> Any:
    """The request's JSON body under the configured cap (`LOCALSCRIBE_MAX_JSON_BODY_BYTES`)."""
    return await read_json(request, request.app.state.settings.max_json_body_bytes)
