"""The poll fast path (server/api/transcript_poll.py, issue 19) answers as the route does.

A key unused for `KEY_CACHE_S` is answered by the route (its cached lookup has expired); its next requests
by the fast path. So each pair below compares the two, for a finished transcript, an unknown id and another
account's transcript; and a change of the row (deletion) must show in the next poll, cached bytes or not.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from server.services.accounts import KEY_CACHE_S
from tests.conftest import create_key
from tests.support.files import wait_for
from tests.support.server import ServerProcess

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def _poll_twice(server: ServerProcess, key: str, path: str) -> tuple[httpx.Response, httpx.Response]:
    """The answer of the route (the key's cached lookup has expired), then of the fast path (cached again)."""
    time.sleep(KEY_CACHE_S)
    with httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=30) as c:
        return c.get(path), c.get(path)


def _same(a: httpx.Response, b: httpx.Response) -> None:
    assert (a.status_code, a.headers["content-type"], a.content) == (
        b.status_code,
        b.headers["content-type"],
        b.content,
    )


def test_a_poll_answers_as_the_route(server: ServerProcess, jfk: Path) -> None:
    key = create_key(server)
    with httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=30) as own:
        audio_url = own.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
        tid = own.post("/v2/transcript", json={"audio_url": audio_url}).json()["id"]
        assert wait_for(own, tid)["status"] == "completed"
    route, fast = _poll_twice(server, key, f"/v2/transcript/{tid}")
    assert route.status_code == 200 and route.json()["id"] == tid
    _same(route, fast)
    assert fast.headers["content-length"] == str(len(fast.content))

    for path in (f"/v2/transcript/{UNKNOWN}", "/v2/transcript/not-an-id"):
        missing, missing_fast = _poll_twice(server, key, path)
        assert missing.status_code == 400
        _same(missing, missing_fast)
    # another account's transcript looks unknown, by either path
    other, other_fast = _poll_twice(server, create_key(server), f"/v2/transcript/{tid}")
    _same(other, other_fast)
    _same(other, missing)

    with httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=30) as own:
        assert own.delete(f"/v2/transcript/{tid}").status_code == 200
        after = own.get(f"/v2/transcript/{tid}")  # the fast path: the key is cached
    assert after.status_code == 200 and after.content != fast.content  # not the bytes cached before
    assert after.json().get("text") != fast.json()["text"]
