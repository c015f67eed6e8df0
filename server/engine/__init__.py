"""Engines turn 16 kHz samples into timed words. `build_engine` picks one from the settings."""

from __future__ import annotations

from server.config import Settings
from server.engine.base import Engine


def build_engine(settings: Settings) -> Engine:
    if settings.engine == "mock":
        from server.engine.mock import MockEngine

        return MockEngine(
            text=settings.mock_text,
            mock_dir=settings.mock_dir,
            delay_s=settings.mock_delay_s,
            rtf=settings.mock_rtf,
        )
    from server.engine.whisper import WhisperEngine

    return WhisperEngine(
        default_model=settings.model,
        models_dir=settings.models_dir,
        device=settings.device,
        compute_type=settings.compute_type,
        cpu_threads=settings.cpu_threads,
        num_workers=settings.workers,
        beam_size=settings.beam_size,
    )
