"""The playground without a browser: served at `/` unless LOCALSCRIBE_PLAYGROUND=false, its assets complete
and self-contained, and its JSON helpers (limits, queue positions, timings, uploaded audio) right."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from server.playground import STATIC_DIR
from tests.conftest import StartServer, create_key
from tests.support.files import until, wait_for
from tests.support.server import API_KEY, ServerProcess

URL = re.compile(r"""(?:https?|wss?):/+([^/\s'"`<>)]*)""")
ASSETS = sorted(p for p in STATIC_DIR.rglob("*") if p.is_file())
INDEX = STATIC_DIR / "index.html"


def test_page_and_every_asset_served(server: ServerProcess) -> None:
    page = httpx.get(f"{server.url}/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    referenced = set(re.findall(r'(?:href|src)="(/playground/static/[^"]+)"', page.text))
    assert "/playground/static/js/main.js" in referenced
    assert {f"/playground/static/{p.relative_to(STATIC_DIR).as_posix()}" for p in ASSETS} >= referenced
    types = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
    for asset in ASSETS:
        r = httpx.get(f"{server.url}/playground/static/{asset.relative_to(STATIC_DIR).as_posix()}")
        assert r.status_code == 200, asset
        assert r.content == asset.read_bytes()
        # ES modules load only with a JavaScript MIME type
        assert r.headers["content-type"].split(";")[0] == types[asset.suffix], (
            asset,
            r.headers["content-type"],
        )


def test_module_imports_resolve_and_are_preloaded() -> None:
    preload = r'rel="modulepreload" href="/playground/static/js/([^"]+)"'
    preloaded = set(re.findall(preload, INDEX.read_text()))
    imported: set[str] = set()
    for js in STATIC_DIR.rglob("*.js"):
        for target in re.findall(r"""from\s+['"](\.[^'"]+)['"]""", js.read_text()):
            assert (js.parent / target).resolve().is_file(), f"{js.name} imports missing {target}"
            imported.add(Path(target).name)
    assert preloaded == imported, "index.html preloads exactly the modules main.js pulls in"


def test_assets_name_no_other_host() -> None:
    """Nothing is fetched from a CDN or any other origin: no absolute URL in any asset."""
    assert ASSETS
    for asset in ASSETS:
        hosts = URL.findall(asset.read_text(encoding="utf-8"))
        assert hosts == [], f"{asset.name} names {hosts}"


def test_off_switch(start_server: StartServer) -> None:
    server = start_server(LOCALSCRIBE_PLAYGROUND="false")
    for path in ("/", "/playground/static/js/main.js", "/playground/api/account"):
        r = httpx.get(f"{server.url}{path}", headers={"Authorization": API_KEY})
        assert r.status_code == 404, path
    assert httpx.get(f"{server.url}/v2/transcript", headers={"Authorization": API_KEY}).status_code == 200


def test_account_queue_positions_and_timings(start_server: StartServer, jfk: Path) -> None:
    server = start_server(LOCALSCRIBE_MOCK_DELAY_S="1.0")
    assert httpx.get(f"{server.url}/playground/api/account").status_code == 401
    key = create_key(server, async_limit=1)
    with httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=30) as c:
        upload_url = c.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
        ids = [c.post("/v2/transcript", json={"audio_url": upload_url}).json()["id"] for _ in range(3)]

        def three_waiting() -> dict | None:
            s = c.get("/playground/api/account").json()
            return s if s["async"]["processing"] == 1 and s["async"]["queued"] == 2 else None

        summary = until(three_waiting, timeout=20, what="one job processing, two queued")
        assert summary["async"]["limit"] == 1
        assert summary["streams"]["limit"] >= 0
        assert summary["streams"]["active"] in (0, None)  # None: no stream registry on this server
        assert summary["queue"] == [{"id": ids[1], "ahead": 0}, {"id": ids[2], "ahead": 1}]
        last = c.get("/playground/api/jobs", params={"ids": ids[2]}).json()["jobs"]
        assert [(j["id"], j["status"], j["ahead"]) for j in last] == [(ids[2], "queued", 1)]

        for i in ids:
            assert wait_for(c, i)["status"] == "completed"
        jobs = {j["id"]: j for j in c.get("/playground/api/jobs").json()["jobs"]}
        assert set(jobs) == set(ids)
        for j in jobs.values():
            assert j["status"] == "completed" and j["ahead"] is None and j["source"] == "upload"
            assert j["audio_duration"] == 11
            assert 0.9 <= j["processing_s"] < 30  # the mock engine's 1 s delay, plus decoding
            assert j["turnaround_s"] >= j["processing_s"]
        # FIFO: the last one waited for the two before it
        assert jobs[ids[2]]["queued_s"] >= jobs[ids[0]]["processing_s"] + jobs[ids[1]]["processing_s"] - 0.5

        # another account sees none of it
        assert httpx.get(f"{server.url}/playground/api/jobs", headers={"Authorization": API_KEY}).json() == {
            "jobs": []
        }


def test_uploaded_audio_only_for_its_account(server: ServerProcess, client: httpx.Client, jfk: Path) -> None:
    upload_url = client.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
    t = client.post("/v2/transcript", json={"audio_url": upload_url}).json()
    r = client.get(f"/playground/api/audio/{t['id']}")
    assert r.status_code == 200 and r.content == jfk.read_bytes()
    other = create_key(server)
    r = httpx.get(f"{server.url}/playground/api/audio/{t['id']}", headers={"Authorization": other})
    assert r.status_code == 400  # as GET /v2/transcript/{id}: another account's id is unknown
    assert httpx.get(f"{server.url}/playground/api/audio/{t['id']}").status_code == 401

    wait_for(client, t["id"])
    assert client.delete(f"/v2/transcript/{t['id']}").status_code == 200
    time.sleep(0.05)
    assert client.get(f"/playground/api/audio/{t['id']}").status_code == 404  # deleted with the transcript
