"""Scheduling across real processes: per-account throttle limits, limit overrides, round-robin fairness.

Every test runs an API process and worker processes that share one database (SQLite and PostgreSQL),
submits jobs over HTTP and watches them with a sampler thread that polls the list endpoint.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conftest import create_key
from tests.support.files import wait_for
from tests.support.server import ServerProcess


def _client(server: ServerProcess, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=30)


def _ids(c: httpx.Client, **query: str) -> set[str]:
    body = c.get("/v2/transcript", params={"limit": 200, **query}).json()
    return {t["id"] for t in body["transcripts"]}


def _submit(c: httpx.Client, audio: Path, n: int) -> list[str]:
    upload_url = c.post("/v2/upload", content=audio.read_bytes()).json()["upload_url"]
    ids = []
    for _ in range(n):
        r = c.post("/v2/transcript", json={"audio_url": upload_url})
        assert r.status_code == 200, r.text
        ids.append(r.json()["id"])
    return ids


def _wait_pool_started(*procs: ServerProcess, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for p in procs:
        while "worker pool" not in p.log():
            assert p.proc is not None and p.proc.poll() is None, p.log()
            assert time.monotonic() < deadline, p.log()
            time.sleep(0.05)


def _job_lines(procs: list[ServerProcess], pattern: str) -> Counter[str]:
    """How many log lines matching `pattern` each transcript id has, across all processes' logs."""
    counts: Counter[str] = Counter()
    rx = re.compile(rf"transcript_id=([0-9a-f-]{{36}}) {pattern}")
    for p in procs:
        counts.update(m.group(1) for m in rx.finditer(p.log()))
    return counts


@dataclass
class Sample:
    t: float
    processing: dict[str, set[str]]
    completed: dict[str, set[str]]
    throttled: dict[str, set[str]]


@dataclass
class Sampler:
    clients: dict[str, httpx.Client]
    interval: float = 0.05
    samples: list[Sample] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def take(self) -> Sample:
        s = Sample(time.monotonic(), {}, {}, {})
        for name, c in self.clients.items():
            s.processing[name] = _ids(c, status="processing")
            s.completed[name] = _ids(c, status="completed")
            s.throttled[name] = _ids(c, throttled_only="true")
        return s

    @contextmanager
    def running(self) -> Iterator[Sampler]:
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                try:
                    self.samples.append(self.take())
                except BaseException as exc:  # noqa: BLE001 - reported by the test
                    self.errors.append(exc)
                    return
                stop.wait(self.interval)

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(10)
        assert not self.errors, self.errors

    def max_processing(self, name: str) -> int:
        return max(len(s.processing[name]) for s in self.samples)

    def first_seen(self, tid: str, name: str) -> float:
        """When the job was first seen started (processing or already completed)."""
        return min(s.t for s in self.samples if tid in s.processing[name] or tid in s.completed[name])


def test_free_limit_holds_across_worker_processes(start_server, jfk: Path) -> None:
    settings = {
        "LOCALSCRIBE_WORKERS": "4",
        "LOCALSCRIBE_MOCK_DELAY_S": "0.8",
        "LOCALSCRIBE_LEASE_SECONDS": "5",
    }
    api = start_server(args=["serve", "--no-workers"], **settings)
    workers = [start_server(args=["worker"], wait=False, **settings) for _ in range(2)]
    free = _client(api, create_key(api, tier="free"))
    paid = _client(api, create_key(api, tier="paid"))
    _wait_pool_started(*workers)
    sampler = Sampler({"free": free, "paid": paid})

    with sampler.running():
        free_ids = _submit(free, jfk, 12)
        # Five run; the rest wait, all of them listed as throttled: the newest ones (FIFO).
        deadline = time.monotonic() + 10
        while True:
            held = _ids(free, throttled_only="true")
            queued = _ids(free, status="queued")
            if held and held == queued and held == set(free_ids[-len(held) :]):
                break
            assert time.monotonic() < deadline, (held, queued, free_ids)
            time.sleep(0.02)
        for tid in held:
            body = free.get(f"/v2/transcript/{tid}").json()
            if body["status"] == "queued":
                assert body["throttled"] is True, body
            else:  # admitted meanwhile
                assert (body["status"], body["throttled"]) in {("processing", False), ("completed", False)}
        paid_ids = _submit(paid, jfk, 3)
        done = {tid: wait_for(free, tid) for tid in free_ids} | {tid: wait_for(paid, tid) for tid in paid_ids}
        time.sleep(0.1)

    assert [tid for tid, body in done.items() if body["status"] != "completed"] == []
    # the limit held and was used in full; the Paid account ran alongside
    assert sampler.max_processing("free") == 5
    assert sampler.max_processing("paid") == 3
    assert all(s.throttled["paid"] == set() for s in sampler.samples)
    assert all(s.throttled["free"] <= set(free_ids[5:]) for s in sampler.samples)
    assert all(not (s.throttled["free"] & s.processing["free"]) for s in sampler.samples)
    # not starved: every Paid job started before the Free backlog was done
    free_done_at = min(s.t for s in sampler.samples if s.completed["free"] == set(free_ids))
    for tid in paid_ids:
        assert sampler.first_seen(tid, "paid") < free_done_at
    # FIFO within the Free account: the jobs started in submission order (at sampling resolution)
    starts = [sampler.first_seen(tid, "free") for tid in free_ids]
    assert max(starts[:5]) <= min(starts[5:])
    # end state: completed exactly once; throttled false for held-back jobs, null for the others
    assert _ids(free, status="completed") == set(free_ids)
    assert _ids(paid, status="completed") == set(paid_ids)
    assert _ids(free, status="error") == _ids(paid, status="error") == set()
    assert _ids(free, throttled_only="true") == set()
    ever_held = set().union(*(s.throttled["free"] for s in sampler.samples), held)
    assert held <= ever_held <= set(free_ids[5:])  # all seven, unless submitting took longer than a job
    assert [done[t]["throttled"] for t in free_ids[:5]] == [None] * 5
    assert {t for t in free_ids if done[t]["throttled"] is False} == ever_held
    assert {t for t in free_ids if done[t]["throttled"] is None} == set(free_ids) - ever_held
    assert [done[t]["throttled"] for t in paid_ids] == [None] * 3
    procs = [api, *workers]
    every = set(free_ids) | set(paid_ids)
    assert _job_lines(procs, r"completed in ") == Counter(every)
    assert _job_lines(procs, r"processing \(attempt 1\)") == Counter(every)
    assert "lease lost" not in "".join(p.log() for p in procs)
    started_on = {w.log_path: len(_job_lines([w], r"processing \(attempt")) for w in workers}
    assert all(started_on.values()), started_on  # both worker processes took part


def test_async_limit_override_runs_one_at_a_time(start_server, jfk: Path) -> None:
    settings = {"LOCALSCRIBE_WORKERS": "3", "LOCALSCRIBE_MOCK_DELAY_S": "0.4"}
    server = start_server(**settings)
    extra = start_server(args=["worker"], wait=False, **settings)
    one = _client(server, create_key(server, tier="paid", async_limit=1))
    _wait_pool_started(server, extra)
    sampler = Sampler({"one": one})
    with sampler.running():
        ids = _submit(one, jfk, 4)
        done = [wait_for(one, tid) for tid in ids]
        time.sleep(0.1)
    assert [d["status"] for d in done] == ["completed"] * 4
    assert sampler.max_processing("one") == 1
    assert [d["throttled"] for d in done[1:]] == [False] * 3  # each waited for the one before
    listed = {t["id"]: t for t in one.get("/v2/transcript", params={"limit": 10}).json()["transcripts"]}
    completed = [listed[tid]["completed"] for tid in ids]
    assert completed == sorted(completed)  # FIFO, one after the other
    # one at a time: no job started before the previous one finished (started = first seen running)
    for prev, nxt in zip(ids, ids[1:], strict=False):
        assert sampler.first_seen(prev, "one") < sampler.first_seen(nxt, "one")


def test_round_robin_between_accounts(start_server, jfk: Path) -> None:
    server = start_server(LOCALSCRIBE_WORKERS="1", LOCALSCRIBE_MOCK_DELAY_S="0.5")
    a = _client(server, create_key(server, tier="paid"))
    b = _client(server, create_key(server, tier="paid"))
    _wait_pool_started(server)
    a_ids = _submit(a, jfk, 10)
    b_ids = _submit(b, jfk, 1)
    a_done = [wait_for(a, tid) for tid in a_ids]
    b_done = wait_for(b, b_ids[0])
    assert {d["status"] for d in a_done} == {b_done["status"]} == {"completed"}
    listed = {t["id"]: t for t in a.get("/v2/transcript", params={"limit": 20}).json()["transcripts"]}
    a_completed = [listed[tid]["completed"] for tid in a_ids]
    assert a_completed == sorted(a_completed)  # FIFO within A
    b_item = b.get("/v2/transcript").json()["transcripts"][0]
    a_after_b = [c for c in a_completed if c > b_item["completed"]]
    # B's job is the next one taken after it was queued: at most the A job running then finishes first
    a_open_when_b_queued = [c for c in a_completed if c > b_item["created"]]
    assert len(a_after_b) >= len(a_open_when_b_queued) - 1, (a_completed, b_item)
    assert len(a_after_b) >= 8, (a_completed, b_item)
