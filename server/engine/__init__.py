"""Engines turn 16 kHz samples into timed words. `build_engine` picks one from the settings."""

from __future__ import annotations

from server.config import Settings
from server.engine.base import Engine


def build_engine(settings: Settings, *, concurrent_calls: int | None = None, nice: int = 0) -> Engine:
    """An engine with models of its own; `concurrent_calls` (default: the async workers) is how many
    transcribe calls CTranslate2 may run at once on one model, `nice` the priority of its decoding threads."""
    if settings.engine == "mock":
        from server.engine.mock import MockEngine

        return MockEngine(
            text=settings.mock_text,
            mock_dir=settings.mock_dir,
            delay_s=settings.mock_delay_s,
            rtf=settings.mock_rtf,
        )
    import os

    from server.engine.whisper import WhisperEngine

    # Parallel jobs share the cores: their threads together should not outnumber them (bench/throughput.py).
    # One worker keeps CTranslate2's own default (0), which measured fastest in bench/async_rtf.py.
    calls = concurrent_calls or settings.workers
    threads = settings.cpu_threads
    if not threads and calls > 1:
        threads = max(1, (os.cpu_count() or 1) // calls)

    return WhisperEngine(
        default_model=settings.model,
        models_dir=settings.models_dir,
        device=settings.device,
        compute_type=settings.compute_type,
        cpu_threads=threads,
        num_workers=calls,
        beam_size=settings.beam_size,
        batch_size=settings.batch_size,
        batch_min_s=settings.batch_min_s,
        # an explicit LOCALSCRIBE_BEAM_SIZE is every path's beam; else the batched path's measured default
        batch_beam_size=settings.batch_beam_size
        or (settings.beam_size if "beam_size" in settings.model_fields_set else None),
        batch_jobs=settings.batch_jobs,
        allow_downloads=settings.allow_model_downloads,
        nice=nice,
    )
