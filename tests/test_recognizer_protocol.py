"""Every recognizer a live session may drive answers the whole `Recognizer` protocol: a stand-in that lacks a
member fails only when a session reaches it (a replay that fell through to the engine lacked `final_due` and
`withdraw`, and its session failed mid-stream)."""

from __future__ import annotations

import pytest

from server.emulator.scripted import ScriptedRecognizer
from server.emulator.stream_replay import ReplayRecognizer
from server.engine.recognizer import Recognizer, StreamRecognizer, TurnConfig

MEMBERS = sorted(name for name in vars(Recognizer) if not name.startswith("_"))


def test_the_protocol_names_what_a_session_calls() -> None:
    assert MEMBERS == [
        "busy", "complete", "feed", "final_due", "force_end", "has_speech", "poll", "withdraw"
    ]  # fmt: skip


@pytest.mark.parametrize("recognizer", [StreamRecognizer, ScriptedRecognizer, ReplayRecognizer])
def test_every_recognizer_has_every_member(recognizer: type) -> None:
    assert [name for name in MEMBERS if not hasattr(recognizer, name)] == []


def test_the_real_recognizer_is_one() -> None:
    assert isinstance(StreamRecognizer(TurnConfig()), Recognizer)
    assert isinstance(ScriptedRecognizer([]), Recognizer)
