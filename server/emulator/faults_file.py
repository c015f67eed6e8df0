"""`LOCALSCRIBE_FAULTS_FILE`: fault rules written in YAML, loaded into the database at start-up.

The file holds a list of rules, either at the top level or under `faults:`, each shaped like the body of
`POST /admin/faults`. Loading is idempotent: a rule's id is derived from its content, so every process
that starts (API and workers) leaves one copy of each rule with its firing count intact; file rules that
were removed from the file are dropped.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server import errors
from server.db.models import FaultRule
from server.emulator.rules import add_rule
from server.emulator.schema import RuleSpec, parse_rule

_NAMESPACE = uuid.UUID("5d7bd0a4-3b8e-4f55-9a43-0c8a6f1c1f3e")  # any constant: names file rules


class FaultsFileError(ValueError):
    """The faults file cannot be read or a rule in it is invalid (the server refuses to start)."""


def read_rules(path: Path) -> list[RuleSpec]:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise FaultsFileError(errors.FAULTS_FILE_INVALID.format(path=path, problem=exc)) from None
    if isinstance(data, dict):
        data = data.get("faults")
    if data is None:
        return []
    if not isinstance(data, list):
        problem = "expected a list of rules"
        raise FaultsFileError(errors.FAULTS_FILE_INVALID.format(path=path, problem=problem))
    specs = []
    for index, item in enumerate(data):
        try:
            specs.append(parse_rule(item))
        except errors.ApiError as exc:
            problem = f"rule {index + 1}: {exc.message}"
            raise FaultsFileError(errors.FAULTS_FILE_INVALID.format(path=path, problem=problem)) from None
    return specs


def rule_id(spec: RuleSpec, occurrence: int) -> str:
    """Stable across restarts and processes: the same rule text always gets the same id."""
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True)
    return str(uuid.uuid5(_NAMESPACE, f"{occurrence}:{canonical}"))


def load_faults_file(db: Session, path: Path) -> int:
    """Make the file's rules the table's `source=file` rules; returns how many the file holds."""
    wanted: dict[str, RuleSpec] = {}
    for spec in read_rules(path):
        occurrence = 0
        while rule_id(spec, occurrence) in wanted:  # the same rule twice fires twice as often
            occurrence += 1
        wanted[rule_id(spec, occurrence)] = spec
    have = set(db.execute(select(FaultRule.id).where(FaultRule.source == "file")).scalars())
    stale = have - wanted.keys()
    if stale:
        db.execute(delete(FaultRule).where(FaultRule.id.in_(stale)))
    for rid, spec in wanted.items():
        if rid not in have:
            add_rule(db, spec, source="file", rule_id=rid)
    return len(wanted)
