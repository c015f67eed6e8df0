"""Fault injection (docs/faults.md) and the mock engine's simulated timing.

Unit tests cover rule validation, matching, firing counts and the faults file on a bare database; the
rest start servers, arrange faults through `/admin/faults` or a YAML file, and watch what a client sees.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from server import errors
from server.clock import utcnow
from server.db.models import Base, FaultRule
from server.db.session import make_engine
from server.emulator import http_rules, matching
from server.emulator import rules as store
from server.emulator.faults_file import FaultsFileError, load_faults_file
from server.emulator.matching import Facts, StreamFault, matches
from server.emulator.schema import parse_rule
from tests.conftest import StartServer
from tests.support.files import file_server, until, wait_for
from tests.support.server import API_KEY, ServerProcess
from tests.support.spec import AUDIO

TOKEN = "faults-admin-token"


# --- units: validation, matching, counting ---------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'units.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        yield session
    engine.dispose()


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({}, "effect"),
        ({"effect": {"type": "explode"}}, "effect"),
        ({"effect": {"type": "hold"}}, "effect.hold.seconds"),
        ({"effect": {"type": "http", "status": 503}}, "effect.http.status"),
        ({"effect": {"type": "http", "status": 500, "fraction": 1.5}}, "effect.http.fraction"),
        ({"effect": {"type": "close", "code": 99}}, "effect.close.code"),
        ({"effect": {"type": "error"}, "times": 0}, "times"),
        ({"effect": {"type": "error"}, "match": {"audio_url_regex": "("}}, "match.audio_url_regex"),
        ({"effect": {"type": "error"}, "match": {"colour": "red"}}, "match.colour"),
        ({"effect": {"type": "error"}, "match": {"path": "/v2/*"}}, "body"),
        ({"effect": {"type": "close", "code": 4001}, "match": {"audio_url": "*"}}, "body"),
        ({"effect": {"type": "error"}, "match": {"audio_url": "*", "audio_url_regex": "x"}}, "match"),
    ],
)
def test_invalid_rules_are_refused_naming_the_field(rule: dict, field: str) -> None:
    with pytest.raises(errors.ApiError) as caught:
        parse_rule(rule)
    assert caught.value.status == 400
    assert caught.value.message.split(": ", 1)[0] == field


@pytest.mark.parametrize(
    ("match", "facts", "expected"),
    [
        ({}, Facts(), True),
        ({"account_id": "a"}, Facts(account_id="a"), True),
        ({"account_id": "a"}, Facts(account_id="b"), False),
        ({"audio_url": "*/broken/*"}, Facts(audio_url="https://x.test/broken/a.wav"), True),
        ({"audio_url": "*.wav"}, Facts(audio_url="https://x.test/a.WAV"), False),  # globs are case-sensitive
        ({"audio_url": "*.wav"}, Facts(), False),  # a rule about URLs never matches what has none
        ({"audio_url_regex": r"jfk\.flac$"}, Facts(audio_url="http://h/jfk.flac"), True),
        ({"audio_url_regex": r"^jfk"}, Facts(audio_url="http://h/jfk.flac"), False),
        (
            {"header": {"name": "X-LocalScribe-Fault", "value": "slow"}},
            Facts(headers={"x-localscribe-fault": "slow"}),
            True,
        ),
        (
            {"header": {"name": "X-LocalScribe-Fault", "value": "slow"}},
            Facts(headers={"x-localscribe-fault": "fast"}),
            False,
        ),
        ({"header": {"name": "X-Fail"}}, Facts(headers={"x-fail": ""}), True),  # no value: presence is enough
        ({"header": {"name": "X-Fail"}}, Facts(headers={}), False),
        ({"path": "/v2/transcript*"}, Facts(path="/v2/transcript/abc"), True),
        ({"path": "/v2/transcript*"}, Facts(path="/v2/upload"), False),
        ({"account_id": "a", "audio_url": "*"}, Facts(account_id="a"), False),  # every condition must hold
    ],
)
def test_matching(match: dict, facts: Facts, expected: bool) -> None:
    assert matches(match, facts) is expected


def test_times_caps_firings_and_job_effects_combine(db: Session) -> None:
    now = datetime(2026, 1, 1)
    store.add_rule(db, parse_rule({"effect": {"type": "hold", "seconds": 2}, "times": 1}))
    store.add_rule(
        db, parse_rule({"effect": {"type": "error", "message": "boom"}, "match": {"account_id": "a"}})
    )
    store.add_rule(db, parse_rule({"effect": {"type": "error", "message": "later rule"}}))
    fault, hold_until = matching.job_fault(db, "a", "http://h/x.wav", {}, now)
    assert fault is not None and (fault["hold_s"], fault["error"]) == (2, "boom")  # the oldest rule wins
    assert hold_until == datetime(2026, 1, 1, 0, 0, 2)
    fault, hold_until = matching.job_fault(db, "b", "http://h/x.wav", {}, now)
    assert fault is not None and "hold_s" not in fault and hold_until is None  # times: 1 is used up
    assert fault["error"] == "later rule"
    assert [r.hits for r in store.list_rules(db)] == [1, 1, 1]


def test_nothing_is_injected_without_a_rule(db: Session) -> None:
    assert matching.job_fault(db, "a", "http://h/x.wav", {"x-localscribe-fault": "slow"}, utcnow()) == (
        None,
        None,
    )
    assert matching.stream_fault(db, "a", {"X-LocalScribe-Fault": "drop"}) is None
    assert http_rules.load_http_faults(db) == []


def test_stream_fault(db: Session) -> None:
    store.add_rule(
        db,
        parse_rule(
            {
                "match": {"header": {"name": "X-LocalScribe-Fault", "value": "drop"}},
                "effect": {"type": "close", "code": 3005, "reason": "Session Cancelled", "after_s": 1.5},
                "times": 1,
            }
        ),
    )
    assert matching.stream_fault(db, "a", {"X-LocalScribe-Fault": "other"}) is None
    assert matching.stream_fault(db, "a", {"X-LocalScribe-Fault": "drop"}) == StreamFault(
        3005, "Session Cancelled", 1.5
    )
    assert matching.stream_fault(db, "a", {"X-LocalScribe-Fault": "drop"}) is None  # times: 1


def test_http_fraction_and_cache(db: Session) -> None:
    store.add_rule(db, parse_rule({"effect": {"type": "http", "status": 500, "fraction": 0.25}}))
    store.add_rule(
        db, parse_rule({"effect": {"type": "http", "status": 429}, "match": {"path": "/v2/upload"}})
    )
    rules = http_rules.load_http_faults(db)
    assert [r.message for r in rules] == [errors.SERVER_ERROR, errors.TOO_MANY_REQUESTS]
    assert http_rules.http_fault_headers(rules[1]) == {"Retry-After": "1"}
    draw = random.Random(7).random
    picked = [matching.pick_http_fault(rules, Facts(path="/v2/transcript"), draw) for _ in range(2000)]
    assert 400 < sum(p is not None for p in picked) < 600  # about a quarter, from a fixed seed
    assert matching.pick_http_fault(rules, Facts(path="/v2/upload"), lambda: 0.9).status == 429

    cache = http_rules.RuleCache(ttl_s=60)
    assert cache.fresh() is None
    cache.store(rules)
    assert cache.fresh() == rules
    cache.invalidate()
    assert cache.fresh() is None


def test_faults_file_loads_idempotently(db: Session, tmp_path: Path) -> None:
    path = tmp_path / "faults.yml"
    path.write_text(
        "faults:\n"
        "  - name: slow\n"
        "    match: {header: {name: X-LocalScribe-Fault, value: slow}}\n"
        "    effect: {type: delay, seconds: 3}\n"
        "  - effect: {type: http, status: 500, fraction: 0.1}\n"
    )
    assert load_faults_file(db, path) == 2
    first = {r.id: r for r in store.list_rules(db)}
    store.consume(db, next(iter(first.values())))
    assert load_faults_file(db, path) == 2  # a second process starting: same rules, counts kept
    again = store.list_rules(db)
    assert {r.id for r in again} == set(first) and sorted(r.hits for r in again) == [0, 1]
    assert all(r.source == "file" for r in again)

    path.write_text("- effect: {type: error, message: gone}\n")  # a bare list works too
    store.add_rule(db, parse_rule({"effect": {"type": "hold", "seconds": 1}}))  # API rules are left alone
    assert load_faults_file(db, path) == 1
    assert sorted((r.source, r.kind) for r in store.list_rules(db)) == [("api", "hold"), ("file", "error")]

    path.write_text("- effect: {type: hold}\n")
    with pytest.raises(FaultsFileError, match="rule 1: effect.hold.seconds"):
        load_faults_file(db, path)


def test_migration_creates_the_fault_table(tmp_path: Path) -> None:
    from server.db.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        columns = {row[1] for row in conn.execute(text("PRAGMA table_info(fault_rules)"))}
        transcript_columns = {row[1] for row in conn.execute(text("PRAGMA table_info(transcripts)"))}
    engine.dispose()
    assert columns == {c.name for c in FaultRule.__table__.columns}
    assert {"fault", "hold_until"} <= transcript_columns


# --- end to end ---------------------------------------------------------------------------------


def _admin(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)


def _client(server: ServerProcess, key: str = API_KEY) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=30)


def _add(admin: httpx.Client, rule: dict) -> dict:
    r = admin.post("/admin/faults", json=rule)
    assert r.status_code == 201, r.text
    return r.json()


def _upload(client: httpx.Client, path: Path) -> str:
    return client.post("/v2/upload", content=path.read_bytes()).json()["upload_url"]


def test_error_fault_by_url_applies_in_a_separate_worker(start_server: StartServer) -> None:
    """Rules live in the database: made through the API process, obeyed by a worker process."""
    api = start_server(args=["serve", "--no-workers"], LOCALSCRIBE_ADMIN_TOKEN=TOKEN)
    start_server(args=["worker"], wait=False)
    with _admin(api) as admin, _client(api) as client, file_server(AUDIO) as base:
        rule = _add(
            admin,
            {"match": {"audio_url_regex": r"/jfk\.flac$"}, "effect": {"type": "error", "message": "boom"}},
        )
        broken = client.post("/v2/transcript", json={"audio_url": f"{base}/jfk.flac"}).json()
        fine = client.post("/v2/transcript", json={"audio_url": f"{base}/en_timit_LDC93S1.wav"}).json()
        assert "fault" not in broken and "hold_until" not in broken  # never shown to clients
        done = wait_for(client, broken["id"])
        assert (done["status"], done["error"]) == ("error", "boom")
        assert wait_for(client, fine["id"])["status"] == "completed"
        assert admin.get(f"/admin/faults/{rule['id']}").json()["hits"] == 1


def test_hold_fault_keeps_a_job_queued_without_blocking_others(
    server_with_admin: ServerProcess, jfk: Path
) -> None:
    hold_s = 3.0
    with _admin(server_with_admin) as admin, _client(server_with_admin) as client:
        _add(
            admin,
            {
                "match": {"header": {"name": "X-LocalScribe-Fault", "value": "hold"}},
                "effect": {"type": "hold", "seconds": hold_s},
            },
        )
        url = _upload(client, jfk)
        t0 = time.monotonic()
        held = client.post("/v2/transcript", json={"audio_url": url}, headers={"X-LocalScribe-Fault": "hold"})
        free = client.post("/v2/transcript", json={"audio_url": url}).json()
        assert wait_for(client, free["id"])["status"] == "completed"
        # every answer received before the hold ran out says `queued` (the job was created after t0)
        while (elapsed := time.monotonic() - t0) < hold_s - 0.3:
            body = client.get(f"/v2/transcript/{held.json()['id']}").json()
            if time.monotonic() - t0 < hold_s:
                assert body["status"] == "queued", (elapsed, body)
            time.sleep(0.1)
        assert wait_for(client, held.json()["id"])["status"] == "completed"
        assert time.monotonic() - t0 >= hold_s


def test_delay_fault_keeps_a_job_processing(server_with_admin: ServerProcess, jfk: Path) -> None:
    delay_s = 2.0
    with _admin(server_with_admin) as admin, _client(server_with_admin) as client:
        account = admin.post("/admin/accounts", json={"name": "slow"}).json()
        _add(admin, {"match": {"account_id": account["id"]}, "effect": {"type": "delay", "seconds": delay_s}})
        with _client(server_with_admin, account["key"]) as slow:
            t0 = time.monotonic()
            tid = slow.post("/v2/transcript", json={"audio_url": _upload(slow, jfk)}).json()["id"]
            until(
                lambda: slow.get(f"/v2/transcript/{tid}").json()["status"] == "processing", what="processing"
            )
            assert wait_for(slow, tid)["status"] == "completed"
            assert time.monotonic() - t0 >= delay_s
        other = client.post("/v2/transcript", json={"audio_url": _upload(client, jfk)}).json()["id"]
        assert wait_for(client, other)["status"] == "completed"


def test_http_faults(server_with_admin: ServerProcess, jfk: Path) -> None:
    with _admin(server_with_admin) as admin, _client(server_with_admin) as client:
        limited = _add(
            admin,
            {"match": {"path": "/v2/transcript"}, "effect": {"type": "http", "status": 429}, "times": 2},
        )
        for _ in range(2):
            r = client.get("/v2/transcript")
            assert r.status_code == 429 and r.json() == {"error": "Too Many Requests"}
            assert r.headers["retry-after"] == "1"
        assert client.get("/v2/transcript").status_code == 200  # times: 2, used up
        assert admin.get(f"/admin/faults/{limited['id']}").json()["hits"] == 2

        # matched on the audio URL in the body; the body still reaches the route intact when it does not match
        _add(
            admin,
            {
                "match": {"audio_url": "*/doomed/*"},
                "effect": {"type": "http", "status": 500, "message": "down"},
            },
        )
        r = client.post("/v2/transcript", json={"audio_url": "https://example.test/doomed/a.wav"})
        assert (r.status_code, r.json()) == (500, {"error": "down"})
        r = client.post("/v2/transcript", json={"audio_url": _upload(client, jfk)})
        assert r.status_code == 200, r.text

        _add(admin, {"effect": {"type": "http", "status": 500, "fraction": 0}})  # never fires
        _add(admin, {"match": {"header": {"name": "X-Fail"}}, "effect": {"type": "http", "status": 500}})
        assert client.get("/v2/transcript", headers={"X-Fail": "1"}).json() == {"error": errors.SERVER_ERROR}
        assert client.get("/v2/transcript").status_code == 200
        assert httpx.get(f"{server_with_admin.url}/health", headers={"X-Fail": "1"}).status_code == 200
        assert admin.get("/admin/faults", headers={"X-Fail": "1"}).status_code == 200  # /admin is exempt

        assert admin.delete("/admin/faults").json() == {"deleted": 4}
        assert admin.get("/admin/faults").json() == {"faults": []}
        assert client.get("/v2/transcript", headers={"X-Fail": "1"}).status_code == 200


def test_fault_rules_crud(server_with_admin: ServerProcess) -> None:
    with _admin(server_with_admin) as admin:
        rule = _add(admin, {"name": "drop", "effect": {"type": "close", "code": 3005, "after_s": 2}})
        assert rule["effect"] == {"type": "close", "code": 3005, "reason": "", "after_s": 2.0}
        assert (rule["source"], rule["hits"], rule["times"], rule["match"]) == ("api", 0, None, {})
        assert [r["id"] for r in admin.get("/admin/faults").json()["faults"]] == [rule["id"]]
        r = admin.post("/admin/faults", json={"effect": {"type": "hold", "seconds": -1}})
        assert r.status_code == 400 and r.json()["error"].startswith("effect.hold.seconds: ")
        assert admin.delete(f"/admin/faults/{rule['id']}").json()["id"] == rule["id"]
        assert admin.delete(f"/admin/faults/{rule['id']}").status_code == 404
        r = admin.delete("/admin/faults", params={"source": "elsewhere"})
        assert (r.status_code, r.json()) == (400, {"error": "source: must be one of: api, file"})


def test_close_fault_drops_a_stream(server_with_admin: ServerProcess) -> None:
    """Effect `close`: the streaming session is closed with the rule's code and reason after `after_s`."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    url = server_with_admin.url.replace("http://", "ws://") + "/v3/ws"
    reason = "Session Cancelled: An error occurred"
    with _admin(server_with_admin) as admin:
        rule = _add(
            admin,
            {
                "match": {"header": {"name": "X-LocalScribe-Fault", "value": "drop"}},
                "effect": {"type": "close", "code": 3005, "reason": reason, "after_s": 0.5},
                "times": 1,
            },
        )
        headers = {"Authorization": API_KEY, "X-LocalScribe-Fault": "drop"}
        t0 = time.monotonic()  # before the session exists, so the bound below holds however slow we are
        with connect(url, additional_headers=headers, open_timeout=5) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "Begin"
            with pytest.raises(ConnectionClosed):
                for _ in range(100):
                    ws.send(bytes(3200))  # 100 ms of silence, at real-time pace
                    time.sleep(0.1)
        assert (ws.close_code, ws.close_reason) == (3005, reason)
        assert time.monotonic() - t0 >= 0.5
        assert admin.get(f"/admin/faults/{rule['id']}").json()["hits"] == 1

        with connect(url, additional_headers=headers, open_timeout=5) as ws:  # times: 1, used up
            assert json.loads(ws.recv(timeout=5))["type"] == "Begin"
            for _ in range(10):
                ws.send(bytes(3200))
                time.sleep(0.1)
            ws.send(json.dumps({"type": "Terminate"}))
            with pytest.raises(ConnectionClosed):
                while True:
                    ws.recv(timeout=10)
        assert ws.close_code == 1000


def test_faults_file_is_loaded_once_by_every_process(
    start_server: StartServer, tmp_path: Path, jfk: Path
) -> None:
    path = tmp_path / "faults.yml"
    path.write_text(
        "faults:\n"
        "  - name: flaky\n"
        "    match: {header: {name: X-LocalScribe-Fault, value: error}}\n"
        "    effect: {type: error, message: injected from a file}\n"
    )
    env = {"LOCALSCRIBE_ADMIN_TOKEN": TOKEN, "LOCALSCRIBE_FAULTS_FILE": str(path)}
    first = start_server(**env)
    start_server(**env)  # a second process on the same database loads the same file
    with _admin(first) as admin, _client(first) as client:
        (rule,) = admin.get("/admin/faults").json()["faults"]
        assert (rule["name"], rule["source"]) == ("flaky", "file")
        tid = client.post(
            "/v2/transcript",
            json={"audio_url": _upload(client, jfk)},
            headers={"X-LocalScribe-Fault": "error"},
        ).json()["id"]
        assert wait_for(client, tid)["error"] == "injected from a file"
        _add(admin, {"effect": {"type": "delay", "seconds": 1}, "match": {"account_id": "nobody"}})
        assert admin.delete("/admin/faults", params={"source": "api"}).json() == {"deleted": 1}
        assert [r["id"] for r in admin.get("/admin/faults").json()["faults"]] == [rule["id"]]


def test_a_broken_faults_file_stops_start_up(start_server: StartServer, tmp_path: Path) -> None:
    path = tmp_path / "faults.yml"
    path.write_text("faults:\n  - effect: {type: http, status: 418}\n")
    server = start_server(wait=False, LOCALSCRIBE_FAULTS_FILE=str(path))
    assert server.proc is not None and server.proc.wait(60) != 0
    assert "rule 1: effect.http.status" in server.log()


def test_mock_rtf_simulates_processing_time(start_server: StartServer, tmp_path: Path, jfk: Path) -> None:
    """`LOCALSCRIBE_MOCK_RTF=0.2`: an 11 s clip spends at least 2.2 s in processing (a lower bound only)."""
    server = start_server(LOCALSCRIBE_MOCK_RTF="0.2")
    with _client(server) as client:
        tid = client.post("/v2/transcript", json={"audio_url": _upload(client, jfk)}).json()["id"]
        body = wait_for(client, tid)
    assert body["status"] == "completed" and body["audio_duration"] == 11
    engine = create_engine(
        server.env.get("LOCALSCRIBE_DATABASE_URL") or f"sqlite:///{tmp_path / 'localscribe.db'}"
    )
    with engine.connect() as conn:
        started, completed = conn.execute(
            text("SELECT started_at, completed_at FROM transcripts WHERE id = :id"), {"id": tid}
        ).one()
    engine.dispose()
    if isinstance(started, str):  # SQLite hands back text
        started, completed = datetime.fromisoformat(started), datetime.fromisoformat(completed)
    assert (completed - started).total_seconds() >= 0.2 * 10.9  # jfk.flac is 11.0 s long


@pytest.fixture
def server_with_admin(start_server: StartServer) -> ServerProcess:
    return start_server(LOCALSCRIBE_ADMIN_TOKEN=TOKEN)
