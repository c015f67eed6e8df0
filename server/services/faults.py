"""Fault injection (docs/faults.md): rules that make chosen requests, jobs or streams fail on purpose.

Rules live in the database so every API and worker process obeys the same set. A rule matches on any of
account id, audio URL (a shell glob over the whole URL, or a regular expression), a request header, and
(HTTP faults only) the request path; every condition it names must hold. It has one effect:

- `error`: the job ends in `error` with the given message;
- `hold`: the job stays `queued` for N seconds;
- `delay`: the job takes N extra seconds in `processing`;
- `http`: a fraction of matching REST requests answer 500 or 429 with the API's error JSON;
- `close`: a streaming socket is closed with a code and reason after N seconds.

`times` caps how often a rule fires (counted in the database, shared by all processes). Nothing is
injected unless a rule says so.
"""

from __future__ import annotations

import fnmatch
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from server import errors
from server.clock import iso
from server.db.models import FaultRule
from server.services.payloads import validated

SOURCES = ("api", "file")
JOB_KINDS = ("hold", "delay", "error")  # stamped on a transcript when it is created
HTTP_CACHE_S = 1.0  # how long a process reuses its copy of the rules (other processes' edits lag this)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HeaderMatch(_Strict):
    name: str = Field(min_length=1)
    value: str | None = None  # None: the header being present is enough


class Match(_Strict):
    account_id: str | None = None
    audio_url: str | None = None  # shell glob over the whole URL (fnmatch: `*` also crosses `/`)
    audio_url_regex: str | None = None  # Python regular expression, searched anywhere in the URL
    header: HeaderMatch | None = None
    path: str | None = None  # shell glob over the request path; `http` rules only

    @field_validator("audio_url_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression ({exc})") from None
        return value

    @model_validator(mode="after")
    def _one_url_form(self) -> Match:
        if self.audio_url is not None and self.audio_url_regex is not None:
            raise ValueError("give audio_url (glob) or audio_url_regex, not both")
        return self


class ErrorEffect(_Strict):
    type: Literal["error"]
    message: str = errors.SERVER_ERROR


class HoldEffect(_Strict):
    type: Literal["hold"]
    seconds: float = Field(gt=0)


class DelayEffect(_Strict):
    type: Literal["delay"]
    seconds: float = Field(gt=0)


class HttpEffect(_Strict):
    type: Literal["http"]
    status: Literal[429, 500]
    fraction: float = Field(default=1.0, ge=0, le=1)
    message: str | None = None  # default: the API's own text for the status
    retry_after_s: int = Field(default=1, ge=0)  # sent with 429 (docs/compatibility.md#http-errors)


class CloseEffect(_Strict):
    type: Literal["close"]
    code: int = Field(ge=1000, le=4999)
    reason: str = Field(default="", max_length=123)  # RFC 6455 caps close reasons at 123 bytes
    after_s: float = Field(default=0.0, ge=0)


Effect = Annotated[
    ErrorEffect | HoldEffect | DelayEffect | HttpEffect | CloseEffect, Field(discriminator="type")
]


class RuleSpec(_Strict):
    name: str | None = Field(default=None, max_length=200)
    match: Match = Field(default_factory=Match)
    effect: Effect
    times: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _fits_effect(self) -> RuleSpec:
        kind = self.effect.type
        if self.match.path is not None and kind != "http":
            raise ValueError("match.path applies to http effects only")
        if kind == "close" and (self.match.audio_url or self.match.audio_url_regex):
            raise ValueError("a stream has no audio URL: close effects cannot match on it")
        return self


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


# --- rules: create, list, delete -----------------------------------------------------------------


def parse_rule(data: Any) -> RuleSpec:
    return validated(RuleSpec, data)


def add_rule(db: Session, spec: RuleSpec, *, source: str = "api", rule_id: str | None = None) -> FaultRule:
    rule = FaultRule(
        name=spec.name,
        source=source,
        kind=spec.effect.type,
        match=spec.match.model_dump(exclude_none=True),
        effect=spec.effect.model_dump(),
        times=spec.times,
        hits=0,
    )
    if rule_id is not None:
        rule.id = rule_id
    db.add(rule)
    db.flush()
    rules_changed()
    return rule


def list_rules(db: Session) -> list[FaultRule]:
    return list(db.execute(select(FaultRule).order_by(FaultRule.created_at, FaultRule.id)).scalars())


def get_rule(db: Session, rule_id: str) -> FaultRule:
    rule = db.get(FaultRule, rule_id)
    if rule is None:
        raise errors.ApiError(404, errors.FAULT_NOT_FOUND.format(id=rule_id))
    return rule


def delete_rule(db: Session, rule_id: str) -> FaultRule:
    rule = get_rule(db, rule_id)
    db.delete(rule)
    rules_changed()
    return rule


def delete_rules(db: Session, *, source: str | None = None) -> int:
    stmt = delete(FaultRule)
    if source is not None:
        if source not in SOURCES:
            problem = f"must be one of: {', '.join(SOURCES)}"
            raise errors.ApiError(400, errors.INVALID_ADMIN_FIELD.format(field="source", problem=problem))
        stmt = stmt.where(FaultRule.source == source)
    rules_changed()
    return db.execute(stmt).rowcount or 0


def render_rule(rule: FaultRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "source": rule.source,
        "match": rule.match,
        "effect": rule.effect,
        "times": rule.times,
        "hits": rule.hits,
        "created_at": iso(rule.created_at),
    }


# --- matching ------------------------------------------------------------------------------------


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


def consume(db: Session, rule: FaultRule | HttpFault) -> bool:
    """Count one firing; False once a rule's `times` are used up (atomic across processes)."""
    rule_id = rule.rule_id if isinstance(rule, HttpFault) else rule.id
    res = db.execute(
        update(FaultRule)
        .where(FaultRule.id == rule_id, or_(FaultRule.times.is_(None), FaultRule.hits < FaultRule.times))
        .values(hits=FaultRule.hits + 1)
    )
    return bool(res.rowcount)


def _may_fire(db: Session, kinds: tuple[str, ...]) -> bool:
    """Whether a rule of one of `kinds` may fire, from the cached set of kinds (issue 19: every create read
    the rules table for nothing). A kind whose rules ran out may still be listed: `_firing` then decides."""
    present = RULE_KINDS.fresh()
    if present is None:
        generation = RULE_KINDS.generation()
        present = RULE_KINDS.store(load_kinds(db), generation)
    return not present.isdisjoint(kinds)


def load_kinds(db: Session) -> frozenset[str]:
    """The kinds of the rules that may still fire."""
    live = or_(FaultRule.times.is_(None), FaultRule.hits < FaultRule.times)
    return frozenset(db.execute(select(FaultRule.kind).where(live).distinct()).scalars())


def _firing(db: Session, kinds: tuple[str, ...], facts: Facts) -> dict[str, FaultRule]:
    """For each kind, the oldest matching rule that still has firings left (and count that firing)."""
    if not _may_fire(db, kinds):
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


def stream_fault(db: Session, account_id: str, headers: Mapping[str, str]) -> StreamFault | None:
    """The close a new streaming session must suffer, if a `close` rule matches it (counts one firing)."""
    chosen = _firing(db, ("close",), Facts(account_id=account_id, headers=lower_headers(headers)))
    rule = chosen.get("close")
    if rule is None:
        return None
    e = rule.effect
    return StreamFault(code=int(e["code"]), reason=str(e.get("reason") or ""), after_s=float(e["after_s"]))


# --- HTTP faults: read often, so cached briefly per process ---------------------------------------


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


def pick_http_fault(rules: list[HttpFault], facts: Facts, draw: Callable[[], float]) -> HttpFault | None:
    """The first matching rule whose dice roll (`draw()` < fraction) says this request fails."""
    for rule in rules:
        if matches(rule.match, facts) and draw() < rule.fraction:
            return rule
    return None


def http_fault_headers(rule: HttpFault) -> dict[str, str]:
    return {"Retry-After": str(rule.retry_after_s)} if rule.status == 429 else {}


T = TypeVar("T")


class RuleCache(Generic[T]):
    """A per-process copy of something read from the rules, at most `ttl_s` old; edits made here drop it at
    once (`rules_changed`)."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._rules: T | None = None
        self._loaded_at = 0.0
        self._generation = 0  # bumped by every invalidation

    def fresh(self) -> T | None:
        """The cached copy if still fresh, else None (the caller reloads off the event loop)."""
        with self._lock:
            if self._rules is not None and time.monotonic() - self._loaded_at < self.ttl_s:
                return self._rules
        return None

    def generation(self) -> int:
        with self._lock:
            return self._generation

    def store(self, rules: T, generation: int | None = None) -> T:
        """Keep `rules` unless an invalidation came after `generation` (read before loading them)."""
        with self._lock:
            if generation is None or generation == self._generation:
                self._rules, self._loaded_at = rules, time.monotonic()
        return rules

    def invalidate(self) -> None:
        with self._lock:
            self._rules = None
            self._generation += 1


HTTP_RULES: RuleCache[list[HttpFault]] = RuleCache(HTTP_CACHE_S)
RULE_KINDS: RuleCache[frozenset[str]] = RuleCache(HTTP_CACHE_S)  # the job and stream faults' shortcut


def rules_changed() -> None:
    """Drop this process's cached copies after an edit of the rules (or of a rule's count)."""
    HTTP_RULES.invalidate()
    RULE_KINDS.invalidate()
