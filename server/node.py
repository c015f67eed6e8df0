"""What one process runs besides HTTP: the engine, its worker pool (absent with `--no-workers`) and the
decoder that live streams share (streams are served where their socket is, so every API process has one)."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from server.config import Settings
from server.engine import build_engine
from server.engine.base import Engine
from server.jobs.worker import WorkerPool
from server.streaming.session import Decoder

log = logging.getLogger(__name__)


class Node:
    def __init__(self, settings: Settings, *, workers: bool = True) -> None:
        self.settings = settings
        self.engine: Engine = build_engine(settings)  # models load on first use
        self.pool = WorkerPool(settings, self.engine) if workers else None
        self.stream_decoder = Decoder(
            self.engine,
            ThreadPoolExecutor(settings.stream_decode_threads, thread_name_prefix="stream-decode"),
            settings,
        )

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
        self.stream_decoder.executor.shutdown(wait=False, cancel_futures=True)

    def wake(self) -> None:
        """A job was queued through this process: let an idle worker here take it without waiting to poll."""
        if self.pool is not None:
            self.pool.wake()

    def engine_ready(self) -> bool:
        """An API-only node has no model to wait for."""
        return self.pool is None or self.engine.is_ready()
