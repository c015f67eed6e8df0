"""How a JSON request body is read: capped before it is read, parsed off the event loop (issue 14).

Routes declare `JsonBody` (server/api/deps.py) after their authentication, so a request without a valid key
is refused before a byte of its body is read. `parse_json` (server/api/json_values.py) is the one place a
body becomes Python values and refuses the ones no layer below can hold.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio.to_thread
from fastapi import Request

from server import errors
from server.api.json_values import parse_json

INLINE_PARSE_BYTES = 16_384  # smaller bodies parse in microseconds, less than a hop to a thread costs


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


async def read_json(request: Request, limit: int, *, text_columns: bool = False) -> Any:
    """The capped body through `parse_json` (which also refuses values the layers below cannot hold)."""
    raw = await read_capped(request, limit)
    parse = partial(parse_json, raw, text_columns=text_columns)
    if len(raw) <= INLINE_PARSE_BYTES:
        return parse()
    return await anyio.to_thread.run_sync(parse)
