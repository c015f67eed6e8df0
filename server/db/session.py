"""Engines and sessions. SQLite gets WAL and a writer lock for claims; PostgreSQL needs nothing special.

Two connection pools per process (issue 19): `API` serves HTTP requests and streams, `BACKGROUND` serves the
worker threads (claims, lease renewal, requeue, webhooks), so a flood of requests can never starve a
heartbeat. Every unit of work holds one connection for one short transaction and never waits for a
second one while holding it.

Sessions use the database of the settings the process was built with: `bind(settings)` (the app factory,
`prepare_database`) names them; nothing here reads the environment. Engines are kept per URL and pool size,
so an app built from other settings in the same process (a test) gets its own without resetting anything.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Executable, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from server.config import Settings

IMMEDIATE = "localscribe_begin_immediate"
_STARTUP_LOCK_ID = 0x10CA15C  # any constant; names LocalScribe's start-up among advisory locks
# SQLite has one writer per database. Threads of this process queue for it here, in FIFO-ish order and
# without sleeping; only other processes meet SQLite's busy handler (which sleeps up to 100 ms per retry).
_SQLITE_WRITER = threading.RLock()


class Pool(Enum):
    API = "api"  # requests and streams: `db_pool_size` + `db_pool_overflow`
    BACKGROUND = "background"  # worker threads: one connection each, plus upkeep and webhooks


def make_engine(url: str, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        on_disk = bool(path) and path != ":memory:"  # an in-memory database keeps one connection per thread
        pooling = {"pool_size": pool_size, "max_overflow": max_overflow} if on_disk else {}
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pooling)

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
            # Straight to the driver: SQLAlchemy's statement machinery (exec_driver_sql) cost as much CPU
            # as the rest of a cached GET's unit (issue 19 profile); the pysqlite dialect expects no more.
            sql = "BEGIN IMMEDIATE" if conn.get_execution_options().get(IMMEDIATE) else "BEGIN"
            conn.connection.driver_connection.execute(sql)

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow)


def pool_bounds(settings: Settings, pool: Pool) -> tuple[int, int]:
    """(size, overflow) of one pool. The API's size is also how many database units it runs at once
    (server/api/db.py), so a request never times out waiting for a connection."""
    if pool is Pool.API:
        return settings.db_pool_size, settings.db_pool_overflow
    return settings.workers + 2, 2  # a connection per job thread, the upkeep thread and the webhook sender


_ENGINES: dict[tuple[str, int, int], Engine] = {}
_ENGINES_LOCK = threading.Lock()


_bound: Settings | None = None
# The bound settings' engines by pool: `sqlalchemy_url` resolves the data dir on disk (a realpath, several
# system calls), which was 6 % of a cached GET's samples when every session looked its engine up by it.
_bound_engines: dict[Pool, Engine] = {}


def bind(settings: Settings) -> None:
    """Sessions of this process use the database `settings` name (last bound wins)."""
    global _bound
    with _ENGINES_LOCK:
        _bound = settings
        _bound_engines.clear()


def engine_for(settings: Settings, pool: Pool = Pool.API) -> Engine:
    """The engine of one pool of `settings`' database, made on first use."""
    key = (settings.sqlalchemy_url, *pool_bounds(settings, pool))
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = make_engine(*key)
        return _ENGINES[key]


def get_engine(pool: Pool = Pool.API) -> Engine:
    engine = _bound_engines.get(pool)
    if engine is not None:
        return engine
    bound = _bound
    if bound is None:
        raise RuntimeError("no database: call server.db.session.bind(settings) first")
    engine = engine_for(bound, pool)
    with _ENGINES_LOCK:
        if bound is _bound:  # not re-bound meanwhile
            _bound_engines[pool] = engine
    return engine


@lru_cache
def _factories(engine: Engine) -> tuple[sessionmaker[Session], sessionmaker[Session]]:
    plain = sessionmaker(engine, expire_on_commit=False)
    writer = sessionmaker(engine.execution_options(**{IMMEDIATE: True}), expire_on_commit=False)
    return plain, writer


@contextmanager
def session_scope(
    *, write_lock: bool = True, pool: Pool = Pool.API, same_thread: bool = True
) -> Iterator[Session]:
    """A transaction that commits on success.

    On SQLite a transaction that reads and then writes cannot upgrade its lock once another writer has
    committed ("database is locked" at once, no busy wait), so every transaction that may write takes the
    writer lock when it begins; pure reads pass `write_lock=False` and run concurrently under WAL. Writers
    of this process take turns on an in-process lock first (no busy-handler sleeps between them). That lock
    belongs to the thread that took it: a scope that may end on another thread (`same_thread=False`: a
    FastAPI generator dependency enters and exits in two separate thread-pool calls) waits in SQLite's busy
    handler instead.
    """
    factory = _factories(get_engine(pool))[1 if write_lock else 0]
    if write_lock and same_thread and factory.kw["bind"].dialect.name == "sqlite":
        with _SQLITE_WRITER, factory() as session, session.begin():
            yield session
        return
    with factory() as session, session.begin():
        yield session


def changed(session: Session, statement: Executable) -> int:
    """Rows an UPDATE or DELETE changed (SQLAlchemy types `execute` as a plain Result; DML gives a
    CursorResult, which counts them)."""
    result = session.execute(statement)
    return cast(CursorResult[Any], result).rowcount or 0


def read_row(sql: str, *params: object) -> tuple[Any, ...] | None:
    """The first row of one SELECT, straight through the driver on an API-pool connection: no session, no
    transaction around it (a single statement is its own snapshot on both databases), no SQLAlchemy
    statement machinery. For the hottest reads only (a poll's stamp, issue 19): values come back as the
    driver gives them (SQLite: datetimes as text). `sql` uses `?` placeholders."""
    engine = get_engine()
    sqlite = engine.dialect.name == "sqlite"
    fairy = engine.raw_connection()
    try:
        driver: Any = fairy.driver_connection  # sqlite3's or psycopg's connection
        if not sqlite:
            driver.autocommit = True  # no BEGIN before the SELECT, no ROLLBACK when the pool takes it back
        try:
            cursor = driver.execute(sql if sqlite else sql.replace("?", "%s"), params)
            row: tuple[Any, ...] | None = cursor.fetchone()
            return row
        finally:
            if not sqlite:
                driver.autocommit = False
    finally:
        fairy.close()


@contextmanager
def startup_lock(settings: Settings) -> Iterator[None]:
    """Serialise start-up work across processes: a PostgreSQL advisory lock, or a file lock for SQLite."""
    if settings.sqlalchemy_url.startswith("postgresql"):
        with engine_for(settings).connect() as conn:
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


def dispose(settings: Settings) -> None:
    """Close the connections of `settings`' database (an app built in a test, at its end)."""
    with _ENGINES_LOCK:
        _bound_engines.clear()
        for pool in Pool:
            engine = _ENGINES.pop((settings.sqlalchemy_url, *pool_bounds(settings, pool)), None)
            if engine is not None:
                engine.dispose()
