"""The create fast path (server/api/transcript_create.py, issue 19) answers as the route does.

A key unused for `KEY_CACHE_S` is answered by the route (its cached lookup has expired); its next request by
the fast path. Each pair below sends the same request both ways: a create (the same JSON but for the new
id), and the errors in the route's order: a body over the cap, a body that is not JSON, a missing
`audio_url`, an upload of another account. The created job then runs like any other.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from server.services.accounts import KEY_CACHE_S
from tests.conftest import create_key
from tests.support.files import wait_for
from tests.support.server import ServerProcess


def _create_twice(server: ServerProcess, key: str, **request: Any) -> tuple[httpx.Response, httpx.Response]:
    """The answer of the route (the key's cached lookup has expired), then of the fast path (cached again)."""
    time.sleep(KEY_CACHE_S)
    with httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=30) as c:
        return c.post("/v2/transcript", **request), c.post("/v2/transcript", **request)


def _same(a: httpx.Response, b: httpx.Response) -> None:
    assert (a.status_code, a.headers["content-type"], a.content) == (
        b.status_code,
        b.headers["content-type"],
        b.content,
    )


def test_a_create_answers_as_the_route(server: ServerProcess, jfk: Path) -> None:
    key = create_key(server)
    with httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=30) as own:
        audio_url = own.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
    body = {"audio_url": audio_url, "punctuate": False, "webhook_url": "https://example.com/hook"}
    route, fast = _create_twice(server, key, json=body)
    assert route.status_code == 200 and route.json()["status"] == "queued"
    assert route.json()["id"] != fast.json()["id"]
    assert route.content.replace(route.json()["id"].encode(), fast.json()["id"].encode()) == fast.content
    assert (route.headers["content-type"], fast.headers["content-length"]) == (
        fast.headers["content-type"],
        str(len(fast.content)),
    )
    with httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=30) as own:
        for created in (route, fast):  # both were committed before the answer, and both jobs run
            assert own.get(f"/v2/transcript/{created.json()['id']}").json()["status"] in (
                "queued",
                "processing",
                "completed",
            )
            assert wait_for(own, created.json()["id"])["status"] == "completed"

    too_large = {"content": b"{" + b" " * 2_000_000 + b"}", "headers": {"Content-Type": "application/json"}}
    for request in (
        too_large,
        {"content": b"not json", "headers": {"Content-Type": "application/json"}},
        {"json": {"punctuate": True}},
        {"json": ["audio_url"]},
    ):
        route, fast = _create_twice(server, key, **request)
        assert route.status_code in (400, 413), route.text
        _same(route, fast)
    # another account may not transcribe this account's upload, by either path
    route, fast = _create_twice(server, create_key(server), json={"audio_url": audio_url})
    assert route.status_code == 403
    _same(route, fast)
