"""Prometheus metrics. Job counts come from the database at scrape time (true across all nodes);
timings are histograms of the jobs this process ran."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from server.db.models import Transcript, TranscriptStatus, WebhookDelivery
from server.db.session import session_scope

REGISTRY = CollectorRegistry()
QUEUE_WAIT = Histogram(
    "localscribe_queue_wait_seconds",
    "Time from creation to processing start",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
    registry=REGISTRY,
)
PROCESSING = Histogram(
    "localscribe_processing_seconds",
    "Time a worker spent on a job",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
    registry=REGISTRY,
)
RTF = Histogram(
    "localscribe_real_time_factor",
    "Processing time divided by audio duration",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2),
    registry=REGISTRY,
)
JOBS_FINISHED = Counter(
    "localscribe_jobs_finished", "Jobs this process finished", ["status"], registry=REGISTRY
)


class _DatabaseCollector(Collector):
    """Totals only: anyone who can reach /metrics may read them (docs/security.md)."""

    def collect(self):  # type: ignore[no-untyped-def]
        with session_scope(write_lock=False) as db:
            by_status = db.execute(
                select(Transcript.status, func.count())
                .where(Transcript.deleted_at.is_(None))
                .group_by(Transcript.status)
            ).all()
            throttled = db.execute(
                select(func.count())
                .select_from(Transcript)
                .where(Transcript.status == TranscriptStatus.QUEUED, Transcript.throttled.is_(True))
            ).scalar_one()
            hooks = db.execute(
                select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)
            ).all()
        jobs = GaugeMetricFamily("localscribe_jobs", "Transcripts by status", labels=["status"])
        counts = dict(by_status)
        for status in TranscriptStatus:
            jobs.add_metric([status], counts.get(status, 0))
        yield jobs
        yield GaugeMetricFamily(
            "localscribe_jobs_throttled", "Queued jobs held back by their account limit", value=throttled
        )
        deliveries = GaugeMetricFamily(
            "localscribe_webhook_deliveries", "Webhook deliveries by state", labels=["state"]
        )
        hook_counts = dict(hooks)
        for state in ("pending", "delivered", "failed"):
            deliveries.add_metric([state], hook_counts.get(state, 0))
        yield deliveries


class _AccountCollector(Collector):
    """Per-account series name account ids: only for the administrator (`LOCALSCRIBE_ADMIN_TOKEN`)."""

    def collect(self):  # type: ignore[no-untyped-def]
        with session_scope(write_lock=False) as db:
            per_account = db.execute(
                select(Transcript.account_id, func.count())
                .where(Transcript.status == TranscriptStatus.PROCESSING)
                .group_by(Transcript.account_id)
            ).all()
        processing = GaugeMetricFamily(
            "localscribe_account_processing", "Jobs processing per account", labels=["account_id"]
        )
        for account_id, n in per_account:
            processing.add_metric([account_id], n)
        yield processing


REGISTRY.register(_DatabaseCollector())
ACCOUNT_REGISTRY = CollectorRegistry()
ACCOUNT_REGISTRY.register(_AccountCollector())


def render(*, per_account: bool = False) -> bytes:
    """The exposition text; account ids only when `per_account` (the caller checked the admin token)."""
    return generate_latest(REGISTRY) + (generate_latest(ACCOUNT_REGISTRY) if per_account else b"")
