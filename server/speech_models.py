"""Speech-model names as data: which names a request may use, which family a streaming name belongs to, and
which local model serves each name (CONTRACT §2.2, §6 "Model families").

One place for the rule "a Universal-3 Pro name decodes with the multilingual model", shared by streaming
(`/v3/ws`) and anything else that takes those names (the Sync API).
"""

from __future__ import annotations

from enum import Enum
from functools import lru_cache

from server.config import Settings
from server.engine.models import model_names


class Family(str, Enum):
    """A streaming model family: its own parameters, messages and turn sequence (CONTRACT §6.1)."""

    UNIVERSAL_STREAMING = "universal-streaming"
    UNIVERSAL_3_PRO = "universal-3-pro"
    WHISPER = "whisper"


# CONTRACT §6 "Family of a name" CHOICE, Pipecat's prefix rule: dated variants stay in their family.
U3_PRO_PREFIXES = ("u3-", "universal-3")
STREAM_ALIASES = {"u3-pro": "u3-rt-pro"}  # deprecated name -> the one Begin echoes
STREAM_DEFAULT = "universal-streaming-english"
STREAM_MULTILINGUAL = frozenset({"universal-streaming-multilingual", "whisper-rt"})
# The original Universal-3 Pro names keep the 100/1000 ms silences of the U3P spec; later ones use `mode`.
U3_PRO_FIXED_SILENCES = frozenset({"u3-rt-pro", "u3-pro", "u3-rt-pro-beta-1"})


def is_universal_3_pro(name: str) -> bool:
    return name.startswith(U3_PRO_PREFIXES)


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
    """The local model that serves an API model name; None when the name is not known here.

    Universal-3 Pro names (any dated variant) resolve to the multilingual model, unless the name map says
    otherwise (async `universal-3-pro` is in it)."""
    if name in settings.speech_model_map:
        return settings.speech_model_map[name]
    if is_universal_3_pro(name) or name in STREAM_MULTILINGUAL:
        return settings.stream_model_multilingual
    if name in _local_names():
        return name
    return None


@lru_cache
def _local_names() -> frozenset[str]:
    return frozenset(model_names())


def known_speech_models(settings: Settings) -> set[str]:
    return {*settings.speech_model_map, *settings.speech_model_map.values(), *_local_names(), settings.model}
