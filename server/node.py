"""What one process runs besides HTTP: the engine and its worker pool (absent with `--no-workers`)."""

from __future__ import annotations

import logging
import threading

from server.config import Settings
from server.engine import build_engine
from server.engine.base import Engine
from server.jobs.worker import WorkerPool

log = logging.getLogger(__name__)


class Node:
    def __init__(self, settings: Settings, *, workers: bool = True) -> None:
        self.settings = settings
        self.engine: Engine | None = build_engine(settings) if workers else None
        self.pool = WorkerPool(settings, self.engine) if self.engine is not None else None

    def start(self) -> None:
        if self.pool is None:
            return
        self.pool.start()
        # Load the default model in the background so the first job does not pay for it.
        threading.Thread(target=self._warm_up, name="warm-up", daemon=True).start()

    def _warm_up(self) -> None:
        load = getattr(self.engine, "load", None)
        if load is not None:
            try:
                load()
            except Exception:
                log.exception("loading the default model failed")

    def stop(self) -> None:
        if self.pool is not None:
            self.pool.stop()

    def wake(self) -> None:
        """A job was queued through this process: let an idle worker here take it without waiting to poll."""
        if self.pool is not None:
            self.pool.wake()

    def engine_ready(self) -> bool:
        """An API-only node has no model to wait for."""
        return self.engine is None or self.engine.is_ready()
