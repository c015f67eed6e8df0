"""Which `speech_models` names a request may use: the API's names (mapped by settings) and local ones."""

from __future__ import annotations

from functools import lru_cache

from server.config import Settings
from server.engine.models import model_names


@lru_cache
def _local_names() -> frozenset[str]:
    return frozenset(model_names())


def known_speech_models(settings: Settings) -> set[str]:
    return {*settings.speech_model_map, *settings.speech_model_map.values(), *_local_names(), settings.model}
