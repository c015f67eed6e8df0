"""The fault-rule store (docs/faults.md): rules that make chosen requests, jobs or streams fail on purpose.

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

from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from server import errors
from server.clock import iso
from server.db.models import FaultRule
from server.db.session import changed
from server.emulator.http_rules import HttpFault, rules_changed
from server.emulator.schema import SCRIPT_KINDS, SOURCES, RuleSpec


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
    stmt = select(FaultRule).where(FaultRule.kind.not_in(SCRIPT_KINDS))
    return list(db.execute(stmt.order_by(FaultRule.created_at, FaultRule.id)).scalars())


def get_rule(db: Session, rule_id: str) -> FaultRule:
    rule = db.get(FaultRule, rule_id)
    if rule is None or rule.kind in SCRIPT_KINDS:
        raise errors.ApiError(404, errors.FAULT_NOT_FOUND.format(id=rule_id))
    return rule


def delete_rule(db: Session, rule_id: str) -> FaultRule:
    rule = get_rule(db, rule_id)
    db.delete(rule)
    rules_changed()
    return rule


def delete_rules(db: Session, *, source: str | None = None) -> int:
    stmt = delete(FaultRule).where(FaultRule.kind.not_in(SCRIPT_KINDS))
    if source is not None:
        if source not in SOURCES:
            problem = f"must be one of: {', '.join(SOURCES)}"
            raise errors.ApiError(400, errors.INVALID_ADMIN_FIELD.format(field="source", problem=problem))
        stmt = stmt.where(FaultRule.source == source)
    rules_changed()
    return changed(db, stmt)


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


def consume(db: Session, rule: FaultRule | HttpFault) -> bool:
    """Count one firing; False once a rule's `times` are used up (atomic across processes)."""
    rule_id = rule.rule_id if isinstance(rule, HttpFault) else rule.id
    return bool(
        changed(
            db,
            update(FaultRule)
            .where(FaultRule.id == rule_id, or_(FaultRule.times.is_(None), FaultRule.hits < FaultRule.times))
            .values(hits=FaultRule.hits + 1),
        )
    )
