"""The `/admin` emulator controls: absent unless a token is set, then accounts, keys, limits and reset."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import StartServer
from tests.support.files import until, wait_for
from tests.support.server import API_KEY, ServerProcess

TOKEN = "admin-secret-token"


def _admin(server: ServerProcess, token: str = TOKEN) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _api(server: ServerProcess, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=30)


@pytest.fixture
def admin_server(start_server: StartServer) -> ServerProcess:
    return start_server(LOCALSCRIBE_ADMIN_TOKEN=TOKEN)


@pytest.fixture
def admin(admin_server: ServerProcess) -> httpx.Client:
    with _admin(admin_server) as c:
        yield c


def test_admin_is_absent_without_a_token(server: ServerProcess) -> None:
    for method, path in [("GET", "/admin/accounts"), ("POST", "/admin/reset"), ("GET", "/admin/faults")]:
        r = httpx.request(method, f"{server.url}{path}", headers={"Authorization": "Bearer anything"})
        assert r.status_code == 404, (path, r.text)
        assert r.json() == {"error": "Not found"}


def test_admin_is_not_in_the_public_schema(admin_server: ServerProcess) -> None:
    paths = httpx.get(f"{admin_server.url}/openapi.json").json()["paths"]
    assert paths and not [p for p in paths if p.startswith("/admin")]


@pytest.mark.parametrize("header", [None, "Bearer wrong", API_KEY, "wrong"])
def test_admin_refuses_a_missing_or_wrong_token(admin_server: ServerProcess, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    r = httpx.post(f"{admin_server.url}/admin/accounts", headers=headers, content=b"{not json")
    assert r.status_code == 401  # the token is checked before the body is read
    assert r.json() == {"error": "Admin authentication error, LOCALSCRIBE_ADMIN_TOKEN missing/invalid"}


def test_admin_accepts_the_bare_token(admin_server: ServerProcess) -> None:
    r = httpx.get(f"{admin_server.url}/admin/accounts", headers={"Authorization": TOKEN})
    assert r.status_code == 200
    # the bootstrap account of LOCALSCRIBE_API_KEY is there; keys are listed by prefix, never in full
    (account,) = r.json()["accounts"]
    assert account["tier"] == "paid" and account["keys"][0]["prefix"] == API_KEY[:3]
    assert API_KEY not in r.text


def test_account_and_key_lifecycle(admin_server: ServerProcess, admin: httpx.Client) -> None:
    r = admin.post("/admin/accounts", json={"name": "ci", "tier": "free"})
    assert r.status_code == 201, r.text
    created = r.json()
    account_id, first_key = created["id"], created["key"]
    assert (created["tier"], created["async_limit"], created["realtime_limit"]) == ("free", 5, 0)
    assert [k["prefix"] for k in created["keys"]] == [first_key[:6]]
    with _api(admin_server, first_key) as user:
        assert user.get("/v2/transcript").status_code == 200

    second = admin.post(f"/admin/accounts/{account_id}/keys", json={"name": "second"}).json()
    revoked = admin.delete(f"/admin/keys/{created['keys'][0]['id']}").json()
    assert revoked["revoked_at"] is not None
    with _api(admin_server, first_key) as user:
        assert user.get("/v2/transcript").status_code == 401
    with _api(admin_server, second["key"]) as user:
        assert user.get("/v2/transcript").status_code == 200

    # a new tier brings its default limits; explicit limits win
    changed = admin.patch(f"/admin/accounts/{account_id}", json={"tier": "paid", "async_limit": 3}).json()
    assert (changed["tier"], changed["async_limit"], changed["realtime_limit"]) == ("paid", 3, 32)
    assert admin.get(f"/admin/accounts/{account_id}").json()["async_limit"] == 3
    ids = [a["id"] for a in admin.get("/admin/accounts").json()["accounts"]]
    assert account_id in ids and len(ids) == 2

    assert admin.delete(f"/admin/accounts/{account_id}").status_code == 200
    with _api(admin_server, second["key"]) as user:
        assert user.get("/v2/transcript").status_code == 401
    assert admin.get(f"/admin/accounts/{account_id}").json() == {"error": f"Account not found: {account_id}"}


def test_admin_input_errors_name_the_field(admin: httpx.Client) -> None:
    r = admin.post("/admin/accounts", json={"tier": "gold"})
    assert r.status_code == 400 and r.json()["error"].startswith("tier: ")
    r = admin.post("/admin/accounts", json={"async_limit": -1})
    assert r.status_code == 400 and r.json()["error"].startswith("async_limit: ")
    r = admin.post("/admin/accounts", json={"nmae": "typo"})
    assert r.status_code == 400 and r.json()["error"].startswith("nmae: ")
    r = admin.post("/admin/accounts", content=b"{broken")
    assert r.status_code == 400 and r.json() == {"error": "Request body must be valid JSON"}
    r = admin.post("/admin/accounts", json={"key": API_KEY})
    assert r.status_code == 409 and r.json() == {"error": "That API key is already in use"}
    assert admin.delete("/admin/keys/nope").status_code == 404
    assert admin.patch("/admin/accounts/nope", json={}).status_code == 404


def test_a_chosen_key_works_and_limit_changes_apply_to_queued_jobs(
    admin_server: ServerProcess, admin: httpx.Client, jfk: Path
) -> None:
    """async_limit 0 holds jobs `queued` (throttled); raising it lets the scheduler admit them at once."""
    account = admin.post("/admin/accounts", json={"key": "ci-key-0001", "async_limit": 0}).json()
    with _api(admin_server, "ci-key-0001") as user:
        upload_url = user.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
        tid = user.post("/v2/transcript", json={"audio_url": upload_url}).json()["id"]
        held = until(
            lambda: (b := user.get(f"/v2/transcript/{tid}").json())["throttled"] and b, what="throttle"
        )
        assert held["status"] == "queued"
        admin.patch(f"/admin/accounts/{account['id']}", json={"async_limit": 1}).raise_for_status()
        assert wait_for(user, tid)["status"] == "completed"


def test_reset_leaves_a_fresh_usable_server(start_server: StartServer, tmp_path: Path, jfk: Path) -> None:
    faults_file = tmp_path / "faults.yml"
    faults_file.write_text("faults:\n  - effect: {type: delay, seconds: 0.1}\n    times: 5\n")
    server = start_server(LOCALSCRIBE_ADMIN_TOKEN=TOKEN, LOCALSCRIBE_FAULTS_FILE=str(faults_file))
    with _admin(server) as admin, _api(server, API_KEY) as client:
        other = admin.post("/admin/accounts", json={}).json()["key"]
        admin.post("/admin/faults", json={"effect": {"type": "error"}, "match": {"account_id": "x"}})
        upload_url = client.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
        tid = client.post("/v2/transcript", json={"audio_url": upload_url}).json()["id"]
        wait_for(client, tid)
        assert any((tmp_path / "uploads").iterdir())

        r = admin.post("/admin/reset")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["development_key"] is None  # LOCALSCRIBE_API_KEY is set: that key is made again
        assert body["deleted"]["transcripts"] == 1 and body["deleted"]["accounts"] == 2
        assert body["deleted"]["fault_rules"] == 1

        assert client.get("/v2/transcript").json()["transcripts"] == []
        assert client.get(f"/v2/transcript/{tid}").status_code == 400
        assert not any((tmp_path / "uploads").iterdir())
        with _api(server, other) as gone:
            assert gone.get("/v2/transcript").status_code == 401
        (rule,) = admin.get("/admin/faults").json()["faults"]  # the file's rule stays, its count reset
        assert (rule["source"], rule["hits"]) == ("file", 0)
        assert len(admin.get("/admin/accounts").json()["accounts"]) == 1

        upload_url = client.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
        tid = client.post("/v2/transcript", json={"audio_url": upload_url}).json()["id"]
        assert wait_for(client, tid)["status"] == "completed"
