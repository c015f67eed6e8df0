"""Which `speech_models` names a request may use: the API's names (mapped by settings) and local ones."""

from __future__ import annotations

from server.config import Settings

LOCAL_MODELS = (
    "tiny",
    "tiny.en",
    "base",
    "base.en",
    "small",
    "small.en",
    "medium",
    "medium.en",
    "large-v1",
    "large-v2",
    "large-v3",
    "large-v3-turbo",
    "turbo",
    "distil-large-v3",
)


def known_speech_models(settings: Settings) -> set[str]:
    return {*settings.speech_model_map, *settings.speech_model_map.values(), *LOCAL_MODELS, settings.model}
