"""Emulator controls behind `/admin`: accounts, keys and limits, and a reset to a fresh server.

Not part of the AssemblyAI API: this is what a CI suite needs to arrange a scenario (docs/faults.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from server import errors
from server.clock import iso, utcnow
from server.config import Settings
from server.db.models import Account, ApiKey, FaultRule, Transcript, Upload, WebhookDelivery
from server.db.session import changed
from server.emulator.http_rules import rules_changed
from server.emulator.payloads import validated
from server.services import accounts
from server.services.redacted_audio import delete_redacted_audio

MAX_LIMIT = 2**31 - 1  # the column is a 32-bit integer on PostgreSQL


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountCreate(_Strict):
    name: str = Field(default="account", min_length=1, max_length=200)
    tier: Literal["free", "paid"] = "paid"
    async_limit: int | None = Field(default=None, ge=0, le=MAX_LIMIT)
    realtime_limit: int | None = Field(default=None, ge=0, le=MAX_LIMIT)
    key: str | None = Field(default=None, min_length=8, max_length=200)  # default: a random key


class AccountUpdate(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    tier: Literal["free", "paid"] | None = None  # a new tier brings its default limits unless given
    async_limit: int | None = Field(default=None, ge=0, le=MAX_LIMIT)
    realtime_limit: int | None = Field(default=None, ge=0, le=MAX_LIMIT)


class KeyCreate(_Strict):
    name: str = Field(default="key", min_length=1, max_length=200)
    key: str | None = Field(default=None, min_length=8, max_length=200)


def render_key(k: ApiKey) -> dict[str, Any]:
    return {
        "id": k.id,
        "account_id": k.account_id,
        "name": k.name,
        "prefix": k.prefix,
        "created_at": iso(k.created_at),
        "revoked_at": iso(k.revoked_at),
    }


def render_account(a: Account, keys: list[ApiKey]) -> dict[str, Any]:
    return {
        "id": a.id,
        "name": a.name,
        "tier": a.tier,
        "async_limit": a.async_limit,
        "realtime_limit": a.realtime_limit,
        "created_at": iso(a.created_at),
        "keys": [render_key(k) for k in keys],
    }


def _keys_of(db: Session, account_id: str) -> list[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.account_id == account_id).order_by(ApiKey.created_at)
    return list(db.execute(stmt).scalars())


def get_account(db: Session, account_id: str) -> Account:
    account = db.get(Account, account_id)
    if account is None:
        raise errors.ApiError(404, errors.ACCOUNT_NOT_FOUND.format(id=account_id))
    return account


def list_accounts(db: Session) -> list[dict[str, Any]]:
    return [render_account(a, keys) for a, keys in accounts.list_accounts(db)]


def show_account(db: Session, account_id: str) -> dict[str, Any]:
    return render_account(get_account(db, account_id), _keys_of(db, account_id))


def _check_key_free(db: Session, key: str | None) -> None:
    if (
        key is not None
        and db.execute(select(ApiKey.id).where(ApiKey.key_hash == accounts.hash_key(key))).first()
    ):
        raise errors.ApiError(409, errors.KEY_EXISTS)


def create_account(db: Session, settings: Settings, data: Any) -> dict[str, Any]:
    """A new account and its first key; the key is in this answer and never again."""
    req = validated(AccountCreate, data)
    _check_key_free(db, req.key)
    new = accounts.create_account(
        db,
        settings,
        name=req.name,
        tier=req.tier,
        async_limit=req.async_limit,
        realtime_limit=req.realtime_limit,
        key=req.key,
    )
    return {**show_account(db, new.account_id), "key": new.key}


def update_account(db: Session, settings: Settings, account_id: str, data: Any) -> dict[str, Any]:
    req = validated(AccountUpdate, data)
    account = get_account(db, account_id)
    if req.name is not None:
        account.name = req.name
    if req.tier is not None and req.tier != account.tier:
        account.tier = req.tier
        account.async_limit, account.realtime_limit = accounts.default_limits(req.tier, settings)
    if req.async_limit is not None:
        account.async_limit = req.async_limit
    if req.realtime_limit is not None:
        account.realtime_limit = req.realtime_limit
    db.flush()
    return show_account(db, account_id)


def delete_account(db: Session, settings: Settings, account_id: str) -> dict[str, Any]:
    """The account, its keys, transcripts, uploaded files and pending webhooks, gone for good."""
    shown = show_account(db, account_id)
    ids = select(Transcript.id).where(Transcript.account_id == account_id)
    db.execute(delete(WebhookDelivery).where(WebhookDelivery.transcript_id.in_(ids)))
    _unlink_scratch(settings, db.execute(ids).scalars())
    for t in db.execute(select(Transcript).where(Transcript.account_id == account_id)).scalars():
        delete_redacted_audio(t, settings.data_dir)
    for upload in db.execute(select(Upload).where(Upload.account_id == account_id)).scalars():
        Path(upload.path).unlink(missing_ok=True)
    for table in (Transcript, Upload, ApiKey):
        db.execute(delete(table).where(table.account_id == account_id))
    db.execute(delete(Account).where(Account.id == account_id))
    return shown


def add_key(db: Session, account_id: str, data: Any) -> dict[str, Any]:
    req = validated(KeyCreate, data)
    get_account(db, account_id)
    _check_key_free(db, req.key)
    key = accounts.add_key(db, account_id, name=req.name, key=req.key)
    row = db.execute(select(ApiKey).where(ApiKey.key_hash == accounts.hash_key(key))).scalar_one()
    return {**render_key(row), "key": key}


def revoke_key(db: Session, key_id: str) -> dict[str, Any]:
    """The key stops working at once; the account and its transcripts stay."""
    row = db.get(ApiKey, key_id)
    if row is None:
        raise errors.ApiError(404, errors.KEY_NOT_FOUND.format(id=key_id))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return render_key(row)


def reset(db: Session, settings: Settings) -> dict[str, Any]:
    """Back to a fresh server: all transcripts, uploads, webhooks, accounts and API-made fault rules go.

    The server stays usable: the bootstrap account is made again (so `LOCALSCRIBE_API_KEY` works; without
    it a new development key is returned), and the faults file's rules stay, their counts back at zero.
    """
    counts: dict[str, int] = {}
    paths = list(db.execute(select(Upload.path)).scalars())
    for name, table in (
        ("webhook_deliveries", WebhookDelivery),
        ("transcripts", Transcript),
        ("uploads", Upload),
        ("api_keys", ApiKey),
        ("accounts", Account),
    ):
        counts[name] = changed(db, delete(table))
    counts["fault_rules"] = changed(db, delete(FaultRule).where(FaultRule.source == "api"))
    db.execute(update(FaultRule).values(hits=0))
    rules_changed()
    for path in paths:
        Path(path).unlink(missing_ok=True)
    _unlink_scratch(settings, None)
    _empty(settings.redacted_audio_dir)
    development_key = accounts.ensure_bootstrap_accounts(db, settings)
    return {"deleted": counts, "development_key": development_key}


def _empty(folder: Path) -> None:
    for path in folder.iterdir() if folder.is_dir() else ():
        if path.is_file():
            path.unlink(missing_ok=True)


def _unlink_scratch(settings: Settings, transcript_ids: Any) -> None:
    """Downloaded audio of these transcripts (all of it, when None): scratch no row points to any more."""
    folder = settings.downloads_dir
    if not folder.is_dir():
        return
    if transcript_ids is None:
        for path in folder.iterdir():
            if path.is_file():
                path.unlink(missing_ok=True)
        return
    for tid in transcript_ids:
        for path in folder.glob(f"{tid}*"):
            path.unlink(missing_ok=True)
