"""Hostile requests: JSON values no layer below can hold, and peers that send slowly or never finish.

Each case got a 500, a dropped connection or a 1011 (some only on PostgreSQL) before
`server/api/json_values.py`; now the documented 400 / close code on both databases (docs/security.md).
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from server import errors
from server.api.json_values import MAX_DEPTH, check_json_value, parse_json
from server.errors import ApiError
from tests.conftest import StartServer
from tests.support.server import API_KEY

ADMIN = "admin-token-for-abuse"
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])  # connection handling involves no database
INVALID_JSON = "Request body must be valid JSON"


def _transcript_bodies(url: str) -> list[tuple[str, str]]:
    """(raw body, the error it must get) for `POST /v2/transcript`."""

    def with_url(rest: str) -> str:
        return '{"audio_url": "' + url + '", ' + rest + "}"

    return [
        ("[" * 100_000 + "]" * 100_000, INVALID_JSON),  # RecursionError in the parser
        ('{"a":' * (MAX_DEPTH + 2) + "1" + "}" * (MAX_DEPTH + 2), INVALID_JSON),  # parses, too deep
        (with_url('"custom_spelling": [{"from": ["a"], "to": "\\ud800"}]'), INVALID_JSON),
        (with_url('"\\udfff": 1'), INVALID_JSON),
        (with_url('"speech_threshold": NaN'), INVALID_JSON),
        (with_url('"speech_threshold": -Infinity'), INVALID_JSON),
        (with_url('"speech_threshold": 1e400'), "speech_threshold is out of range"),
        # NUL where a value leaves JSON: a URL (no URL at all, RFC 3986), an HTTP header (a 500 on PostgreSQL)
        ('{"audio_url": "' + url + '\\u0000"}', errors.AUDIO_URL_NOT_HTTP),
        (with_url('"webhook_url": "http://x/\\u0000"'), "webhook_url must be a valid URL"),
        (
            with_url('"webhook_url": "http://x/", "webhook_auth_header_value": "a\\u0000"'),
            "webhook_auth_header_value must not contain NUL characters",
        ),
        (with_url('"audio_start_from": 99999999999999999999'), "audio_start_from is out of range"),
        (with_url('"speakers_expected": -99999999999999999999'), "speakers_expected is out of range"),
    ]


def test_hostile_json_values_get_400_on_both_databases(start_server: StartServer, jfk: Path) -> None:
    server = start_server(LOCALSCRIBE_ADMIN_TOKEN=ADMIN)
    with httpx.Client(base_url=server.url, headers={"Authorization": API_KEY}, timeout=30) as c:
        url = c.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
        for body, error in _transcript_bodies(url):
            r = c.post("/v2/transcript", content=body.encode())
            assert (r.status_code, r.json()) == (400, {"error": error}), body[:80]
        for body, error in [
            ('{"expires_in": NaN}', INVALID_JSON),
            ('{"expires_in": 99999999999999999999999}', "expires_in is out of range"),
            ("[" * 50_000, INVALID_JSON),
        ]:
            r = c.post("/v2/realtime/token", content=body.encode())
            assert (r.status_code, r.json()) == (400, {"error": error}), body[:80]
        huge = "9" * 5000  # int() refuses it outright: a 500 before
        for path, error in [
            (f"/v2/transcript?limit={huge}", "limit must be between 1 and 200"),
            (f"/v3/token?expires_in_seconds={huge}", "expires_in_seconds must be between 1 and 600"),
            (
                f"/v3/token?expires_in_seconds=60&max_session_duration_seconds=-{huge}",
                "max_session_duration_seconds must be between 60 and 10800",
            ),
        ]:
            r = c.get(path)
            assert (r.status_code, r.json()) == (400, {"error": error}), path[:60]
        admin = {"Authorization": ADMIN}
        for body, status in [
            ('{"name": "a\\u0000"}', 400),
            ('{"name": "\\ud800"}', 400),
            ('{"name": "x", "async_limit": 99999999999999999999}', 400),
            ('{"name": "x", "async_limit": 1099511627776}', 400),  # fits JSON, not the 32-bit column
        ]:
            r = c.post("/admin/accounts", content=body.encode(), headers=admin)
            assert r.status_code == status and isinstance(r.json()["error"], str), (body, r.text)
        # nothing was lost: the server still works and no half-made transcript exists
        assert c.get("/v2/transcript").json()["transcripts"] == []
        # NUL where a value stays JSON is valid JSON and valid data (the spec allows any string): stored and
        # echoed on both databases
        spelling = [{"from": ["a"], "to": "b\x00c"}]
        r = c.post("/v2/transcript", json={"audio_url": url, "custom_spelling": spelling})
        assert r.status_code == 200 and r.json()["custom_spelling"] == spelling, r.text
        assert c.get(f"/v2/transcript/{r.json()['id']}").json()["custom_spelling"] == spelling
    assert "Traceback" not in server.log()


def test_v2_out_of_range_sample_rate_closes_4000(start_server: StartServer) -> None:
    server = start_server()
    for rate in ["99999999999", "384001", "1e400"]:
        url = server.url.replace("http://", "ws://") + f"/v2/realtime/ws?sample_rate={rate}"
        with connect(url, additional_headers={"Authorization": API_KEY}, open_timeout=5) as ws:
            with pytest.raises(ConnectionClosed):
                ws.send(bytes(3200))  # before the fix the session began and this audio got 1011
                while True:
                    ws.recv(timeout=10)
            assert (ws.close_code, ws.close_reason) == (4000, "Sample rate must be a positive integer"), rate


@pytest.mark.parametrize(
    "raw",
    [b'{"a": [1, 2.5, "x", null, true, {"b": [] }]}', b'{"n": 9007199254740991}', b'"\\u00e9\\ud83d\\ude00"'],
)
def test_ordinary_json_passes(raw: bytes) -> None:
    parse_json(raw)  # a surrogate *pair* is one character, not a lone surrogate


def test_checker_walks_without_recursion() -> None:
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ApiError) as refused:
        check_json_value(deep)
    assert refused.value.message == INVALID_JSON


# --- slow and half-sent requests (server/http_guard.py) ------------------------------------------------


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes the connection within `seconds` (whatever it sent before)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


@SQLITE_ONLY
def test_slow_and_half_sent_requests_are_cut_off(start_server: StartServer, tmp_path: Path) -> None:
    server = start_server(
        LOCALSCRIBE_HEADER_TIMEOUT_S="1.5", LOCALSCRIBE_BODY_TIMEOUT_S="1.5", LOCALSCRIBE_MAX_CONNECTIONS="4"
    )
    address = ("127.0.0.1", server.port)
    # headers that never end: closed after the header timeout (they held the connection forever before)
    with socket.create_connection(address) as slow:
        slow.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        assert _closed_within(slow, 10)
    # a body that stops arriving: closed after the body timeout, and the upload leaves no .part behind
    with socket.create_connection(address) as half:
        half.sendall(
            b"POST /v2/upload HTTP/1.1\r\nHost: x\r\nAuthorization: " + API_KEY.encode()
            + b"\r\nContent-Length: 100000\r\n\r\n" + b"x" * 10
        )  # fmt: skip
        assert _closed_within(half, 10)
    time.sleep(0.5)
    assert list((tmp_path / "uploads").glob("*")) == []
    # a slow but steady body is fine: the clock is per pause, not for the whole body
    with socket.create_connection(address) as steady:
        steady.sendall(b"POST /v2/realtime/token HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
        for byte in b"{}   ":
            time.sleep(0.6)
            steady.sendall(bytes([byte]))
        steady.settimeout(10)
        assert steady.recv(4096).startswith(b"HTTP/1.1 401")
    # the connection cap: beyond it uvicorn answers 503 instead of holding more sockets
    idle = [socket.create_connection(address) for _ in range(4)]
    try:
        for s in idle:
            s.sendall(b"GET /he")
        time.sleep(0.3)
        assert httpx.get(f"{server.url}/health").status_code == 503
    finally:
        for s in idle:
            s.close()
    time.sleep(0.3)
    assert httpx.get(f"{server.url}/health").status_code == 200


@SQLITE_ONLY
def test_websocket_outlives_the_header_timeout(start_server: StartServer) -> None:
    server = start_server(LOCALSCRIBE_HEADER_TIMEOUT_S="1", LOCALSCRIBE_BODY_TIMEOUT_S="1")
    url = server.url.replace("http://", "ws://") + "/v2/realtime/ws?sample_rate=16000"
    with connect(url, additional_headers={"Authorization": API_KEY}, open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["message_type"] == "SessionBegins"
        time.sleep(2.5)
        ws.send(json.dumps({"terminate_session": True}))
        assert json.loads(ws.recv(timeout=5))["message_type"] == "SessionTerminated"
