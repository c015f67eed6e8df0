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


# Sync and Dictation APIs (CONTRACT §6.11, §12 item 29): the Universal-3 Pro names (`universal-3-5-pro`,
# `universal-3-6-pro`, `u3-sync-pro`, ...) decode with the multilingual model, as streaming's U3 Pro does.
U3_PRO_PREFIXES = ("u3-", "universal-3")


def sync_local_model(name: str, settings: Settings) -> str | None:
    """The local model behind an `X-AAI-Model` name; None when this server knows no such model."""
    if name in settings.speech_model_map:
        return settings.speech_model_map[name]
    if name.lower().startswith(U3_PRO_PREFIXES):
        return settings.stream_model_multilingual
    if name in _local_names() or name == settings.model:
        return name
    return None


def sync_model_names(settings: Settings) -> list[str]:
    """The names worth listing in an Unknown Model error."""
    return sorted({*settings.speech_model_map, "universal-3-5-pro", "universal-3-6-pro", "u3-sync-pro"})
