"""The poll fast path (server/api/transcript_poll.py, issue 19) answers as the route does.

A key unused for `KEY_CACHE_S` is answered by the route (its cached lookup has expired); its next requests
by the fast path. So each pair below compares the two, for a finished transcript, an unknown id and another
account's transcript; and a change of the row (deletion) must show in the next poll, cached bytes or not.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import create_key
from tests.support.fast_path import assert_same, route_then_fast
from tests.support.files import wait_for
from tests.support.server import ServerProcess

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def test_a_poll_answers_as_the_route(server: ServerProcess, jfk: Path) -> None:
    key = create_key(server)
    with httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=30) as own:
        audio_url = own.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
        tid = own.post("/v2/transcript", json={"audio_url": audio_url}).json()["id"]
        assert wait_for(own, tid)["status"] == "completed"
    route, fast = route_then_fast(server, key, "GET", f"/v2/transcript/{tid}")
    assert route.status_code == 200 and route.json()["id"] == tid
    assert_same(route, fast)
    assert fast.headers["content-length"] == str(len(fast.content))

    for path in (f"/v2/transcript/{UNKNOWN}", "/v2/transcript/not-an-id"):
        missing, missing_fast = route_then_fast(server, key, "GET", path)
        assert missing.status_code == 400
        assert_same(missing, missing_fast)
    # another account's transcript looks unknown, by either path
    other, other_fast = route_then_fast(server, create_key(server), "GET", f"/v2/transcript/{tid}")
    assert_same(other, other_fast)
    assert_same(other, missing)

    with httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=30) as own:
        assert own.delete(f"/v2/transcript/{tid}").status_code == 200
        after = own.get(f"/v2/transcript/{tid}")  # the fast path: the key is cached
    assert after.status_code == 200 and after.content != fast.content  # not the bytes cached before
    assert after.json().get("text") != fast.json()["text"]
