"""Accounts, secrets and files (issue 14): models a request may name, tokens that die with their key, the
compose file's key, uploads shared by several transcripts, their lifetime and the sweep, redacted audio that
goes with its account, secrets kept out of logs, a private data directory, /metrics and key prefixes.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from server.config import Settings
from server.logs import redact
from server.services.accounts import key_prefix
from server.speech_models import known_speech_models
from tests.conftest import StartServer
from tests.support.server import API_KEY, ServerProcess, server_env

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "admin-token-accounts-files"
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])  # the database plays no part


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One SQLite server for the tests where the database plays no part (a server start costs seconds).

    Its data directory is made 0755 first, as an older version left it."""
    root = tmp_path_factory.mktemp("shared")
    data = root / "data"
    (data / "uploads").mkdir(parents=True, mode=0o755)
    data.chmod(0o755)
    env = server_env(
        data,
        None,
        LOCALSCRIBE_ADMIN_TOKEN=ADMIN,
        LOCALSCRIBE_MODELS_DIR=str(ROOT / "models"),
        LOCALSCRIBE_MOCK_TEXT=PII_TEXT,
    )
    proc = ServerProcess(root, env).start()
    yield proc
    proc.stop(timeout=10)


def _data_dir(server: ServerProcess) -> Path:
    return Path(server.env["LOCALSCRIBE_DATA_DIR"])


def _client(server: ServerProcess, key: str = API_KEY) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=30)


def _wait(c: httpx.Client, tid: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (body := c.get(f"/v2/transcript/{tid}").json())["status"] in ("queued", "processing"):
        assert time.monotonic() < deadline, body
        time.sleep(0.05)
    return body


# --- models ---------------------------------------------------------------------------------------------


def test_only_installed_models_are_nameable(tmp_path: Path) -> None:
    settings = Settings(models_dir=ROOT / "models", data_dir=tmp_path)
    known = known_speech_models(settings)
    assert {"tiny.en", "base", "nano", "universal-2"} <= known
    assert "large-v3" not in known and "medium" not in known
    opened = Settings(models_dir=ROOT / "models", data_dir=tmp_path, allow_model_downloads=True)
    assert "large-v3" in known_speech_models(opened)


@pytest.mark.parametrize("allowed", [False, True])
def test_the_engine_downloads_only_when_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, allowed: bool
) -> None:
    """Behind the request check, the real engine itself never asks the Hub for more than its cache."""
    import huggingface_hub

    from server.engine.whisper import WhisperEngine

    asked: list[dict[str, Any]] = []

    def snapshot_download(repo_id: str, **kwargs: Any) -> str:
        asked.append(kwargs)
        raise huggingface_hub.errors.LocalEntryNotFoundError("not in the cache")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    engine = WhisperEngine(default_model="base", models_dir=tmp_path, device="cpu", allow_downloads=allowed)
    with pytest.raises(Exception):  # noqa: B017 - whatever faster-whisper makes of the refusal
        engine.load("large-v3")
    assert [a["local_files_only"] for a in asked] == [not allowed]


def test_request_for_an_uninstalled_model_is_refused(shared: ServerProcess, jfk: Path) -> None:
    with _client(shared) as c:
        url = c.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
        r = c.post("/v2/transcript", json={"audio_url": url, "speech_models": ["large-v3", "nano"]})
        assert (r.status_code, r.json()) == (
            400,
            {"error": "The following speech models are not supported: large-v3"},
        )
        r = c.post("/v2/transcript", json={"audio_url": url, "speech_models": ["tiny.en"]})
        assert r.status_code == 200, r.text


# --- temporary streaming tokens -------------------------------------------------------------------------


def _ws_refused(url: str) -> int | None:
    with connect(url, open_timeout=5) as ws:
        with pytest.raises(ConnectionClosed):
            while True:
                ws.recv(timeout=10)
        return ws.close_code


def test_revoking_a_key_revokes_the_tokens_it_minted(shared: ServerProcess) -> None:
    server = shared  # one primary-key lookup; the SQL is the same on both databases
    admin = {"Authorization": ADMIN}
    made = httpx.post(f"{server.url}/admin/accounts", json={"name": "t"}, headers=admin).json()
    key, key_id = made["key"], made["keys"][0]["id"]
    with _client(server, key) as c:
        v2 = c.post("/v2/realtime/token", json={"expires_in": 600}).json()["token"]
        v3 = c.get("/v3/token", params={"expires_in_seconds": 600}).json()["token"]
        v2_spare = c.post("/v2/realtime/token", json={"expires_in": 600}).json()["token"]
    ws = server.url.replace("http://", "ws://")
    with connect(f"{ws}/v2/realtime/ws?sample_rate=16000&token={v2_spare}", open_timeout=5) as live:
        assert json.loads(live.recv(timeout=5))["message_type"] == "SessionBegins"  # tokens work before
    assert httpx.delete(f"{server.url}/admin/keys/{key_id}", headers=admin).status_code == 200
    assert _ws_refused(f"{ws}/v2/realtime/ws?sample_rate=16000&token={v2}") == 4001
    assert _ws_refused(f"{ws}/v3/ws?sample_rate=16000&token={v3}") == 1008


# --- docker compose -------------------------------------------------------------------------------------


def test_compose_requires_an_api_key() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    compose = yaml.safe_load(text)
    value = compose["services"]["api"]["environment"]["LOCALSCRIBE_API_KEY"]
    assert value.startswith("${LOCALSCRIBE_API_KEY:?"), value  # compose refuses to start without it
    assert "change-me" not in text


# --- uploads and files ----------------------------------------------------------------------------------


def test_an_upload_lives_while_any_transcript_uses_it(start_server: StartServer, jfk: Path) -> None:
    server = start_server()
    with _client(server) as c:
        url = c.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
        file = server.data_dir / "uploads" / url.rsplit("/", 1)[1]
        first, second = (c.post("/v2/transcript", json={"audio_url": url}).json()["id"] for _ in range(2))
        assert _wait(c, first)["status"] == "completed" and _wait(c, second)["status"] == "completed"
        assert c.delete(f"/v2/transcript/{first}").status_code == 200
        assert file.is_file()  # the second transcript still uses it
        third = c.post("/v2/transcript", json={"audio_url": url}).json()["id"]
        assert _wait(c, third)["status"] == "completed"
        for tid in (second, third):
            assert c.delete(f"/v2/transcript/{tid}").status_code == 200
        assert not file.exists()  # the last user gone: deleted at once (docs/compatibility.md#delete)


@SQLITE_ONLY  # the queries are plain SQLAlchemy; test_an_upload_lives… covers both databases
def test_uploads_expire_and_orphans_are_swept(start_server: StartServer, tmp_path: Path, jfk: Path) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    old = time.time() - 2 * 3600
    for name in ("killed-upload.part", "no-row-for-me"):
        (uploads / name).write_bytes(b"x")
        os.utime(uploads / name, (old, old))
    (uploads / "fresh.part").write_bytes(b"x")  # an upload in progress right now
    server = start_server(LOCALSCRIBE_UPLOAD_TTL_HOURS="0.0005", LOCALSCRIBE_SWEEP_INTERVAL_S="0.3")
    assert sorted(p.name for p in uploads.iterdir()) == ["fresh.part"]  # swept at start-up
    with _client(server) as c:
        url = c.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
        file = uploads / url.rsplit("/", 1)[1]
        tid = c.post("/v2/transcript", json={"audio_url": url}).json()["id"]
        assert _wait(c, tid)["status"] == "completed"
        deadline = time.monotonic() + 20
        while file.exists():  # 1.8 s lifetime, swept every 0.3 s
            assert time.monotonic() < deadline, "the expired upload was never swept"
            time.sleep(0.2)
        assert c.get(f"/v2/transcript/{tid}").json()["status"] == "completed"  # the transcript stays


PII_TEXT = "Hello, my name is John Smith and my phone number is 555-123-4567. Thank you."


def _redacted_file(c: httpx.Client, url: str) -> str:
    body = {
        "audio_url": url,
        "redact_pii": True,
        "redact_pii_policies": ["person_name"],
        "redact_pii_audio": True,
        "redact_pii_audio_quality": "wav",
    }
    tid = c.post("/v2/transcript", json=body).json()["id"]
    assert _wait(c, tid)["status"] == "completed"
    return c.get(f"/v2/transcript/{tid}/redacted-audio").json()["redacted_audio_url"].rsplit("/", 1)[1]


def test_redacted_audio_goes_with_its_account_and_with_reset(shared: ServerProcess, jfk: Path) -> None:
    server = shared
    admin = {"Authorization": ADMIN}
    folder = _data_dir(server) / "redacted-audio"
    made = httpx.post(f"{server.url}/admin/accounts", json={"name": "gone"}, headers=admin).json()
    with _client(server, made["key"]) as c:
        name = _redacted_file(c, c.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"])
    with _client(server) as c:
        kept = _redacted_file(c, c.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"])
    assert (folder / name).is_file() and (folder / kept).is_file()
    assert httpx.delete(f"{server.url}/admin/accounts/{made['id']}", headers=admin).status_code == 200
    assert not (folder / name).exists() and (folder / kept).is_file()
    assert httpx.post(f"{server.url}/admin/reset", headers=admin).status_code == 200
    assert list(folder.iterdir()) == []


# --- logs, the data directory, /metrics, key prefixes ---------------------------------------------------


def test_no_secret_reaches_the_log(shared: ServerProcess) -> None:
    server = shared
    with _client(server) as c:
        signed = "http://127.0.0.1:9/a.wav?X-Amz-Signature=SIGNATURE-SECRET&X-Amz-Expires=60"
        hook = "http://127.0.0.1:9/hook?token=WEBHOOK-SECRET"
        tid = c.post("/v2/transcript", json={"audio_url": signed, "webhook_url": hook}).json()["id"]
        assert _wait(c, tid)["status"] == "error"
        token = c.post("/v2/realtime/token", json={"expires_in": 60}).json()["token"]
        c.get(f"/v2/transcript?limit=1&token={token}")  # the access log line carries it
        time.sleep(1.5)  # the webhook's first attempt (to a closed port) is logged too
    log = server.log()
    assert "GET /v2/transcript?limit=1&token=[redacted]" in log, log[-2000:]  # the access log is there
    for secret in ("SIGNATURE-SECRET", "WEBHOOK-SECRET", token, API_KEY):
        assert secret not in log


@pytest.mark.parametrize(
    ("line", "hidden"),
    [
        (
            'HTTP Request: GET https://b.s3.amazonaws.com/a.wav?X-Amz-Signature=abc&x=1 "HTTP/1.1 200 OK"',
            "abc",
        ),
        ('127.0.0.1:5 - "GET /v2/realtime/ws?sample_rate=16000&token=tok123 HTTP/1.1" 101', "tok123"),
        ("posting to https://user:pa55@hooks.example.com/x", "pa55"),
        ("headers={'Authorization': 'Bearer k3y'}", "k3y"),
    ],
)
def test_redact(line: str, hidden: str) -> None:
    assert hidden not in redact(line)
    assert "sample_rate=16000" in redact("/v2/realtime/ws?sample_rate=16000&token=x")


def test_private_data_dir_metrics_and_key_prefixes(shared: ServerProcess, jfk: Path) -> None:
    server, data = shared, _data_dir(shared)
    with _client(server) as c:
        c.post("/v2/upload", content=jfk.read_bytes()).raise_for_status()
        account_id = httpx.get(f"{server.url}/admin/accounts", headers={"Authorization": ADMIN}).json()[
            "accounts"
        ][0]["id"]
        c.post("/v2/transcript", json={"audio_url": "http://127.0.0.1:9/x.wav"})
        anonymous = httpx.get(f"{server.url}/metrics").text
        as_admin = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {ADMIN}"}).text
    assert "localscribe_jobs{" in anonymous and account_id not in anonymous
    assert "localscribe_account_processing" not in anonymous  # the per-account family, with or without jobs
    assert "localscribe_account_processing" in as_admin
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for path in [data / "uploads", *(data / "uploads").iterdir(), data / "localscribe.db"]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, (path, oct(mode))
    assert key_prefix("abcdefg") == "a"  # 7 characters: 1 shown, not 6
    assert key_prefix("0123456789abcdef0123456789abcdef") == "012345"
