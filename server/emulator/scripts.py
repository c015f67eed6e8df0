"""Scripted results (docs/testing.md#scripted-results): "a job whose audio matches X completes with this
text", and turns for streaming sessions.

A script is a rule like a fault rule (the same `match`, plus `audio_sha256` for uploaded files) whose effect
is what the engine would have produced: text, words, or speaker utterances; or an error; or, for streaming,
turns. Scripts live in the fault-rule table (kinds `script` and `turns`), so every API and worker process
sees them and `/admin/reset` drops them. A matching job is stamped with its script when it is created and
then runs the real pipeline with the script standing in for the engine (server/emulator/scripted.py): the
queue, throttle, statuses, text options, exports and webhooks are the real ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server import errors
from server.db.models import FaultRule, Transcript, Upload
from server.db.session import changed
from server.emulator.matching import Facts, lower_headers, matches, may_fire
from server.emulator.payloads import validated
from server.emulator.recordings import file_sha256
from server.emulator.rules import consume, render_rule
from server.emulator.schema import SCRIPT_KINDS, Match

JOB_KIND, STREAM_KIND = KINDS = SCRIPT_KINDS
DEFAULT_CONFIDENCE = 0.99


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScriptMatch(Match):
    """The fault rules' conditions, plus the SHA-256 of an uploaded file's bytes."""

    audio_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class ScriptWord(_Strict):
    text: str = Field(min_length=1)
    start: int = Field(ge=0)  # ms from the start of the audio
    end: int = Field(ge=0)
    confidence: float = Field(default=DEFAULT_CONFIDENCE, ge=0, le=1)
    speaker: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> ScriptWord:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        return self


class ScriptSpan(_Strict):
    """An utterance (async) or a turn (streaming): text said between `start` and `end` (ms)."""

    text: str = Field(min_length=1)
    start: int = Field(ge=0)
    end: int = Field(gt=0)
    speaker: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> ScriptSpan:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class ResultEffect(_Strict):
    """What the engine hears: exactly one of `text` (spread over the audio), `words`, `utterances`."""

    type: Literal["result"]
    text: str | None = Field(default=None, min_length=1)
    words: list[ScriptWord] | None = Field(default=None, min_length=1)
    utterances: list[ScriptSpan] | None = Field(default=None, min_length=1)
    language_code: str | None = Field(default=None, min_length=2, max_length=10)  # what detection finds

    @model_validator(mode="after")
    def _one_form(self) -> ResultEffect:
        given = [name for name in ("text", "words", "utterances") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of text, words, utterances")
        if self.utterances is not None and any(u.speaker is None for u in self.utterances):
            raise ValueError("every utterance needs a speaker")
        return self


class ErrorEffect(_Strict):
    type: Literal["error"]
    message: str = Field(min_length=1, max_length=2000)


class TurnsEffect(_Strict):
    """A streaming session's turns; each is final once the audio received passes its `end`."""

    type: Literal["turns"]
    turns: list[ScriptSpan] = Field(min_length=1)

    @model_validator(mode="after")
    def _in_order(self) -> TurnsEffect:
        for before, after in zip(self.turns, self.turns[1:], strict=False):
            if after.start < before.end:
                raise ValueError("turns must not overlap and must be in order")
        return self


Effect = Annotated[ResultEffect | ErrorEffect | TurnsEffect, Field(discriminator="type")]


class ScriptSpec(_Strict):
    result: Effect  # what the engine would have said (or the error, or the turns)
    match: ScriptMatch = Field(default_factory=ScriptMatch)
    times: int | None = Field(default=None, ge=1)
    name: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _fits(self) -> ScriptSpec:
        m = self.match
        if m.path is not None:
            raise ValueError("match.path applies to http fault rules only")
        if self.result.type == "turns" and (m.audio_url or m.audio_url_regex or m.audio_sha256):
            raise ValueError("a stream has no audio URL or file: turns cannot match on them")
        return self


def parse_script(data: Any) -> ScriptSpec:
    return validated(ScriptSpec, data)


def add_script(db: Session, spec: ScriptSpec) -> FaultRule:
    rule = FaultRule(
        name=spec.name,
        source="api",
        kind=STREAM_KIND if spec.result.type == "turns" else JOB_KIND,
        match=spec.match.model_dump(exclude_none=True),
        effect=spec.result.model_dump(exclude_none=True),
        times=spec.times,
        hits=0,
    )
    db.add(rule)
    db.flush()
    return rule


def list_scripts(db: Session) -> list[FaultRule]:
    stmt = select(FaultRule).where(FaultRule.kind.in_(KINDS)).order_by(FaultRule.created_at, FaultRule.id)
    return list(db.execute(stmt).scalars())


def delete_script(db: Session, script_id: str) -> FaultRule:
    rule = db.get(FaultRule, script_id)
    if rule is None or rule.kind not in KINDS:
        raise errors.ApiError(404, errors.SCRIPT_NOT_FOUND.format(id=script_id))
    db.delete(rule)
    return rule


def delete_scripts(db: Session) -> int:
    return changed(db, delete(FaultRule).where(FaultRule.kind.in_(KINDS)))


def render_script(rule: FaultRule) -> dict[str, Any]:
    """As a fault rule is shown, its effect called `result` (what the script answers with)."""
    shown = render_rule(rule)
    shown["result"] = shown.pop("effect")
    shown.pop("source")
    return shown


# --- matching: at job creation and stream start ----------------------------------------------------


def _first(db: Session, kind: str, facts: Facts, upload_path: Callable[[], str | None]) -> FaultRule | None:
    """The newest matching script of `kind` with firings left (that firing is counted). Newest, unlike fault
    rules: a test's own script overrides a suite-wide one added before it, as WireMock's stubs do
    (docs/testing.md#scripted-results CHOICE). Without a script of `kind` (the cached kinds say so) the
    table is not read, and the upload's path is looked up only for a script that matches on its bytes."""
    if not may_fire(db, (kind,)):
        return None
    sha256: str | None = None
    newest_first = (FaultRule.created_at.desc(), FaultRule.id.desc())
    for rule in db.execute(select(FaultRule).where(FaultRule.kind == kind).order_by(*newest_first)).scalars():
        wanted = rule.match.get("audio_sha256")
        if wanted is not None:
            path = upload_path()
            if path is None:
                continue
            sha256 = sha256 or file_sha256(Path(path))
            if sha256 != wanted:
                continue
        others = {k: v for k, v in rule.match.items() if k != "audio_sha256"}
        if matches(others, facts) and consume(db, rule):
            return rule
    return None


def stamp_job_script(db: Session, t: Transcript, headers: Mapping[str, str] | None) -> None:
    """Add the matching script to a new job's fault stamp: `script` (a result) or `error`. A fault rule's own
    `error` wins over a script (it was stamped first)."""
    facts = Facts(account_id=t.account_id, audio_url=t.audio_url, headers=lower_headers(headers))

    def upload_path() -> str | None:
        upload = db.get(Upload, t.upload_id) if t.upload_id else None
        return upload.path if upload else None

    rule = _first(db, JOB_KIND, facts, upload_path)
    if rule is None:
        return
    stamped = dict(t.fault or {"rules": []})
    stamped["rules"] = [*stamped.get("rules", []), rule.id]
    if rule.effect["type"] == "error":
        stamped.setdefault("error", rule.effect["message"])
    else:
        stamped["script"] = rule.effect
    t.fault = stamped


def stream_turns(db: Session, account_id: str, headers: Mapping[str, str]) -> list[dict[str, Any]] | None:
    """The turns a new streaming session must emit, if a `turns` script matches it (counts one firing)."""
    facts = Facts(account_id=account_id, headers=lower_headers(headers))
    rule = _first(db, STREAM_KIND, facts, lambda: None)
    return list(rule.effect["turns"]) if rule is not None else None
