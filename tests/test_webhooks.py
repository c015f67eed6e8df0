"""Webhook delivery (docs/compatibility.md#webhooks) from a live server to a local receiver, on SQLite and
PostgreSQL.

The receiver is a real HTTP server in a thread. It records every request and answers from a script
of status codes, so retries, 4xx, redirects and a receiver that is down can be played out for real.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.support.files import until, wait_for
from tests.support.server import API_KEY, ServerProcess, free_port

FAST = {
    "LOCALSCRIBE_WEBHOOK_RETRY_S": "0.2",
    "LOCALSCRIBE_WEBHOOK_TIMEOUT_S": "2",
    "LOCALSCRIBE_WEBHOOK_MAX_ATTEMPTS": "10",
}
SECRET = "s3cr3t-header-value-42"


@dataclass
class Received:
    t: float
    path: str
    headers: dict[str, str]
    body: Any
    seen_status: str | None = None  # the transcript's status when the request arrived


@dataclass
class Receiver:
    """Answers POSTs with `codes` in turn (then `default`); a path in `redirects` gets a 307 to its target."""

    host: str = "127.0.0.1"
    port: int = 0
    codes: list[int] = field(default_factory=list)
    default: int = 200
    redirects: dict[str, str] = field(default_factory=dict)
    on_request: Callable[[Received], None] | None = None
    requests: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw
                headers = {k.lower(): v for k, v in self.headers.items()}
                req = Received(time.monotonic(), self.path, headers, body)
                if owner.on_request:
                    owner.on_request(req)
                owner.requests.append(req)
                if self.path in owner.redirects:
                    self.send_response(307)
                    self.send_header("Location", owner.redirects[self.path])
                else:
                    self.send_response(owner.codes.pop(0) if owner.codes else owner.default)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        self.port = httpd.server_address[1]
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            httpd.shutdown()
            httpd.server_close()


def _attempts(server: ServerProcess, tid: str) -> list[str]:
    """The server's log of webhook attempts for one transcript: ['1 -> 500 (pending)', ...]."""
    return re.findall(rf"transcript_id={tid} webhook attempt (\d+ -> \S+ \(\w+\))", server.log())


def _client(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": API_KEY}, timeout=30)


def _upload(c: httpx.Client, audio: Path) -> str:
    return c.post("/v2/upload", content=audio.read_bytes()).json()["upload_url"]


def _settled(server: ServerProcess, tid: str, final: str) -> list[str]:
    """Wait until the delivery reached `final` state (delivered/failed); then a little more for strays."""
    attempts = until(
        lambda: (a := _attempts(server, tid)) and a[-1].endswith(f"({final})") and a, what=f"{final} webhook"
    )
    time.sleep(1.2)  # more than two polls of the sender: nothing else may arrive
    assert _attempts(server, tid) == attempts
    return attempts


def test_completed_job_posts_once_with_body_and_auth_header(start_server, jfk: Path) -> None:
    server = start_server(**FAST)
    c = _client(server)

    def look(req: Received) -> None:
        req.seen_status = c.get(f"/v2/transcript/{req.body['transcript_id']}").json()["status"]

    with Receiver(on_request=look).running() as rx:
        hook = f"{rx.url}/hooks/done?source=localscribe&n=1"
        created = c.post(
            "/v2/transcript",
            json={
                "audio_url": _upload(c, jfk),
                "webhook_url": hook,
                "webhook_auth_header_name": "X-Webhook-Secret",
                "webhook_auth_header_value": SECRET,
            },
        )
        assert created.status_code == 200
        tid = created.json()["id"]
        assert created.json()["webhook_status_code"] is None
        wait_for(c, tid)
        _settled(server, tid, "delivered")
    assert len(rx.requests) == 1
    req = rx.requests[0]
    assert req.path == "/hooks/done?source=localscribe&n=1"  # the URL exactly as given
    assert req.body == {"transcript_id": tid, "status": "completed"}
    assert req.headers["x-webhook-secret"] == SECRET
    assert req.headers["content-type"].startswith("application/json")
    assert req.seen_status == "completed"  # sent only once the result is visible
    body = c.get(f"/v2/transcript/{tid}").json()
    assert body["webhook_status_code"] == 200
    assert body["webhook_auth"] is True
    assert body["webhook_auth_header_name"] == "X-Webhook-Secret"
    assert body["webhook_url"] == hook
    for text in (created.text, c.get(f"/v2/transcript/{tid}").text, c.get("/v2/transcript").text):
        assert SECRET not in text
    assert "webhook_auth_header_value" not in body


def test_no_auth_header_name_means_webhook_auth_false(start_server, jfk: Path) -> None:
    server = start_server(**FAST)
    c = _client(server)
    with Receiver().running() as rx:
        tid = c.post(
            "/v2/transcript", json={"audio_url": _upload(c, jfk), "webhook_url": f"{rx.url}/h"}
        ).json()["id"]
        wait_for(c, tid)
        _settled(server, tid, "delivered")
    assert [r.body for r in rx.requests] == [{"transcript_id": tid, "status": "completed"}]
    assert not any(k.startswith("x-") or k == "authorization" for k in rx.requests[0].headers)
    body = c.get(f"/v2/transcript/{tid}").json()
    assert (body["webhook_auth"], body["webhook_status_code"]) == (False, 200)


def test_5xx_is_retried_until_2xx(start_server, jfk: Path) -> None:
    server = start_server(**FAST)
    c = _client(server)
    with Receiver(codes=[500, 503, 200]).running() as rx:
        tid = c.post(
            "/v2/transcript",
            json={
                "audio_url": _upload(c, jfk),
                "webhook_url": f"{rx.url}/h",
                "webhook_auth_header_name": "Authorization",
                "webhook_auth_header_value": SECRET,
            },
        ).json()["id"]
        wait_for(c, tid)
        attempts = _settled(server, tid, "delivered")
    assert attempts == ["1 -> 500 (pending)", "2 -> 503 (pending)", "3 -> 200 (delivered)"]
    assert len(rx.requests) == 3
    assert all(r.body == {"transcript_id": tid, "status": "completed"} for r in rx.requests)
    assert all(r.headers["authorization"] == SECRET for r in rx.requests)  # every attempt carries it
    gaps = [b.t - a.t for a, b in zip(rx.requests, rx.requests[1:], strict=False)]
    assert all(g >= 0.2 for g in gaps), gaps  # the retry pause
    assert c.get(f"/v2/transcript/{tid}").json()["webhook_status_code"] == 200


def test_4xx_fails_without_retry(start_server, jfk: Path) -> None:
    server = start_server(**FAST)
    c = _client(server)
    with Receiver(codes=[404]).running() as rx:
        tid = c.post(
            "/v2/transcript", json={"audio_url": _upload(c, jfk), "webhook_url": f"{rx.url}/gone"}
        ).json()["id"]
        wait_for(c, tid)
        assert _settled(server, tid, "failed") == ["1 -> 404 (failed)"]
    assert len(rx.requests) == 1
    body = c.get(f"/v2/transcript/{tid}").json()
    assert (body["status"], body["webhook_status_code"]) == ("completed", 404)


def test_receiver_down_gives_up_after_max_attempts(start_server, jfk: Path) -> None:
    server = start_server(**{**FAST, "LOCALSCRIBE_WEBHOOK_MAX_ATTEMPTS": "3"})
    c = _client(server)
    url = f"http://127.0.0.1:{free_port()}/h"
    tid = c.post("/v2/transcript", json={"audio_url": _upload(c, jfk), "webhook_url": url}).json()["id"]
    assert wait_for(c, tid)["status"] == "completed"
    attempts = _settled(server, tid, "failed")
    assert attempts == ["1 -> None (pending)", "2 -> None (pending)", "3 -> None (failed)"]
    body = c.get(f"/v2/transcript/{tid}").json()
    assert (body["status"], body["webhook_status_code"]) == ("completed", None)


def test_errored_job_posts_status_error(start_server) -> None:
    server = start_server(**FAST)
    c = _client(server)
    with Receiver().running() as rx:
        tid = c.post(
            "/v2/transcript",
            json={"audio_url": "http://127.0.0.1:9/nothing.wav", "webhook_url": f"{rx.url}/h"},
        ).json()["id"]
        done = wait_for(c, tid)
        _settled(server, tid, "delivered")
    assert done["status"] == "error" and done["error"].startswith("Download error")
    assert [r.body for r in rx.requests] == [{"transcript_id": tid, "status": "error"}]
    assert c.get(f"/v2/transcript/{tid}").json()["webhook_status_code"] == 200


def test_redirects_are_followed_only_within_the_same_host(start_server, jfk: Path) -> None:
    server = start_server(**{**FAST, "LOCALSCRIBE_WEBHOOK_MAX_ATTEMPTS": "2"})
    c = _client(server)
    upload_url = _upload(c, jfk)
    with Receiver(host="127.0.0.2").running() as other, Receiver().running() as rx:
        rx.redirects = {"/away": f"{other.url}/stolen", "/moved": "/final"}
        payload = {"audio_url": upload_url, "webhook_auth_header_name": "X-Secret"}
        payload["webhook_auth_header_value"] = SECRET
        away = c.post("/v2/transcript", json={**payload, "webhook_url": f"{rx.url}/away"}).json()["id"]
        moved = c.post("/v2/transcript", json={**payload, "webhook_url": f"{rx.url}/moved"}).json()["id"]
        wait_for(c, away), wait_for(c, moved)
        assert _settled(server, moved, "delivered") == ["1 -> 200 (delivered)"]
        assert _settled(server, away, "failed") == ["1 -> 307 (pending)", "2 -> 307 (failed)"]
    assert other.requests == []  # the secret never went to another host
    assert [r.path for r in rx.requests if r.body["transcript_id"] == away] == ["/away", "/away"]
    followed = [r for r in rx.requests if r.body["transcript_id"] == moved]
    assert [r.path for r in followed] == ["/moved", "/final"]
    assert followed[1].body == {"transcript_id": moved, "status": "completed"}
    assert followed[1].headers["x-secret"] == SECRET
    assert c.get(f"/v2/transcript/{away}").json()["webhook_status_code"] == 307
    assert c.get(f"/v2/transcript/{moved}").json()["webhook_status_code"] == 200


def test_pending_delivery_survives_a_restart(start_server, jfk: Path) -> None:
    settings = {**FAST, "LOCALSCRIBE_WEBHOOK_RETRY_S": "0.5", "LOCALSCRIBE_WEBHOOK_MAX_ATTEMPTS": "100"}
    first = start_server(**settings)
    c = _client(first)
    port = free_port()
    tid = c.post(
        "/v2/transcript", json={"audio_url": _upload(c, jfk), "webhook_url": f"http://127.0.0.1:{port}/h"}
    ).json()["id"]
    assert wait_for(c, tid)["status"] == "completed"
    until(lambda: len(_attempts(first, tid)) >= 2, what="failed attempts")
    first.kill()
    assert all(a.endswith("(pending)") for a in _attempts(first, tid))

    with Receiver(port=port).running() as rx:
        second = start_server(**settings)
        until(lambda: _attempts(second, tid), what="an attempt after the restart")
        assert _settled(second, tid, "delivered")[-1].endswith("-> 200 (delivered)")
    assert [r.body for r in rx.requests] == [{"transcript_id": tid, "status": "completed"}]
    body = _client(second).get(f"/v2/transcript/{tid}").json()
    assert body["webhook_status_code"] == 200


def test_job_that_keeps_killing_workers_errors_and_still_notifies(start_server, jfk: Path) -> None:
    """After three dead workers the job is failed by lease expiry; that is an `error` webhook too."""
    settings = {**FAST, "LOCALSCRIBE_MOCK_DELAY_S": "30", "LOCALSCRIBE_LEASE_SECONDS": "1"}
    with Receiver().running() as rx:
        server = start_server(**settings)
        c = _client(server)
        tid = c.post(
            "/v2/transcript", json={"audio_url": _upload(c, jfk), "webhook_url": f"{rx.url}/h"}
        ).json()["id"]
        for attempt in (1, 2, 3):
            line = f"transcript_id={tid} processing (attempt {attempt})"
            until(lambda s=server, line=line: line in s.log(), what=line)
            server.kill()
            server = start_server(**settings)
        c = _client(server)
        done = wait_for(c, tid, timeout=30)
        assert done["status"] == "error"
        _settled(server, tid, "delivered")
    assert [r.body for r in rx.requests] == [{"transcript_id": tid, "status": "error"}]
    assert c.get(f"/v2/transcript/{tid}").json()["webhook_status_code"] == 200


def test_redacted_audio_ready_is_posted_once_the_file_is_written(start_server, jfk: Path) -> None:
    """docs/compatibility.md#webhooks: with redact_pii_audio a second POST `redacted_audio_ready` carries the
    download URL."""
    server = start_server(**FAST, LOCALSCRIBE_MOCK_TEXT="Hi, my name is John Smith and I live in Boston.")
    c = _client(server)
    with Receiver().running() as rx:
        created = c.post(
            "/v2/transcript",
            json={
                "audio_url": _upload(c, jfk),
                "webhook_url": f"{rx.url}/h",
                "webhook_auth_header_name": "X-Webhook-Secret",
                "webhook_auth_header_value": SECRET,
                "redact_pii": True,
                "redact_pii_policies": ["person_name"],
                "redact_pii_audio": True,
            },
        )
        tid = created.json()["id"]
        assert "_base_url" not in created.json()
        wait_for(c, tid)
        until(lambda: len(rx.requests) >= 2, what="two webhooks")
        time.sleep(1.2)
    # deliveries run concurrently (one slow receiver must not hold up another), so either may land first
    assert len(rx.requests) == 2
    completed, ready = sorted(rx.requests, key=lambda r: r.body["status"] == "redacted_audio_ready")
    assert completed.body == {"transcript_id": tid, "status": "completed"}
    assert ready.body["status"] == "redacted_audio_ready"
    assert set(ready.body) == {"status", "redacted_audio_url"}
    # CHOICE docs/compatibility.md#webhooks: the auth header too
    assert ready.headers["x-webhook-secret"] == SECRET
    link = ready.body["redacted_audio_url"]
    assert link == c.get(f"/v2/transcript/{tid}/redacted-audio").json()["redacted_audio_url"]
    assert httpx.get(link, timeout=30).status_code == 200
    assert "_base_url" not in c.get(f"/v2/transcript/{tid}").json()
