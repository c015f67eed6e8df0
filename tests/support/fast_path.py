"""Send one request to a route and to its pure-ASGI fast path (server/api/transcript_poll.py,
transcript_create.py), which is taken only while the key's lookup is cached."""

from __future__ import annotations

import time
from typing import Any

import httpx

from server.services.accounts import KEY_CACHE_S
from tests.support.server import ServerProcess


def route_then_fast(
    server: ServerProcess, key: str, method: str, path: str, **request: Any
) -> tuple[httpx.Response, httpx.Response]:
    """The answer of the route (the key's cached lookup has expired), then of the fast path (cached again)."""
    time.sleep(KEY_CACHE_S)
    with httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=30) as c:
        return c.request(method, path, **request), c.request(method, path, **request)


def assert_same(a: httpx.Response, b: httpx.Response) -> None:
    assert (a.status_code, a.headers["content-type"], a.content) == (
        b.status_code,
        b.headers["content-type"],
        b.content,
    )
