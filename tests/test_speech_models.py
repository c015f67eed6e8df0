"""The model-name table: families by prefix and the multilingual model behind every Universal-3 Pro name."""

from __future__ import annotations

import pytest

from server.config import Settings
from server.speech_models import Family, local_model, streaming_family, streaming_name


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("universal-3-6-pro", Family.UNIVERSAL_3_PRO),
        ("universal-3-5-pro", Family.UNIVERSAL_3_PRO),
        ("u3-rt-pro", Family.UNIVERSAL_3_PRO),
        ("u3-pro", Family.UNIVERSAL_3_PRO),
        ("universal-3-6-pro-2026-07-01", Family.UNIVERSAL_3_PRO),
        ("universal-streaming-english", Family.UNIVERSAL_STREAMING),
        ("universal-streaming-multilingual", Family.UNIVERSAL_STREAMING),
        ("whisper-rt", Family.WHISPER),
        ("something-else", Family.UNIVERSAL_STREAMING),
    ],
)
def test_family_by_name(name: str, family: Family) -> None:
    assert streaming_family(name) is family


def test_every_universal_3_pro_name_is_served_by_the_multilingual_model() -> None:
    settings = Settings(stream_model_multilingual="base")
    for name in ("universal-3-6-pro", "u3-rt-pro", "u3-pro", "universal-3-6", "u3-rt-pro-beta-1"):
        assert local_model(name, settings) == "base"
    assert local_model("nano", settings) == "tiny.en"
    assert local_model("no-such-model", settings) is None
    assert streaming_name("u3-pro") == "u3-rt-pro" and streaming_name(None) == "universal-streaming-english"
