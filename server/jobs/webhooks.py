"""Durable webhook delivery: rows in `webhook_deliveries`, retried with a pause, survive restarts.

docs/compatibility.md#webhooks: POST the JSON body with the optional auth header; any 2xx within the timeout
is success, a 4xx ends the delivery, anything else (5xx, refused, timeout) is retried up to
`webhook_max_attempts`. Redirects are followed only within the same host.

Each delivery is on its own: any exception while sending one (a header value httpx cannot encode, an
address the URL policy refuses) is that delivery's failed attempt, retried like a 5xx. Deliveries run
concurrently (`webhook_concurrency`) and each attempt ends at `webhook_deadline_s` however slowly the
receiver answers, so one account's slow or broken receiver does not hold back another's.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urljoin, urlsplit

import httpx
from sqlalchemy import select

from server.clock import utcnow
from server.config import Settings
from server.db.models import Transcript, WebhookDelivery
from server.db.session import Pool, session_scope
from server.jobs.outbound import guarded_client

log = logging.getLogger(__name__)
_MAX_REDIRECTS = 3


class WebhookSender:
    """Sends due deliveries on a bounded pool that outlives each round: a slow attempt holds one slot
    for at most `webhook_deadline_s`, and the other slots keep taking new deliveries meanwhile."""

    def __init__(self, owner: str, settings: Settings) -> None:
        self.owner = owner
        self.settings = settings
        self._slots = max(1, settings.webhook_concurrency)
        self._pool = ThreadPoolExecutor(max_workers=self._slots, thread_name_prefix="webhook")
        self._busy = 0
        self._lock = threading.Lock()

    def send_due(self) -> int:
        """Claim as many due deliveries as there are free slots and start them; returns how many."""
        with self._lock:
            free = self._slots - self._busy
        if free <= 0:
            return 0
        todo = _claim_due(self.owner, self.settings, free)
        with self._lock:
            self._busy += len(todo)
        for item in todo:
            self._pool.submit(self._send, *item)
        return len(todo)

    def idle(self) -> bool:
        with self._lock:
            return self._busy == 0

    def close(self, wait: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def _send(self, delivery_id: str, url: str, payload: dict, name: str | None, value: str | None) -> None:
        try:
            _record(delivery_id, _attempt(url, payload, name, value, self.settings), self.settings)
        except Exception:  # the row stays leased until `hold` passes, then is retried
            log.exception("recording a webhook attempt failed")
        finally:
            with self._lock:
                self._busy -= 1


def _claim_due(owner: str, settings: Settings, limit: int) -> list[tuple]:
    """Lease up to `limit` due deliveries to `owner` (held while we send, so no other node sends them)."""
    now = utcnow()
    hold = timedelta(seconds=settings.webhook_deadline_s + 5)
    with session_scope(write_lock=True, pool=Pool.BACKGROUND) as db:
        due = (
            db.execute(
                select(WebhookDelivery)
                .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            .scalars()
            .all()
        )
        for d in due:
            d.lease_owner = owner
            d.next_attempt_at = now + hold
        return [(d.id, d.url, d.payload, d.header_name, d.header_value) for d in due]


def _attempt(url: str, payload: dict, name: str | None, value: str | None, settings: Settings) -> int | None:
    """One delivery attempt; never raises: whatever goes wrong is this delivery's failure (None)."""
    try:
        return _post(url, payload, {name: value} if name and value is not None else {}, settings)
    except Exception:  # noqa: BLE001 - isolation: one bad delivery must not stop the others
        log.warning("webhook to %s failed before any response", urlsplit(url).netloc, exc_info=True)
        return None


def _post(url: str, payload: dict, headers: dict[str, str], settings: Settings) -> int | None:
    """POST and return the final status code, or None when no HTTP response came back."""
    host = urlsplit(url).netloc
    try:
        with guarded_client(
            settings,
            timeout=httpx.Timeout(settings.webhook_timeout_s),
            total_s=settings.webhook_deadline_s,
            follow_redirects=False,
        ) as client:
            for _ in range(_MAX_REDIRECTS + 1):
                r = client.post(url, json=payload, headers=headers)
                location = r.headers.get("location")
                if not (r.is_redirect and location):
                    return r.status_code
                target = urljoin(url, location)
                if urlsplit(target).netloc != host:
                    return r.status_code  # never follow a redirect to another host
                url = target
            return r.status_code
    except httpx.HTTPError as exc:
        log.info("webhook to %s failed: %s", urlsplit(url).netloc, type(exc).__name__)
        return None


def _record(delivery_id: str, code: int | None, settings: Settings) -> None:
    # reads then writes: take SQLite's writer lock up front
    with session_scope(write_lock=True, pool=Pool.BACKGROUND) as db:
        d = db.get(WebhookDelivery, delivery_id)
        if d is None:
            return
        d.attempts += 1
        d.last_status_code = code
        d.lease_owner = None
        if code is not None and 200 <= code < 300:
            d.state = "delivered"
        elif (code is not None and 400 <= code < 500) or d.attempts >= settings.webhook_max_attempts:
            d.state = "failed"
        else:
            d.next_attempt_at = utcnow() + timedelta(seconds=settings.webhook_retry_s)
        transcript = db.get(Transcript, d.transcript_id)
        if transcript is not None and code is not None:
            transcript.webhook_status_code = code
        log.info(
            "webhook attempt %d -> %s (%s)",
            d.attempts,
            code,
            d.state,
            extra={"transcript_id": d.transcript_id},
        )
