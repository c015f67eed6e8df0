"""A write session that FastAPI opens and closes on two different worker threads (a generator dependency:
its `__enter__` and `__exit__` run as separate thread-pool calls). Before the fix, the in-process SQLite
writer lock taken on the first thread could not be released on the second: the admin request answered 500
(seen once in CI: `DELETE /admin/faults`) and the lock stayed held: every later write of the process hung."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from server.api.deps import get_db
from server.config import Settings
from server.db import session as db_session


def _on_a_thread(step: Callable[[], object], keep: threading.Event | None = None) -> list[BaseException]:
    """`step` on a new thread, which lives on until `keep` is set (FastAPI's workers outlive a call: a thread
    that ended may lend its id to the next one, and a lock would then take that one for its owner)."""
    errors: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            step()
        except StopIteration:
            pass
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)
        done.set()
        if keep is not None:
            keep.wait(30)

    threading.Thread(target=run, daemon=True).start()
    done.wait(30)
    return errors


def test_a_write_dependency_may_end_on_another_thread(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=None)  # SQLite: its lock is the subject
    db_session.bind(settings)
    workers_live = threading.Event()
    try:
        dependency = get_db()
        assert _on_a_thread(lambda: next(dependency), workers_live) == []  # FastAPI: __enter__ on one worker
        assert _on_a_thread(lambda: next(dependency), workers_live) == []  # ... __exit__ on another

        written = threading.Event()

        def write() -> None:
            with db_session.session_scope():
                written.set()

        threading.Thread(target=write, daemon=True).start()
        assert written.wait(10), "a later writer waits for a lock nobody will release"
    finally:
        workers_live.set()
        db_session.dispose(settings)
