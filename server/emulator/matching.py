"""Which fault rules fire for a request, a new job or a new stream (docs/faults.md).

Every condition a rule names must hold; for jobs and streams the oldest matching rule of each kind with
firings left fires, and its firing is counted in the database (shared by all processes).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.clock import utcnow
from server.db.models import FaultRule, Transcript
from server.emulator.http_rules import RULE_KINDS, HttpFault, load_kinds
from server.emulator.rules import consume
from server.emulator.schema import JOB_KINDS


@dataclass(frozen=True)
class Facts:
    """What is known about one request, job or stream when rules are matched against it."""

    account_id: str | None = None
    audio_url: str | None = None
    headers: Mapping[str, str] | None = None  # names in lower case
    path: str | None = None


@dataclass(frozen=True)
class StreamFault:
    """Close the socket with `code` and `reason`, `after_s` seconds after the session starts."""

    code: int
    reason: str
    after_s: float


def lower_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {k.lower(): v for k, v in (headers or {}).items()}


def matches(match: Mapping[str, Any], facts: Facts) -> bool:
    """Every condition the rule names holds for these facts (a rule with no conditions matches all)."""
    if "account_id" in match and match["account_id"] != facts.account_id:
        return False
    if "audio_url" in match and (
        facts.audio_url is None or not fnmatch.fnmatchcase(facts.audio_url, match["audio_url"])
    ):
        return False
    if "audio_url_regex" in match and (
        facts.audio_url is None or re.search(match["audio_url_regex"], facts.audio_url) is None
    ):
        return False
    if "path" in match and (facts.path is None or not fnmatch.fnmatchcase(facts.path, match["path"])):
        return False
    header = match.get("header")
    if header:
        value = (facts.headers or {}).get(header["name"].lower())
        if value is None or (header.get("value") is not None and value != header["value"]):
            return False
    return True


def may_fire(db: Session, kinds: tuple[str, ...]) -> bool:
    """Whether a rule of one of `kinds` may fire, from the cached set of kinds (issue 19: every create read
    the rules table for nothing). A kind whose rules ran out may still be listed: `_firing` then decides."""
    present = RULE_KINDS.fresh()
    if present is None:
        generation = RULE_KINDS.generation()
        present = RULE_KINDS.store(load_kinds(db), generation)
    return not present.isdisjoint(kinds)


def _firing(db: Session, kinds: tuple[str, ...], facts: Facts) -> dict[str, FaultRule]:
    """For each kind, the oldest matching rule that still has firings left (and count that firing)."""
    if not may_fire(db, kinds):
        return {}
    rules = db.execute(
        select(FaultRule).where(FaultRule.kind.in_(kinds)).order_by(FaultRule.created_at, FaultRule.id)
    ).scalars()
    chosen: dict[str, FaultRule] = {}
    for rule in rules:
        if rule.kind not in chosen and matches(rule.match, facts) and consume(db, rule):
            chosen[rule.kind] = rule
    return chosen


def job_fault(
    db: Session, account_id: str, audio_url: str, headers: Mapping[str, str] | None, now: datetime
) -> tuple[dict[str, Any] | None, datetime | None]:
    """What to stamp on a new job: `{"hold_s"?, "delay_s"?, "error"?, "rules"}` and its hold-until time."""
    facts = Facts(account_id=account_id, audio_url=audio_url, headers=lower_headers(headers))
    chosen = _firing(db, JOB_KINDS, facts)
    if not chosen:
        return None, None
    fault: dict[str, Any] = {"rules": [r.id for r in chosen.values()]}
    hold_until = None
    if "hold" in chosen:
        fault["hold_s"] = chosen["hold"].effect["seconds"]
        hold_until = now + timedelta(seconds=fault["hold_s"])
    if "delay" in chosen:
        fault["delay_s"] = chosen["delay"].effect["seconds"]
    if "error" in chosen:
        fault["error"] = chosen["error"].effect["message"]
    return fault, hold_until


def stamp_job_fault(db: Session, t: Transcript, headers: Mapping[str, str] | None) -> None:
    """Stamp a new, not yet committed job with the faults that fire for it (the one seam at creation)."""
    t.fault, t.hold_until = job_fault(db, t.account_id, t.audio_url, headers, utcnow())


def stream_fault(db: Session, account_id: str, headers: Mapping[str, str]) -> StreamFault | None:
    """The close a new streaming session must suffer, if a `close` rule matches it (counts one firing)."""
    chosen = _firing(db, ("close",), Facts(account_id=account_id, headers=lower_headers(headers)))
    rule = chosen.get("close")
    if rule is None:
        return None
    e = rule.effect
    return StreamFault(code=int(e["code"]), reason=str(e.get("reason") or ""), after_s=float(e["after_s"]))


def pick_http_fault(rules: list[HttpFault], facts: Facts, draw: Callable[[], float]) -> HttpFault | None:
    """The first matching rule whose dice roll (`draw()` < fraction) says this request fails."""
    for rule in rules:
        if matches(rule.match, facts) and draw() < rule.fraction:
            return rule
    return None
