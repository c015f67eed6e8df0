"""Server-side requests (issue 14): the URL policy for audio_url and webhook_url, per hop and per resolved
address; a total deadline per download; webhook deliveries isolated from each other.

Every peer here is a loopback server; no test sends a packet anywhere else (a refused address is refused
before any connection is opened).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from server import errors
from server.config import Settings
from server.jobs import outbound
from server.jobs.errors import JobError
from server.jobs.fetch import download
from server.jobs.outbound import UrlPolicy, guarded_client, listens_on_loopback_only
from tests.support.files import until
from tests.support.server import API_KEY, ServerProcess


@dataclass
class Peer:
    url: str
    hits: list[str] = field(default_factory=list)  # request paths, in order


@contextmanager
def peer(host: str = "127.0.0.1", *, trickle_s: float = 0.0, redirect: str | None = None) -> Iterator[Peer]:
    """A loopback HTTP server: answers GET/POST with 200 and 8 bytes (one per `trickle_s`), a 302 to
    `redirect`, or 404 for /missing."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            hits.append(self.path)
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            if self.path == "/missing":
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if redirect:
                self.send_response(302)
                self.send_header("Location", redirect)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", "8")
            self.end_headers()
            for _ in range(8):
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(trickle_s)

        do_GET = do_POST = _answer  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer((host, 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield Peer(f"http://{host}:{httpd.server_address[1]}", hits)
    finally:
        httpd.shutdown()
        httpd.server_close()


def _get(settings: Settings, url: str, total_s: float = 10.0) -> httpx.Response:
    with guarded_client(settings, timeout=httpx.Timeout(5.0), total_s=total_s, follow_redirects=True) as c:
        return c.get(url)


# --- the policy -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "public", "private"),
    [
        ("93.184.216.34", True, True),
        ("2606:4700::1111", True, True),
        ("127.0.0.1", False, True),
        ("::1", False, True),
        ("::ffff:127.0.0.1", False, True),  # IPv4-mapped loopback is loopback
        ("10.1.2.3", False, True),
        ("192.168.0.10", False, True),
        ("100.64.0.1", False, True),  # shared address space (CGNAT)
        ("0.0.0.0", False, True),
        ("169.254.169.254", False, False),  # metadata, link-local: never
        ("169.254.10.1", False, False),
        ("fe80::1", False, False),
        ("fd00:ec2::254", False, False),
        ("100.100.100.200", False, False),
        ("224.0.0.1", False, False),
    ],
)
def test_policy_table(address: str, public: bool, private: bool) -> None:
    ip = ipaddress.ip_address(address)
    assert UrlPolicy(allow_private=False).allows(ip) is public
    assert UrlPolicy(allow_private=True).allows(ip) is private


def test_auto_allows_private_only_while_listening_on_loopback() -> None:
    assert listens_on_loopback_only("127.0.0.1") and listens_on_loopback_only("::1")
    assert listens_on_loopback_only("localhost")
    assert not listens_on_loopback_only("0.0.0.0") and not listens_on_loopback_only("::")
    assert not listens_on_loopback_only("192.168.1.5")
    assert UrlPolicy.from_settings(Settings(listen_host="127.0.0.1")).allow_private
    assert not UrlPolicy.from_settings(Settings(listen_host="0.0.0.0")).allow_private
    assert not UrlPolicy.from_settings(Settings(url_policy="public")).allow_private
    assert UrlPolicy.from_settings(Settings(url_policy="private", listen_host="0.0.0.0")).allow_private
    nets = UrlPolicy.from_settings(Settings(url_policy="public", url_allowed_networks=["10.0.0.0/8"]))
    assert nets.allows(ipaddress.ip_address("10.9.9.9"))
    assert not nets.allows(ipaddress.ip_address("172.16.0.1"))
    with pytest.raises(ValueError):
        Settings(url_allowed_networks=["not-a-network"])


# --- the client: refused before connecting, every hop, the checked address ---------------------------------


def test_refused_address_is_never_connected() -> None:
    with peer() as p:
        with pytest.raises(httpx.ConnectError):
            _get(Settings(url_policy="public"), p.url + "/a.wav")
        assert p.hits == []
        assert _get(Settings(listen_host="127.0.0.1"), p.url + "/a.wav").content == b"x" * 8


def test_every_redirect_hop_is_checked() -> None:
    """127.0.0.1 is allowed, 127.0.0.2 is not: a redirect there is refused before connecting to it."""
    allowed = Settings(url_policy="public", url_allowed_networks=["127.0.0.1/32"])
    with peer("127.0.0.2") as inner, peer(redirect=inner.url + "/secret") as outer:
        with pytest.raises(httpx.ConnectError):
            _get(allowed, outer.url + "/a.wav")
        assert outer.hits == ["/a.wav"] and inner.hits == []
        opened = Settings(url_policy="public", url_allowed_networks=["127.0.0.0/8"])
        assert _get(opened, outer.url + "/b.wav").status_code == 200 and inner.hits == ["/secret"]


def test_connects_to_the_address_it_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The name is resolved once: the connection goes to the checked address, the Host header keeps the
    name; a name that also resolves to a refused address is refused as a whole."""
    calls: list[str] = []
    real = socket.getaddrinfo

    def fake(host: str, port: int, *args: object, **kwargs: object) -> list:
        calls.append(host)
        if host == "rebind.test":
            return real("127.0.0.1", port, *args, **kwargs)
        if host == "mixed.test":
            return [*real("93.184.216.34", port, *args, **kwargs), *real("127.0.0.1", port, *args, **kwargs)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(outbound.socket, "getaddrinfo", fake)
    local = Settings(url_policy="public", url_allowed_networks=["127.0.0.0/8"])
    with peer() as p:
        port = p.url.rsplit(":", 1)[1]
        assert _get(local, f"http://rebind.test:{port}/a").status_code == 200
        assert calls.count("rebind.test") == 1
        with pytest.raises(httpx.ConnectError):
            _get(Settings(url_policy="public"), f"http://mixed.test:{port}/a")


# --- downloads: deadline and what errors say ------------------------------------------------------------


def test_a_trickling_download_ends_at_its_deadline(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, download_deadline_s=1.0, download_timeout_s=30.0)
    with peer(trickle_s=1.0) as p, pytest.raises(JobError) as caught:
        download(p.url + "/slow.wav", tmp_path / "d", settings)
    assert caught.value.message == errors.DOWNLOAD_UNREACHABLE.format(url=p.url + "/slow.wav")
    assert not list(tmp_path.glob("d*"))


def test_refused_download_reads_like_an_unreachable_one(tmp_path: Path) -> None:
    """What answers at a refused address (here a 404) is not told to the caller."""
    with peer() as p:
        url = p.url + "/missing"
        with pytest.raises(JobError) as caught:
            download(url, tmp_path / "d", Settings(data_dir=tmp_path, url_policy="public"))
        assert caught.value.message == errors.DOWNLOAD_UNREACHABLE.format(url=url)
        with pytest.raises(JobError) as allowed:
            download(url, tmp_path / "d", Settings(data_dir=tmp_path))
        assert "404" in allowed.value.message  # allowed addresses keep the API's HTTP error text


def test_server_listening_everywhere_refuses_loopback_audio_url(start_server, jfk: Path) -> None:
    server: ServerProcess = start_server(LOCALSCRIBE_URL_POLICY="public")
    with peer() as p, httpx.Client(base_url=server.url, headers={"Authorization": API_KEY}) as c:
        tid = c.post("/v2/transcript", json={"audio_url": p.url + "/missing"}).json()["id"]
        body = until(lambda: (b := c.get(f"/v2/transcript/{tid}").json())["status"] == "error" and b)
        assert body["error"] == errors.DOWNLOAD_UNREACHABLE.format(url=p.url + "/missing")
        assert p.hits == []


# --- webhooks: one delivery's trouble is its own ------------------------------------------------------------


def test_bad_header_and_slow_receiver_do_not_hold_back_other_deliveries(start_server, jfk: Path) -> None:
    """A header value httpx cannot send ("café") and a receiver that answers a byte a second: the third
    delivery still arrives while the slow one is under way, and the bad one fails on its own."""
    server: ServerProcess = start_server(
        LOCALSCRIBE_WEBHOOK_RETRY_S="0.2",
        LOCALSCRIBE_WEBHOOK_DEADLINE_S="6",
        LOCALSCRIBE_WEBHOOK_TIMEOUT_S="5",
        LOCALSCRIBE_WEBHOOK_MAX_ATTEMPTS="2",
    )
    with (
        peer(trickle_s=1.0) as slow,
        peer() as fine,
        httpx.Client(base_url=server.url, headers={"Authorization": API_KEY}, timeout=30) as c,
    ):
        upload = c.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
        bad = {"webhook_auth_header_name": "X-Secret", "webhook_auth_header_value": "café"}
        first = c.post("/v2/transcript", json={"audio_url": upload, "webhook_url": fine.url + "/bad", **bad})
        c.post("/v2/transcript", json={"audio_url": upload, "webhook_url": slow.url + "/slow"})
        until(lambda: slow.hits, what="the slow delivery under way")
        good = {"audio_url": upload, "webhook_url": fine.url + "/ok"}
        tid = c.post("/v2/transcript", json=good).json()["id"]
        until(lambda: "/ok" in fine.hits, timeout=20, what="the good delivery")
        assert len(slow.hits) == 1  # the slow receiver was still answering its first (and only) request
        # the receiver logs the request before it answers; the server records the code after the answer
        until(
            lambda: c.get(f"/v2/transcript/{tid}").json()["webhook_status_code"] == 200,
            what="the recorded 200",
        )
        assert "/bad" not in fine.hits  # the bad header never left the server: a failed attempt, retried
        bad_id = first.json()["id"]
        failed = rf"transcript_id={bad_id} webhook attempt 2 -> None \(failed\)"
        until(lambda: re.search(failed, server.log()), what="the bad delivery failed on its own")
