"""The create fast path (server/api/transcript_create.py, issue 19) answers as the route does.

A key unused for `KEY_CACHE_S` is answered by the route (its cached lookup has expired); its next request by
the fast path. Each pair below sends the same request both ways: a create (the same JSON but for the new
id), and the errors in the route's order: a body over the cap, a body that is not JSON, a missing
`audio_url`, an upload of another account. The created job then runs like any other.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import create_key
from tests.support.fast_path import assert_same, route_then_fast
from tests.support.files import wait_for
from tests.support.server import ServerProcess


def test_a_create_answers_as_the_route(server: ServerProcess, jfk: Path) -> None:
    key = create_key(server)
    with httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=30) as own:
        audio_url = own.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
    body = {"audio_url": audio_url, "punctuate": False, "webhook_url": "https://example.com/hook"}
    route, fast = route_then_fast(server, key, "POST", "/v2/transcript", json=body)
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
        route, fast = route_then_fast(server, key, "POST", "/v2/transcript", **request)
        assert route.status_code in (400, 413), route.text
        assert_same(route, fast)
    # another account may not transcribe this account's upload, by either path
    other = create_key(server)
    route, fast = route_then_fast(server, other, "POST", "/v2/transcript", json={"audio_url": audio_url})
    assert route.status_code == 403
    assert_same(route, fast)
