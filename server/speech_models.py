"""Speech-model names as data: which names a request may use, which family a streaming name belongs to, and
which local model serves each name (docs/compatibility.md#transcript-params, #v3-streaming "Model families").

A request may name only a model this machine already holds (docs/compatibility.md#transcript-params: "the
first name that maps to an installed model"); naming any other would make a worker download it from the Hub
and keep it in memory, at any account's wish. `LOCALSCRIBE_ALLOW_MODEL_DOWNLOADS=true` lets an administrator
open the Hub's names too.

One place for the rule "a Universal-3 Pro name decodes with the multilingual model", shared by streaming
(`/v3/ws`) and the Sync and Dictation APIs.
"""

from __future__ import annotations

import threading
import time
from enum import Enum
from pathlib import Path

from server.config import Settings
from server.engine.model_store import list_models, model_names

_TTL_S = 60.0  # a model installed while the server runs becomes nameable within a minute
_lock = threading.Lock()
_cache: dict[Path, tuple[float, frozenset[str]]] = {}


class Family(str, Enum):
    """A streaming model family: its own parameters, messages and turn sequence
    (docs/compatibility.md#v3-query)."""

    UNIVERSAL_STREAMING = "universal-streaming"
    UNIVERSAL_3_PRO = "universal-3-pro"
    WHISPER = "whisper"


# docs/compatibility.md#v3-streaming "Family of a name" CHOICE, Pipecat's prefix rule: dated variants stay in
# their family.
U3_PRO_PREFIXES = ("u3-", "universal-3")
STREAM_ALIASES = {"u3-pro": "u3-rt-pro"}  # deprecated name -> the one Begin echoes
STREAM_DEFAULT = "universal-streaming-english"
STREAM_MULTILINGUAL = frozenset({"universal-streaming-multilingual", "whisper-rt"})
# The original Universal-3 Pro names keep the 100/1000 ms silences of the U3P spec; later ones use `mode`.
U3_PRO_FIXED_SILENCES = frozenset({"u3-rt-pro", "u3-pro", "u3-rt-pro-beta-1"})
# Names worth listing in the Sync API's Unknown Model error (docs/compatibility.md#sync-api)
SYNC_MODEL_NAMES = ("universal-3-5-pro", "universal-3-6-pro", "u3-sync-pro")


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


def is_universal_3_pro(name: str) -> bool:
    return name.lower().startswith(U3_PRO_PREFIXES)


def streaming_family(name: str) -> Family:
    if is_universal_3_pro(name):
        return Family.UNIVERSAL_3_PRO
    if name == "whisper-rt":
        return Family.WHISPER
    return Family.UNIVERSAL_STREAMING


def streaming_name(name: str | None) -> str:
    """The name as Begin.configuration.model reports it."""
    name = name or STREAM_DEFAULT
    return STREAM_ALIASES.get(name, name)


def is_multilingual_name(name: str) -> bool:
    return is_universal_3_pro(name) or name in STREAM_MULTILINGUAL


def local_model(name: str, settings: Settings) -> str | None:
    """The local model that serves an API model name (streaming, Sync, Dictation); None when the name is not
    known here. Universal-3 Pro names (any dated variant) resolve to the multilingual model, unless the name
    map says otherwise (async `universal-3-pro` is in it)."""
    if name in settings.speech_model_map:
        return settings.speech_model_map[name]
    if is_multilingual_name(name):
        return settings.stream_model_multilingual
    if name in known_speech_models(settings):
        return name
    return None


def sync_model_names(settings: Settings) -> list[str]:
    """The names worth listing in the Sync API's Unknown Model error."""
    return sorted({*settings.speech_model_map, *SYNC_MODEL_NAMES})
