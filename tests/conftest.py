"""Fixtures: live servers (mock engine by default) on SQLite and PostgreSQL, the SDK pointed at them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import assemblyai as aai
import httpx
import pytest

from tests.support.server import API_KEY, ServerProcess, postgres_database, server_env
from tests.support.spec import AUDIO

StartServer = Callable[..., ServerProcess]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def start_server(tmp_path: Path, backend: str) -> Iterator[StartServer]:
    """Start servers sharing one database; each call may override settings (LOCALSCRIBE_* names)."""
    with ExitStack() as stack:
        db_url = stack.enter_context(postgres_database()) if backend == "postgres" else None
        procs: list[ServerProcess] = []

        def start(args: list[str] | None = None, wait: bool = True, **overrides: str) -> ServerProcess:
            proc = ServerProcess(tmp_path, server_env(tmp_path, db_url, **overrides), args=args or ["serve"])
            procs.append(proc)
            return proc.start(wait=wait)

        try:
            yield start
        finally:
            for p in procs:
                p.stop(timeout=10)


@pytest.fixture
def server(start_server: StartServer) -> ServerProcess:
    return start_server()


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": API_KEY}, timeout=30) as c:
        yield c


@pytest.fixture
def sdk(server: ServerProcess) -> Iterator[aai.Transcriber]:
    """The official SDK, configured the way a user would point it at LocalScribe."""
    aai.settings.base_url = server.url
    aai.settings.api_key = API_KEY
    aai.settings.polling_interval = 0.1
    yield aai.Transcriber()
    aai.settings.base_url = "https://api.assemblyai.com"


@pytest.fixture
def jfk() -> Path:
    return AUDIO / "jfk.flac"


def create_key(server: ServerProcess, *, tier: str = "paid", **limits: int) -> str:
    """A new account's key, made with the CLI against the server's database."""
    import subprocess
    import sys

    args = [sys.executable, "-m", "server.cli.main", "keys", "create", "--name", "t", "--tier", tier]
    for name, value in limits.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    out = subprocess.run(args, env=server.env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture
def real_settings() -> dict[str, str]:
    """Extra LOCALSCRIBE_* settings for real_sdk's server (a test module overrides this fixture)."""
    return {}


@pytest.fixture
def real_sdk(start_server: StartServer, real_settings: dict[str, str]) -> Iterator[aai.Transcriber]:
    """The SDK against a server with the real engine; `tiny.en` serves `nano`, `base` everything else."""
    server = start_server(
        LOCALSCRIBE_ENGINE="whisper",
        LOCALSCRIBE_MODEL="base",
        LOCALSCRIBE_WORKERS="1",
        LOCALSCRIBE_MODELS_DIR=str(Path(__file__).resolve().parents[1] / "models"),
        **real_settings,
    )
    aai.settings.base_url = server.url
    aai.settings.api_key = API_KEY
    aai.settings.polling_interval = 0.2
    yield aai.Transcriber()
    aai.settings.base_url = "https://api.assemblyai.com"


def raw_body(path: str) -> dict:
    """A body exactly as the server sent it (the SDK's json_response is re-serialised by pydantic)."""
    return httpx.get(f"{aai.settings.base_url}{path}", headers={"Authorization": API_KEY}).json()
