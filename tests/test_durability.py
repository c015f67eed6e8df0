"""Durability with real processes: kill -9, SIGTERM drain, restarts on the same data dir and database.

Jobs live in the database, so whatever a process was doing when it died is found again by the next one:
expired leases are requeued, a draining process hands its jobs back, uploads and results stay.
"""

from __future__ import annotations

import re
import signal
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.conftest import create_key
from tests.support.files import until, wait_for
from tests.support.server import API_KEY, ServerProcess


def _client(server: ServerProcess, key: str = API_KEY) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=30)


def _ids(c: httpx.Client, **query: str) -> list[str]:
    return [t["id"] for t in c.get("/v2/transcript", params={"limit": 200, **query}).json()["transcripts"]]


def _job_lines(procs: list[ServerProcess], pattern: str) -> Counter[str]:
    """How many log lines matching `pattern` each transcript id has, across the processes' logs."""
    rx = re.compile(rf"transcript_id=([0-9a-f-]{{36}}) {pattern}")
    counts: Counter[str] = Counter()
    for p in procs:
        counts.update(m.group(1) for m in rx.finditer(p.log()))
    return counts


def _who_runs(procs: list[ServerProcess], tid: str) -> ServerProcess:
    return until(
        lambda: next((p for p in procs if f"transcript_id={tid} processing" in p.log()), None),
        what=f"a process to start {tid}",
    )


def test_kill_9_then_restart_completes_every_job_once(start_server, jfk: Path) -> None:
    settings = {
        "LOCALSCRIBE_WORKERS": "3",
        "LOCALSCRIBE_MOCK_DELAY_S": "1",
        "LOCALSCRIBE_LEASE_SECONDS": "2",
    }
    first = start_server(**settings)
    key = create_key(first, tier="paid", async_limit=2)  # some jobs wait as throttled, too
    c = _client(first, key)
    upload_url = c.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
    ids = [c.post("/v2/transcript", json={"audio_url": upload_url}).json()["id"] for _ in range(8)]
    held_back = set(until(lambda: _ids(c, throttled_only="true"), what="throttled jobs"))
    # kill while the second pair runs: two done, two processing, four still queued
    until(lambda: len(_ids(c, status="completed")) >= 2 and _ids(c, status="processing"), what="pair two")
    first.kill()
    assert first.proc is not None and first.proc.returncode == -signal.SIGKILL
    done_before = set(_job_lines([first], "completed in "))
    interrupted = set(_job_lines([first], r"processing \(attempt 1\)")) - done_before
    assert len(done_before) >= 2 and 1 <= len(interrupted) <= 2  # never more than the limit at once

    second = start_server(**settings)
    c = _client(second, key)
    done = {tid: wait_for(c, tid, timeout=60) for tid in ids}
    assert {tid: body["status"] for tid, body in done.items()} == dict.fromkeys(ids, "completed")
    assert all(len(body["words"]) > 10 for body in done.values())
    # each job ran to completion exactly once across both processes
    assert _job_lines([first, second], "completed in ") == Counter(ids)
    assert not done_before & set(_job_lines([second], "completed in "))
    assert "lease lost" not in first.log() + second.log()
    # the jobs that were running when the process died were found by lease expiry and run again
    assert "requeued" in second.log()
    # (the kill can land between a claim's commit and its log line: such a job is a retry the log missed)
    retried = set(_job_lines([second], r"processing \(attempt 2\)"))
    assert interrupted <= retried and len(retried) <= 2 and not retried & done_before
    assert set(_job_lines([second], r"processing \(attempt 1\)")) == set(ids) - done_before - retried
    # no errors; throttle flags end false for held-back jobs (requeued ones too), null otherwise
    assert _ids(c, status="error") == [] and _ids(c, throttled_only="true") == []
    assert {t: done[t]["throttled"] for t in held_back} == dict.fromkeys(held_back, False)
    assert all(done[t]["throttled"] in (None, False) for t in ids)


def test_sigterm_drains_and_hands_the_job_back(start_server, jfk: Path) -> None:
    settings = {
        "LOCALSCRIBE_WORKERS": "1",
        "LOCALSCRIBE_MOCK_DELAY_S": "3",
        "LOCALSCRIBE_SHUTDOWN_GRACE_S": "1",
        "LOCALSCRIBE_LEASE_SECONDS": "30",  # a lease never expires here: only a hand-back requeues
    }
    first = start_server(**settings)
    with _client(first) as c:
        upload_url = c.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
        tid = c.post("/v2/transcript", json={"audio_url": upload_url}).json()["id"]
        until(lambda: c.get(f"/v2/transcript/{tid}").json()["status"] == "processing", what="processing")
        started = time.monotonic()
        assert first.proc is not None
        first.proc.send_signal(signal.SIGTERM)
        first.proc.wait(15)
    assert time.monotonic() - started < 5, first.log()
    assert first.proc.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    assert "handed 1 unfinished jobs back to the queue" in first.log()
    assert f"transcript_id={tid} completed" not in first.log()

    api = start_server(args=["serve", "--no-workers"], **settings)  # looks at the queue, runs nothing
    with _client(api) as c:
        body = c.get(f"/v2/transcript/{tid}").json()
        assert (body["status"], body.get("text")) == ("queued", None)
        start = time.monotonic()
        worker = start_server(args=["worker"], wait=False, **settings)
        done = wait_for(c, tid, timeout=30)
    assert done["status"] == "completed" and done["text"]
    assert time.monotonic() - start < 20  # no wait for the 30 s lease
    # the hand-back undid the attempt: this is attempt 1 again
    assert _job_lines([worker], r"processing \(attempt 1\)") == Counter([tid])
    assert _job_lines([first, api, worker], "completed in ") == Counter([tid])


def test_drain_keeps_the_lease_while_a_job_finishes_within_grace(start_server, jfk: Path) -> None:
    """A draining process keeps renewing its lease: another node must not take the job meanwhile."""
    settings = {
        "LOCALSCRIBE_WORKERS": "1",
        "LOCALSCRIBE_MOCK_DELAY_S": "2.5",
        "LOCALSCRIBE_SHUTDOWN_GRACE_S": "8",
        "LOCALSCRIBE_LEASE_SECONDS": "1",
    }
    api = start_server(args=["serve", "--no-workers"], **settings)
    workers = [start_server(args=["worker"], wait=False, **settings) for _ in range(2)]
    until(lambda: all("worker pool" in w.log() for w in workers), what="worker pools")
    with _client(api) as c:
        upload_url = c.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
        tid = c.post("/v2/transcript", json={"audio_url": upload_url}).json()["id"]
        runner = _who_runs(workers, tid)
        other = workers[1 - workers.index(runner)]
        assert runner.proc is not None
        runner.proc.send_signal(signal.SIGTERM)
        runner.proc.wait(15)
        done = wait_for(c, tid, timeout=30)
    time.sleep(1)
    assert done["status"] == "completed"
    assert f"transcript_id={tid} completed in" in runner.log()  # finished by the draining process
    assert tid not in other.log()  # never taken over
    assert "lease lost" not in runner.log() and "handed" not in runner.log()


def test_uploads_and_results_survive_a_restart(start_server, jfk: Path) -> None:
    first = start_server()
    with _client(first) as c:
        upload_url = c.post("/v2/upload", content=jfk.read_bytes()).json()["upload_url"]
        tid = c.post("/v2/transcript", json={"audio_url": upload_url}).json()["id"]
        before = wait_for(c, tid)
        sentences = c.get(f"/v2/transcript/{tid}/sentences").json()
    assert before["status"] == "completed" and len(before["words"]) > 10
    first.stop()

    second = start_server()
    with _client(second) as c:
        after = c.get(f"/v2/transcript/{tid}").json()
        assert after == before
        assert c.get(f"/v2/transcript/{tid}/sentences").json() == sentences
        assert _ids(c) == [tid]
        again = c.post("/v2/transcript", json={"audio_url": upload_url})
        assert again.status_code == 200, again.text
        redo = wait_for(c, again.json()["id"])
    assert redo["status"] == "completed", redo
    assert redo["audio_url"] == upload_url
    assert redo["text"] == before["text"] and redo["words"] == before["words"]
    assert redo["audio_duration"] == 11
