"""The worker pool of one node: N job threads plus one upkeep thread (leases, requeue, webhooks).

A SIGTERM (via `stop`) drains: no new claims, running jobs get `shutdown_grace_s` to finish, whatever
is still running is handed back to the queue for another worker.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from server import errors
from server.config import Settings
from server.db.models import TranscriptStatus
from server.engine.base import Engine
from server.engine.priority import lower_this_thread
from server.jobs import metrics, queue
from server.jobs.errors import JobError
from server.jobs.outbound import UrlPolicy
from server.jobs.pipeline import run_job
from server.jobs.stand_ins import JobStandIns
from server.jobs.webhooks import WebhookSender

log = logging.getLogger(__name__)


class WorkerPool:
    def __init__(self, settings: Settings, engine: Engine, stand_ins: JobStandIns) -> None:
        self.settings = settings
        self.engine = engine
        self.stand_ins = stand_ins  # scripted results and recordings (the node's: server/node.py)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()  # no new claims or webhook sends
        self._wake = threading.Event()  # a job was queued here: look now, not at the next poll
        self._halt = threading.Event()  # no more heartbeats: set only once the drain is over
        self._progress: dict[str, float] = {}
        self._progress_lock = threading.Lock()
        self._threads: list[threading.Thread] = []  # job threads and the webhook sender

    def start(self) -> None:
        for i in range(self.settings.workers):
            self._threads.append(threading.Thread(target=self._work, name=f"worker-{i}", daemon=True))
        self._threads.append(threading.Thread(target=self._webhooks, name="webhooks", daemon=True))
        upkeep = threading.Thread(target=self._upkeep, name="upkeep", daemon=True)
        for t in [*self._threads, upkeep]:
            t.start()
        log.info("worker pool %s started with %d workers", self.owner, self.settings.workers)
        policy = UrlPolicy.from_settings(self.settings)
        log.info(
            "URL policy %s: loopback and private addresses %s for audio_url and webhook_url",
            self.settings.url_policy,
            "allowed" if policy.allow_private else "refused",
        )

    def stop(self, grace_s: float | None = None) -> None:
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + (self.settings.shutdown_grace_s if grace_s is None else grace_s)
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        self._halt.set()  # heartbeats ran until now, so no other node took over a job still running
        handed = queue.hand_back(self.owner)
        if handed:
            log.info("handed %d unfinished jobs back to the queue", handed)

    def wake(self) -> None:
        """Other processes' jobs are found by polling; this process's own are picked up at once."""
        self._wake.set()

    def _work(self) -> None:
        # everything a job does here (media decoding, VAD, features, intelligence) yields to live decodes
        lower_this_thread(self.settings.job_decode_nice)
        while not self._stop.is_set():
            try:
                job = queue.claim_next(self.owner, self.settings.lease_seconds)
            except Exception:
                log.exception("claiming a job failed")
                job = None
            if job is None:
                self._wake.wait(self.settings.poll_interval_s)
                self._wake.clear()
                continue
            try:
                self._run(job)
            except Exception:  # never lose the thread: the pool would shrink silently
                log.exception("recording the outcome failed", extra={"transcript_id": job.id})

    def _run(self, job: queue.ClaimedJob) -> None:
        extra = {"transcript_id": job.id}
        log.info("processing (attempt %d)", job.attempt, extra=extra)
        with self._progress_lock:
            self._progress[job.id] = 0.0
        started = time.monotonic()

        def progress(fraction: float) -> None:
            with self._progress_lock:
                self._progress[job.id] = fraction

        try:
            outcome = run_job(job, self.engine, self.settings, progress, self.stand_ins)
            fields: dict = {"result": outcome.result, "audio_duration": outcome.audio_duration}
            status = "completed"
        except JobError as exc:
            fields, status = {"error": exc.message}, f"error: {exc.message}"
        except Exception:
            log.exception("job crashed", extra=extra)
            fields, status = {"error": errors.SERVER_ERROR}, "error: crash"
        if not self._injected_delay(job):
            return  # the pool stopped during the delay: stop() hands the job back to the queue
        elapsed = time.monotonic() - started
        _observe(job, fields, elapsed)  # before recording: a client that sees the result sees its metrics
        try:  # a failure to record is not the job's fault: the lease runs out and the job is retried
            done = queue.finish(job.id, self.owner, **fields)
        finally:
            with self._progress_lock:
                self._progress.pop(job.id, None)
        if done:
            log.info("%s in %.2fs", status, elapsed, extra=extra)
        else:
            log.warning("lease lost; result dropped (another worker owns the job)", extra=extra)

    def _injected_delay(self, job: queue.ClaimedJob) -> bool:
        """Fault `delay` (docs/faults.md): N extra seconds in `processing`, the heartbeat renewing the lease.

        Returns False when the pool halts meanwhile (the job is then left for `hand_back`)."""
        delay = (job.fault.delay_s if job.fault else None) or 0.0
        if delay <= 0 or not self._halt.wait(delay):
            return True
        with self._progress_lock:
            self._progress.pop(job.id, None)
        return False

    def _upkeep(self) -> None:
        """Heartbeats (a third of a lease apart, at most 1 s) and requeue of dead workers' jobs."""
        interval = min(1.0, max(0.2, self.settings.lease_seconds / 3))
        while not self._halt.wait(interval):
            try:
                with self._progress_lock:
                    snapshot = dict(self._progress)
                queue.renew_leases(self.owner, snapshot, self.settings.lease_seconds)
                requeued = queue.requeue_expired()
                if requeued:
                    log.warning("requeued %d jobs whose worker stopped renewing its lease", requeued)
            except Exception:
                log.exception("upkeep failed")

    def _webhooks(self) -> None:
        """Apart from upkeep, so a slow receiver never delays a heartbeat; deliveries run on the sender's
        own bounded pool, so one slow receiver never delays the next round either."""
        sender = WebhookSender(self.owner, self.settings)
        try:
            while not self._stop.wait(0.5):
                try:
                    sender.send_due()
                except Exception:
                    log.exception("webhook delivery failed")
        finally:
            sender.close()


def _observe(job: queue.ClaimedJob, fields: dict, elapsed: float) -> None:
    metrics.QUEUE_WAIT.observe(job.queued_s)
    metrics.PROCESSING.observe(elapsed)
    finished = TranscriptStatus.COMPLETED if "result" in fields else TranscriptStatus.ERROR
    metrics.JOBS_FINISHED.labels(finished).inc()
    if fields.get("audio_duration"):
        metrics.RTF.observe(elapsed / fields["audio_duration"])
