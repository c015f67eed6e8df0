"""Processes that start together (an API and its workers) migrate and bootstrap exactly once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.server import postgres_database, server_env


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_concurrent_starts_create_one_account(backend: str, tmp_path: Path) -> None:
    with postgres_database() if backend == "postgres" else _nothing() as db_url:
        env = server_env(tmp_path, db_url)
        cmd = [sys.executable, "-m", "server.cli.main", "db", "upgrade"]
        starts = [
            subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(4)
        ]
        cmd = [sys.executable, "-m", "server.cli.main", "keys", "list"]
        starts += [
            subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(4)
        ]
        outputs = [p.communicate(timeout=120)[0].decode() for p in starts]
        assert [p.returncode for p in starts] == [0] * 8, outputs
        engine = create_engine(db_url or f"sqlite:///{tmp_path / 'localscribe.db'}")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM accounts")).scalar_one() == 1
            assert conn.execute(text("SELECT count(*) FROM api_keys")).scalar_one() == 1
        engine.dispose()


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
