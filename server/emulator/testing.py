"""LocalScribe inside a test process (docs/testing.md): a server on a free port, the SDK pointed at it, a
clean state per test, scripts and the request journal at hand.

    with LocalScribe() as server:          # unittest, scripts
        with server.sdk():                 # assemblyai.settings point here until the block ends
            ...
        server.reset()

The pytest plugin (server/emulator/pytest_plugin.py) keeps one server per session (per xdist worker) and
resets it before each test. Nothing here is imported until a test asks for it.
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

DEFAULT_KEY = "localscribe-test-key"
DEFAULT_ADMIN_TOKEN = "localscribe-test-admin"
START_TIMEOUT_S = 60.0


class LocalScribe:
    """One in-process LocalScribe (mock engine, temporary SQLite database, known key) on 127.0.0.1."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_KEY,
        admin_token: str = DEFAULT_ADMIN_TOKEN,
        data_dir: Path | None = None,
        **settings: Any,
    ) -> None:
        self.api_key = api_key
        self.admin_token = admin_token
        self._data_dir = data_dir
        self._overrides = settings
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._http: httpx.Client | None = None
        self.app: Any = None
        self.port = 0
        self._settings: Any = None

    # --- life ---------------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def streaming_host(self) -> str:
        """What the SDK's `StreamingClientOptions(api_host=...)` takes: `ws://127.0.0.1:PORT`."""
        return f"ws://127.0.0.1:{self.port}"

    @property
    def environ(self) -> dict[str, str]:
        """For subprocesses and other languages' clients."""
        return {
            "ASSEMBLYAI_BASE_URL": self.base_url,
            "ASSEMBLYAI_API_KEY": self.api_key,
            "ASSEMBLYAI_STREAMING_HOST": self.streaming_host,
            "LOCALSCRIBE_URL": self.base_url,
            "LOCALSCRIBE_ADMIN_TOKEN": self.admin_token,
        }

    def settings(self) -> Any:
        from server.config import Settings

        if self._data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="localscribe-")
            self._data_dir = Path(self._tmp.name)
        values: dict[str, Any] = {
            "engine": "mock",
            "data_dir": self._data_dir,
            "database_url": f"sqlite:///{(self._data_dir / 'localscribe.db').resolve()}",
            "api_key": self.api_key,
            "admin_token": self.admin_token,
            "workers": 2,
            "poll_interval_s": 0.02,
            "playground": False,
            "faults_file": None,
            "url_policy": "private",  # tests serve audio from localhost
        }
        values.update(self._overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    def start(self) -> LocalScribe:
        import uvicorn

        from server.api.app import create_app

        self._settings = self.settings()
        _forget_process_caches()
        self.app = create_app(self._settings)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="localscribe", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("LocalScribe did not start")
            time.sleep(0.01)
        self._http = httpx.Client(base_url=self.base_url, headers={"Authorization": self.admin_token})
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._settings is not None:
            from server.db.session import dispose

            dispose(self._settings)
            _forget_process_caches()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> LocalScribe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- per test -----------------------------------------------------------------------------------------
    def reset(self) -> None:
        """A fresh server: no transcripts, uploads, accounts but the known key's, scripts, journal."""
        self._admin("POST", "/admin/reset")

    @contextlib.contextmanager
    def sdk(self) -> Iterator[LocalScribe]:
        """Point `assemblyai.settings` here for the block; the previous values come back afterwards."""
        import assemblyai as aai

        before = (aai.settings.base_url, aai.settings.api_key)
        aai.settings.base_url, aai.settings.api_key = self.base_url, self.api_key
        try:
            yield self
        finally:
            aai.settings.base_url, aai.settings.api_key = before

    # --- scripts ------------------------------------------------------------------------------------------
    def script(
        self,
        *,
        text: str | None = None,
        words: list[dict[str, Any]] | None = None,
        utterances: list[dict[str, Any]] | None = None,
        error: str | None = None,
        turns: list[dict[str, Any]] | None = None,
        language_code: str | None = None,
        audio_url: str | None = None,
        audio_url_regex: str | None = None,
        audio_file: str | Path | None = None,
        account_id: str | None = None,
        header: dict[str, str] | None = None,
        times: int | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """Add a script (docs/testing.md#scripted-results): the body `POST /admin/scripts` takes."""
        from server.emulator.recordings import file_sha256

        if error is not None:
            result: dict[str, Any] = {"type": "error", "message": error}
        elif turns is not None:
            result = {"type": "turns", "turns": turns}
        else:
            result = {"type": "result", "text": text, "words": words, "utterances": utterances}
            result["language_code"] = language_code
        match = {
            "audio_url": audio_url,
            "audio_url_regex": audio_url_regex,
            "audio_sha256": file_sha256(Path(audio_file)) if audio_file is not None else None,
            "account_id": account_id,
            "header": header,
        }
        body = {
            "name": name,
            "times": times,
            "match": _present(match),
            "result": _present(result),
        }
        return self._admin("POST", "/admin/scripts", json=_present(body))

    # --- journal ------------------------------------------------------------------------------------------
    def requests(self, path: str | None = None, **where: Any) -> list[dict[str, Any]]:
        """Journal entries, oldest first, that match every filter: `path` a glob, `method`, `account_id`,
        `kind` ("http" or "stream"); any other keyword must be in the entry's parameters
        (`speaker_labels=True`)."""
        filters = {name: where.pop(name) for name in ("method", "account_id", "kind") if name in where}
        found = self.app.state.journal.entries(path=path, params=where or None, **filters)
        return [e.render() for e in found]

    def _admin(self, method: str, path: str, **kwargs: Any) -> Any:
        assert self._http is not None, "the server is not running"
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()


def plugin_args() -> list[str]:
    """pytest arguments that load the plugin from this checkout (`-p ...`), or none when an installed
    LocalScribe registers it already (pytest refuses a plugin twice)."""
    from importlib.metadata import entry_points

    installed = {e.name for e in entry_points(group="pytest11")}
    return [] if "localscribe" in installed else ["-p", "server.emulator.pytest_plugin"]


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _forget_process_caches() -> None:
    """Keys and fault rules cached per process belong to the previous server's database (sessions follow the
    app last built: one in-process server at a time)."""
    from server.emulator.http_rules import rules_changed
    from server.services.accounts import KEYS

    KEYS.clear()
    rules_changed()
