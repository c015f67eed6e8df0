"""HTTP fault rules as the request path needs them, cached briefly per process (read on every request).

Edits made in this process drop the cache at once; other processes' edits show within `HTTP_CACHE_S`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import errors
from server.db.models import FaultRule

HTTP_CACHE_S = 1.0  # how long a process reuses its copy of the HTTP rules (other processes' edits lag this)


@dataclass(frozen=True)
class HttpFault:
    """One `http` rule as the request path needs it (kept in a per-process cache)."""

    rule_id: str
    match: dict[str, Any]
    status: int
    fraction: float
    message: str
    retry_after_s: int
    limited: bool  # has `times`: firing must be counted in the database


def load_http_faults(db: Session) -> list[HttpFault]:
    rows = db.execute(
        select(FaultRule).where(FaultRule.kind == "http").order_by(FaultRule.created_at, FaultRule.id)
    ).scalars()
    out = []
    for r in rows:
        if r.times is not None and r.hits >= r.times:
            continue
        e = r.effect
        default = errors.TOO_MANY_REQUESTS if e["status"] == 429 else errors.SERVER_ERROR
        out.append(
            HttpFault(
                rule_id=r.id,
                match=r.match,
                status=int(e["status"]),
                fraction=float(e["fraction"]),
                message=e.get("message") or default,
                retry_after_s=int(e.get("retry_after_s", 1)),
                limited=r.times is not None,
            )
        )
    return out


def http_fault_headers(rule: HttpFault) -> dict[str, str]:
    return {"Retry-After": str(rule.retry_after_s)} if rule.status == 429 else {}


class RuleCache:
    """A per-process copy of the HTTP rules, at most `ttl_s` old; edits made here drop it at once."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._rules: list[HttpFault] | None = None
        self._loaded_at = 0.0
        self._generation = 0  # bumped by every invalidation

    def fresh(self) -> list[HttpFault] | None:
        """The cached rules if still fresh, else None (the caller reloads off the event loop)."""
        with self._lock:
            if self._rules is not None and time.monotonic() - self._loaded_at < self.ttl_s:
                return self._rules
        return None

    def generation(self) -> int:
        with self._lock:
            return self._generation

    def store(self, rules: list[HttpFault], generation: int | None = None) -> list[HttpFault]:
        """Keep `rules` unless an invalidation came after `generation` (read before loading them)."""
        with self._lock:
            if generation is None or generation == self._generation:
                self._rules, self._loaded_at = rules, time.monotonic()
        return rules

    def invalidate(self) -> None:
        with self._lock:
            self._rules = None
            self._generation += 1


HTTP_RULES = RuleCache(HTTP_CACHE_S)
