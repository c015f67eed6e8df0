"""Durable webhook delivery: rows in `webhook_deliveries`, retried with a pause, survive restarts.

CONTRACT §9: POST the JSON body with the optional auth header; any 2xx within the timeout is success,
a 4xx ends the delivery, anything else (5xx, refused, timeout) is retried up to `webhook_max_attempts`.
Redirects are followed only within the same host.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urljoin, urlsplit

import httpx
from sqlalchemy import select

from server.clock import utcnow
from server.config import Settings
from server.db.models import Transcript, WebhookDelivery
from server.db.session import Pool, session_scope

log = logging.getLogger(__name__)
_MAX_REDIRECTS = 3


def deliver_due(owner: str, settings: Settings, batch: int = 20) -> int:
    """Send every delivery that is due; returns how many were attempted."""
    now = utcnow()
    hold = timedelta(seconds=settings.webhook_timeout_s * (_MAX_REDIRECTS + 1) + 5)
    with session_scope(write_lock=True, pool=Pool.BACKGROUND) as db:
        due = (
            db.execute(
                select(WebhookDelivery)
                .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
            .scalars()
            .all()
        )
        for d in due:  # hold them while we send, so no other worker sends the same one meanwhile
            d.lease_owner = owner
            d.next_attempt_at = now + hold
        todo = [(d.id, d.url, d.payload, d.header_name, d.header_value) for d in due]
    for delivery_id, url, payload, name, value in todo:
        code = _post(
            url, payload, {name: value} if name and value is not None else {}, settings.webhook_timeout_s
        )
        _record(delivery_id, code, settings)
    return len(todo)


def _post(url: str, payload: dict, headers: dict[str, str], timeout_s: float) -> int | None:
    """POST and return the final status code, or None when no HTTP response came back."""
    host = urlsplit(url).netloc
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
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
        log.info("webhook to %s failed: %s", url, exc)
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
