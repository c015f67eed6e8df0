"""The speech options through the batched decoding path (server/engine/whisper.py `batches`): the same SDK
tests as tests/test_options_real.py, against a server that batches every file (LOCALSCRIBE_BATCH_MIN_S=0),
so each option gives the same API result whichever path a job takes."""

from __future__ import annotations

import pytest

from tests import test_options_real as options

pytestmark = pytest.mark.real


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def real_settings() -> dict[str, str]:
    return {"LOCALSCRIBE_BATCH_MIN_S": "0"}  # every file through the batched path


# the option tests of tests/test_options_real.py, collected again here under this module's settings
for _name in (
    "test_span_custom_spelling_and_unformatted_text",
    "test_multichannel_transcribes_each_channel",
    "test_word_boost_recognises_a_rare_term",
    "test_disfluencies_on_synthesised_speech",
    "test_filter_profanity_on_synthesised_speech",
    "test_exports_of_a_real_transcript",
):
    globals()[_name.replace("test_", "test_batched_", 1)] = getattr(options, _name)
