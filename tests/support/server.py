"""Start a real LocalScribe server process on a free port, on SQLite or a fresh PostgreSQL database."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PG_ADMIN_URL = os.environ.get("LOCALSCRIBE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
API_KEY = "test-key-paid"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_database() -> Iterator[str]:
    """A throw-away database on the local PostgreSQL; yields its SQLAlchemy URL."""
    import psycopg

    name = f"ls_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class ServerProcess:
    """One `localscribe serve` (or `worker`) process and how to reach it."""

    data_dir: Path
    env: dict[str, str]
    args: list[str] = field(default_factory=lambda: ["serve"])
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def tls(self) -> bool:
        """`serve --tls`: HTTPS and WSS, with the local CA the server makes under its data dir."""
        return "--tls" in self.args

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return Path(self.env.get("LOCALSCRIBE_DATA_DIR", self.data_dir)) / "tls" / "ca.pem"

    def start(self, wait: bool = True) -> ServerProcess:
        cmd = [sys.executable, "-m", "server.cli.main", *self.args]
        if self.args[0] == "serve":
            cmd += ["--port", str(self.port)]
        self.log_path = self.data_dir / f"server-{self.port}-{time.monotonic_ns()}.log"
        with open(self.log_path, "wb") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                cmd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=Path(__file__).resolve().parents[2],
            )
        if wait and self.args[0] == "serve":
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if self.tls and not self.ca_file.exists():
                    raise httpx.ConnectError("no CA yet")
                verify = ssl.create_default_context(cafile=self.ca_file) if self.tls else True
                if httpx.get(f"{self.url}/health", timeout=1, verify=verify).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()


def server_env(data_dir: Path, database_url: str | None, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALSCRIBE_")}
    env.update(
        LOCALSCRIBE_DATA_DIR=str(data_dir),
        LOCALSCRIBE_API_KEY=API_KEY,
        LOCALSCRIBE_ENGINE="mock",
        LOCALSCRIBE_POLL_INTERVAL_S="0.05",
        LOCALSCRIBE_WORKERS="2",
        TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="",
    )
    if database_url:
        env["LOCALSCRIBE_DATABASE_URL"] = database_url
    env.update(overrides)
    return env
