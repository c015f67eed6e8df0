"""Which `speech_models` names a request may use: the API's names (mapped by settings) and local ones.

A request may name only a model this machine already holds (CONTRACT §2.2: "the first name that maps to an
installed model"); naming any other would make a worker download it from the Hub and keep it in memory, at
any account's wish. `LOCALSCRIBE_ALLOW_MODEL_DOWNLOADS=true` lets an administrator open the Hub's names too.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from server.config import Settings
from server.engine.models import list_models, model_names

_TTL_S = 60.0  # a model installed while the server runs becomes nameable within a minute
_lock = threading.Lock()
_cache: dict[Path, tuple[float, frozenset[str]]] = {}


def installed_models(models_dir: Path) -> frozenset[str]:
    """Names loadable without a download: the models dir, the offline packages, the Hub's local cache."""
    now = time.monotonic()
    with _lock:
        hit = _cache.get(models_dir)
        if hit is not None and now - hit[0] < _TTL_S:
            return hit[1]
    names = frozenset(m.name for m in list_models(models_dir) if m.installed or m.source != "hub")
    with _lock:
        _cache[models_dir] = (now, names)
    return names


def known_speech_models(settings: Settings) -> set[str]:
    local = set(model_names()) if settings.allow_model_downloads else installed_models(settings.models_dir)
    return {*settings.speech_model_map, *settings.speech_model_map.values(), *local, settings.model}


# Sync and Dictation APIs (CONTRACT §6.11, §12 item 29): the Universal-3 Pro names (`universal-3-5-pro`,
# `universal-3-6-pro`, `u3-sync-pro`, ...) decode with the multilingual model, as streaming's U3 Pro does.
U3_PRO_PREFIXES = ("u3-", "universal-3")


def sync_local_model(name: str, settings: Settings) -> str | None:
    """The local model behind an `X-AAI-Model` name; None when this server knows no such model."""
    if name in settings.speech_model_map:
        return settings.speech_model_map[name]
    if name.lower().startswith(U3_PRO_PREFIXES):
        return settings.stream_model_multilingual
    if name in known_speech_models(settings):
        return name
    return None


def sync_model_names(settings: Settings) -> list[str]:
    """The names worth listing in an Unknown Model error."""
    return sorted({*settings.speech_model_map, "universal-3-5-pro", "universal-3-6-pro", "u3-sync-pro"})
