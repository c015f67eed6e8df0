"""Engine and sessions. SQLite gets WAL and a writer lock for claims; PostgreSQL needs nothing special."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from server.config import Settings, get_settings

IMMEDIATE = "localscribe_begin_immediate"
_STARTUP_LOCK_ID = 0x10CA15C  # any constant; names LocalScribe's start-up among advisory locks


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn) -> None:  # type: ignore[no-untyped-def]
            # Claims read then write atomically: BEGIN IMMEDIATE takes SQLite's writer lock up front.
            conn.exec_driver_sql(
                "BEGIN IMMEDIATE" if conn.get_execution_options().get(IMMEDIATE) else "BEGIN"
            )

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().sqlalchemy_url)


@lru_cache
def _factories() -> tuple[sessionmaker[Session], sessionmaker[Session]]:
    engine = get_engine()
    plain = sessionmaker(engine, expire_on_commit=False)
    writer = sessionmaker(engine.execution_options(**{IMMEDIATE: True}), expire_on_commit=False)
    return plain, writer


@contextmanager
def session_scope(*, write_lock: bool = True) -> Iterator[Session]:
    """A transaction that commits on success.

    On SQLite a transaction that reads and then writes cannot upgrade its lock once another writer has
    committed ("database is locked" at once, no busy wait), so every transaction that may write takes the
    writer lock when it begins; pure reads pass `write_lock=False` and run concurrently under WAL.
    """
    factory = _factories()[1 if write_lock else 0]
    with factory() as session, session.begin():
        yield session


@contextmanager
def startup_lock(settings: Settings) -> Iterator[None]:
    """Serialise start-up work across processes: a PostgreSQL advisory lock, or a file lock for SQLite."""
    if settings.sqlalchemy_url.startswith("postgresql"):
        with get_engine().connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({_STARTUP_LOCK_ID})")
            try:
                yield
            finally:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_STARTUP_LOCK_ID})")
                conn.commit()
        return
    with open(settings.data_dir / ".startup.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def reset_caches() -> None:
    """Forget engine and factories (tests switch databases between servers in one process)."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
    _factories.cache_clear()
