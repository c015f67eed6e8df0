"""Accounts and API keys: creation, lookup by key, limits. Keys are stored as SHA-256 hashes only."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.config import Settings
from server.db.models import Account, ApiKey

TIERS = ("free", "paid")
KEY_CACHE_S = 2.0  # a process reuses a key lookup this long; another process's revocation lags this much
KEY_CACHE_SIZE = 10_000  # keys remembered at most (least recently used dropped first)


@dataclass(frozen=True)
class AccountRef:
    """The authenticated account as a request carries it: a plain value, bound to no session."""

    id: str
    name: str
    tier: str
    async_limit: int
    realtime_limit: int

    @classmethod
    def of(cls, account: Account) -> AccountRef:
        return cls(account.id, account.name, account.tier, account.async_limit, account.realtime_limit)


def api_key_from(value: str | None) -> str | None:
    """The raw key as the SDKs send it; `Bearer <key>` accepted too (docs/compatibility.md#auth CHOICE)."""
    if not value:
        return None
    value = value.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    return value or None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def default_limits(tier: str, settings: Settings) -> tuple[int, int]:
    if tier == "free":
        return settings.free_async_limit, settings.free_realtime_limit
    return settings.paid_async_limit, settings.paid_realtime_limit


@dataclass
class NewKey:
    account_id: str
    key: str


def create_account(
    db: Session,
    settings: Settings,
    *,
    name: str,
    tier: str,
    async_limit: int | None = None,
    realtime_limit: int | None = None,
    key: str | None = None,
) -> NewKey:
    """Create an account with one API key; returns the key (the only time it is visible)."""
    if tier not in TIERS:
        raise ValueError(f"tier must be one of {TIERS}")
    a_default, r_default = default_limits(tier, settings)
    account = Account(
        name=name,
        tier=tier,
        async_limit=a_default if async_limit is None else async_limit,
        realtime_limit=r_default if realtime_limit is None else realtime_limit,
    )
    db.add(account)
    db.flush()
    return NewKey(account.id, add_key(db, account.id, name=name, key=key))


MAX_PREFIX = 6  # a random key (32 hex digits) shows 6; a short one at most a quarter of itself


def key_prefix(key: str) -> str:
    """What listings show so people can tell keys apart, never most of a key: `test-key-paid` shows `tes`."""
    return key[: min(MAX_PREFIX, len(key) // 4)]


def add_key(db: Session, account_id: str, *, name: str, key: str | None = None) -> str:
    key = key or secrets.token_hex(16)
    db.add(ApiKey(account_id=account_id, name=name, key_hash=hash_key(key), prefix=key_prefix(key)))
    db.flush()
    return key


def account_for_key(db: Session, key: str) -> Account | None:
    return db.execute(
        select(Account)
        .join(ApiKey, ApiKey.account_id == Account.id)
        .where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
    ).scalar_one_or_none()


def account_ref_for_key(db: Session, key: str) -> AccountRef | None:
    account = account_for_key(db, key)
    return AccountRef.of(account) if account is not None else None


class KeyCache:
    """Recent key lookups of this process, so that a request authenticates without the database.

    Only known keys are kept (an unknown key costs one indexed lookup, and a key created elsewhere works at
    once). Changes to accounts and keys made in this process clear it at once (`clear`); changes made by
    another process show after at most `ttl_s`.
    """

    def __init__(self, ttl_s: float, size: int) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[AccountRef, float]] = OrderedDict()

    def get(self, key: str) -> AccountRef | None:
        digest = hash_key(key)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None or time.monotonic() - entry[1] >= self.ttl_s:
                return None
            self._entries.move_to_end(digest)
            return entry[0]

    def put(self, key: str, account: AccountRef) -> None:
        with self._lock:
            self._entries[hash_key(key)] = (account, time.monotonic())
            self._entries.move_to_end(hash_key(key))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


KEYS = KeyCache(KEY_CACHE_S, KEY_CACHE_SIZE)

def live_key(db: Session, key: str) -> ApiKey | None:
    """The key's row while it is not revoked."""
    return db.execute(
        select(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
    ).scalar_one_or_none()


def list_accounts(db: Session) -> list[tuple[Account, list[ApiKey]]]:
    accounts = db.execute(select(Account).order_by(Account.created_at)).scalars().all()
    keys = db.execute(select(ApiKey).order_by(ApiKey.created_at)).scalars().all()
    return [(a, [k for k in keys if k.account_id == a.id]) for a in accounts]


def ensure_bootstrap_accounts(db: Session, settings: Settings) -> str | None:
    """Make sure the configured key exists; on a fresh database, create a development key.

    Returns a newly created development key (to be logged once) or None.
    """
    if settings.api_key and account_for_key(db, settings.api_key) is None:
        create_account(db, settings, name="LOCALSCRIBE_API_KEY", tier="paid", key=settings.api_key)
        return None
    if db.execute(select(func.count()).select_from(Account)).scalar_one() == 0:
        return create_account(db, settings, name="development", tier="paid").key
    return None
