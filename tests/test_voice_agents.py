"""Voice-agent frameworks on `/v3/ws` with their defaults (Universal-3 Pro), against the mock engine.

LiveKit's AssemblyAI plugin and Pipecat's AssemblyAISTTService are driven the way their frameworks drive them
(tests/support/voice_agents.py); raw sockets cover what the frameworks do not reach
(docs/compatibility.md#v3-models, docs/compatibility.md#clients).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from server.config import Settings
from server.engine.recognizer import DecodeRequest
from server.streaming.scheduler import DecodeScheduler
from server.streaming.v3 import V3Adapter
from tests.conftest import create_key
from tests.support.server import API_KEY, ServerProcess, server_env
from tests.support.spec import assert_stream_message
from tests.support.voice_agents import livekit_stream, pipecat_pipeline
from tests.test_streaming import JFK, chunks, drain, of_type, open_ws, ws_url

U3P = "usm-streaming-u3-pro.yml"
V3 = "/v3/ws"
JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
TERMINATE = json.dumps({"type": "Terminate"})
TOO_MANY_CODES = "Invalid Message: language_codes accepts at most 10 codes"
GAP = bytes(16_000 * 2 * 2)  # 2 s of silence: two clearly separate turns
TWO_TURNS = JFK[: 16_000 * 2 * 3] + GAP + JFK[16_000 * 2 * 3 : 16_000 * 2 * 6]
SCHEMAS = {"Begin": "SessionBeginsPayload", "SpeechStarted": "SpeechStartedPayload", "Turn": "TurnPayload",
           "Termination": "TerminationPayload"}  # fmt: skip


@pytest.fixture(scope="module")
def agent_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("agents")
    proc = ServerProcess(tmp, server_env(tmp, None, LOCALSCRIBE_MOCK_TEXT=JFK_TEXT)).start()
    yield proc
    proc.stop(timeout=10)


def ws_base(server: ServerProcess) -> str:
    return server.url.replace("http://", "ws://")


def assert_u3_pro_sequence(messages: list[dict[str, Any]], *, language: str | None = None) -> list[dict]:
    """Every message matches the U3P spec; per turn: SpeechStarted, partials, exactly one formatted end of
    turn (docs/compatibility.md#v3-models). Returns the end-of-turn messages."""
    allowed = set(SCHEMAS)
    assert {m["type"] for m in messages} <= allowed, {m["type"] for m in messages}
    for message in messages:
        assert_stream_message(U3P, SCHEMAS[message["type"]], message)
    ends: list[dict[str, Any]] = []
    started_for: int | None = None
    order = 0
    for message in messages:
        if message["type"] == "SpeechStarted":
            assert started_for is None, "two SpeechStarted in one turn"
            assert isinstance(message["timestamp"], int) and 0 <= message["confidence"] <= 1
            started_for = order
        elif message["type"] == "Turn":
            assert started_for == order, "a Turn before its SpeechStarted"
            assert message["turn_order"] == order
            assert message["turn_is_formatted"] == message["end_of_turn"]
            assert message["end_of_turn_confidence"] == (1.0 if message["end_of_turn"] else 0.0)
            assert all(w["word_is_final"] == message["end_of_turn"] for w in message["words"])
            if message["end_of_turn"]:
                assert message["utterance"] == message["transcript"] != ""
                if language is not None:
                    assert message["language_code"] == language and 0 < message["language_confidence"] <= 1
                else:
                    assert "language_code" not in message
                ends.append(message)
                order += 1
                started_for = None
            else:
                assert message["utterance"] == "" and "language_code" not in message
    if started_for is not None:  # a turn left open: only by partials whose final had no words, at the end
        last = messages[-1]
        assert last["type"] == "Turn" and not last["end_of_turn"], "SpeechStarted without a turn"
    return ends


def test_livekit_defaults_one_formatted_final_per_turn(agent_server: ServerProcess) -> None:
    run = livekit_stream(ws_base(agent_server), API_KEY, TWO_TURNS)
    assert run.messages[0]["type"] == "Begin" and run.messages[-1]["type"] == "Termination"
    assert run.messages[0]["configuration"]["model"] == "universal-3-6-pro"
    ends = assert_u3_pro_sequence(run.messages, language="en")  # LiveKit sends language_detection=true
    finals = run.finals()
    assert len(finals) == len(ends) >= 2  # one FINAL per turn, never the same utterance twice
    assert [f.text for f in finals] == [e["transcript"] for e in ends]
    assert all(f.language == "en" for f in finals)
    kinds = [k for k in run.kinds() if k in ("start_of_speech", "final_transcript", "end_of_speech")]
    assert kinds == ["start_of_speech", "final_transcript", "end_of_speech"] * len(finals)
    for word in " ".join(f.text for f in finals).split():
        assert word in JFK_TEXT  # the mock engine reads its text off the session timeline


@pytest.mark.parametrize("force", [True, False], ids=["pipecat-turns", "assemblyai-turns"])
def test_pipecat_pipeline_in_both_turn_modes(agent_server: ServerProcess, force: bool) -> None:
    run = pipecat_pipeline(ws_base(agent_server) + V3, API_KEY, TWO_TURNS, vad_force_turn_endpoint=force)
    assert not run.of("ErrorFrame"), [f.error for f in run.of("ErrorFrame")]
    finals = run.of("TranscriptionFrame")
    assert len(finals) >= 2 and all(f.text and str(f.language.value).startswith("en") for f in finals)
    assert len({f.text for f in finals}) == len(finals)  # no utterance twice
    if not force:  # AssemblyAI's turns: SpeechStarted starts each user turn, so the user can interrupt
        names = [n for n in run.names() if n in ("ProposedUserStartedSpeakingFrame", "TranscriptionFrame")]
        assert names == ["ProposedUserStartedSpeakingFrame", "TranscriptionFrame"] * len(finals)


def _session(server: ServerProcess, frames: list[bytes | str], **query: Any) -> list[dict[str, Any]]:
    with open_ws(ws_url(server, V3, **query)) as ws:
        ws.recv(timeout=5)
        for frame in frames:
            ws.send(frame)
        messages, code, _ = drain(ws, timeout=30)
    assert code == 1000
    return messages


@pytest.mark.parametrize("ending", ["silence", "ForceEndpoint", "Terminate"])
def test_language_fields_on_every_end_of_turn_however_it_ended(
    agent_server: ServerProcess, ending: str
) -> None:
    audio = chunks(JFK[: 16_000 * 2 * 3], 100)
    tail: list[bytes | str] = {
        "silence": [*chunks(GAP, 100), json.dumps({"type": "Terminate"})],
        "ForceEndpoint": [json.dumps({"type": "ForceEndpoint"}), *chunks(GAP, 100), TERMINATE],
        "Terminate": [json.dumps({"type": "Terminate"})],
    }[ending]  # fmt: skip
    query = {"speech_model": "u3-rt-pro", "language_detection": "true", "max_turn_silence": 5000,
             "min_turn_silence": 5000 if ending != "silence" else 100}  # fmt: skip
    if ending == "silence":
        query["max_turn_silence"] = 1000
    messages = _session(agent_server, [*audio, *tail], **query)
    ends = assert_u3_pro_sequence(messages[:-1], language="en")
    assert len(ends) == 1


def test_language_steering_and_no_language_without_detection(agent_server: ServerProcess) -> None:
    audio = [*chunks(JFK[: 16_000 * 2 * 3], 100), json.dumps({"type": "Terminate"})]
    steered = _session(agent_server, audio, speech_model="universal-3-5-pro", language_detection="true",
                       language_codes=json.dumps(["de"]))  # fmt: skip
    assert [m["language_code"] for m in of_type(steered, "Turn") if m["end_of_turn"]] == ["de"]
    plain = _session(agent_server, audio, speech_model="universal-3-6-pro", language_codes='["de"]')
    assert_u3_pro_sequence(plain[:-1], language=None)
    english = _session(
        agent_server, audio, speech_model="universal-streaming-english", language_detection="true"
    )
    assert all("language_code" not in m for m in of_type(english, "Turn"))
    assert not of_type(english, "SpeechStarted")  # U3P only


def test_frameworks_default_parameters_and_updates_are_accepted(agent_server: ServerProcess) -> None:
    pipecat_query = {"sample_rate": 16000, "encoding": "pcm_s16le", "speech_model": "universal-3-6-pro",
                     "formatted_finals": "true", "min_turn_silence": 100, "max_turn_silence": 100,
                     "format_turns": "true", "continuous_partials": "true", "mode": "min_latency",
                     "prompt": "Transcribe verbatim.", "keyterms_prompt": '["Kennedy"]',
                     "agent_context": "Hi!",
                     "previous_context_n_turns": 5, "voice_focus_threshold": 0.5, "interruption_delay": 0,
                     "language_code": "en", "speaker_labels": "false"}  # fmt: skip
    updates = [
        {"type": "UpdateConfiguration", "agent_context": "How can I help you today?"},
        {"type": "UpdateConfiguration", "language_codes": ["en", "es"], "prompt": "", "mode": "balanced"},
        {"type": "UpdateConfiguration", "keyterms_prompt": ["Americans"], "interruption_delay": 200,
         "continuous_partials": False, "vad_threshold": 0.3, "end_of_turn_confidence_threshold": 0.5},
    ]  # fmt: skip
    frames = [
        *map(json.dumps, updates),
        *chunks(JFK[: 16_000 * 2 * 3], 50),
        json.dumps({"type": "Terminate"}),
    ]
    messages = _session(agent_server, frames, **pipecat_query)
    ends = assert_u3_pro_sequence(messages[1:-1] if messages[0]["type"] == "Begin" else messages[:-1])
    assert len(ends) >= 1 and messages[-1]["type"] == "Termination"


@pytest.mark.parametrize(
    ("query", "update", "reason"),
    [
        ({"prompt": "x" * 1751}, None, "Invalid Message: prompt exceeds 1750 characters"),
        ({"agent_context": "x" * 1751}, None, "Invalid Message: agent_context exceeds 1750 characters"),
        ({"language_codes": json.dumps(["en"] * 11)}, None, TOO_MANY_CODES),
        ({"language_codes": '["multi", "en"]'}, None, TOO_MANY_CODES),
        ({}, {"agent_context": "x" * 1751}, "Invalid Message: agent_context exceeds 1750 characters"),
    ],
)  # fmt: skip
def test_limits_close_with_an_error_frame_first(
    agent_server: ServerProcess, query: dict, update: dict | None, reason: str
) -> None:
    with open_ws(ws_url(agent_server, V3, speech_model="universal-3-6-pro", **query)) as ws:
        if update is not None:
            assert json.loads(ws.recv(timeout=5))["type"] == "Begin"
            ws.send(json.dumps({"type": "UpdateConfiguration", **update}))
        messages, code, got = drain(ws)
    assert code == 3006 and got == reason
    assert messages[-1] == {"type": "Error", "error_code": 3006, "error": reason}


def test_mode_presets_and_model_silences() -> None:
    adapter = V3Adapter()
    turn = adapter.parse_query({"speech_model": "universal-3-6-pro"}, 250).turn
    assert (turn.min_silence_ms, turn.max_silence_ms) == (128, 1280)
    turn = adapter.parse_query({"speech_model": "universal-3-6-pro", "mode": "max_accuracy"}, 250).turn
    assert (turn.min_silence_ms, turn.max_silence_ms) == (512, 2560)
    turn = adapter.parse_query({"speech_model": "u3-rt-pro"}, 250).turn
    assert (turn.min_silence_ms, turn.max_silence_ms) == (100, 1000)
    turn = adapter.parse_query(
        {"speech_model": "u3-rt-pro", "mode": "min_latency", "max_turn_silence": "900"}, 250
    ).turn
    assert (turn.min_silence_ms, turn.max_silence_ms) == (128, 900)
    assert adapter.parse_query({"speech_model": "u3-pro"}, 250).model == "u3-rt-pro"
    assert adapter.parse_query({"mode": "nonsense"}, 250).mode is None  # ignored on Universal-Streaming


def test_prompt_keyterms_and_context_reach_the_decoder() -> None:
    import numpy as np

    adapter = V3Adapter()
    stream = adapter.parse_query(
        {"speech_model": "universal-3-6-pro", "prompt": "Names: Sonny.", "keyterms_prompt": '["Kennedy"]',
         "language_codes": '["de", "en"]'}, 250)  # fmt: skip
    settings = Settings(stream_model_multilingual="base", stream_batch_size=1)
    decoder = DecodeScheduler(engine=None, settings=settings)  # type: ignore[arg-type]
    request = DecodeRequest(samples=np.zeros(1600, dtype=np.float32), offset_ms=0, final=True)
    options = decoder.options(request, stream, "How can I help you today?")
    assert options.model == "base" and options.prompt == "Names: Sonny. How can I help you today?"
    assert options.hotwords == ["Kennedy"]
    assert options.language is None and options.language_candidates == ["de", "en"]  # detect among them
    stream.language_codes = ["es"]
    assert decoder.options(request, stream).language == "es"  # one code: decode in it
    assert decoder.options(request, stream, language_hint="de").language_hint is None  # given, not detected
    stream.language_codes = []
    assert decoder.options(request, stream, language_hint="de").language_hint == "de"
    decoder.shutdown()


def test_the_sessions_language_wins_a_short_turns_unsure_detection_but_not_a_clear_one() -> None:
    from server.engine.short_window import _pick_language

    # "Der Kommentator" (0.8 s) after two German turns, as base scored it (docs/benchmarks.md section 3)
    unsure = [("<|en|>", 0.457), ("<|la|>", 0.135), ("<|de|>", 0.101), ("<|nl|>", 0.05)]
    assert _pick_language(unsure, [])[0] == "en"
    language, probability = _pick_language(unsure, [], "de")
    assert language == "de" and 0.5 < probability < 1
    clear = [("<|en|>", 0.93), ("<|de|>", 0.03), ("<|fr|>", 0.01)]  # a turn really in English: code-switch
    assert _pick_language(clear, [], "de")[0] == "en"
    assert _pick_language(unsure, ["en", "la"], "de")[0] == "en"  # the hint is no candidate: no effect


def test_a_client_that_leaves_after_terminate_ends_the_session_at_once(tmp_path: Path) -> None:
    """A decode that takes 30 s must not hold the session (and its slot) once the client is gone."""
    server = ServerProcess(tmp_path, server_env(tmp_path, None, LOCALSCRIBE_MOCK_DELAY_S="30")).start()
    try:
        key = create_key(server, realtime_limit=1)
        with open_ws(ws_url(server, V3, speech_model="universal-3-6-pro"), key) as ws:
            ws.recv(timeout=5)
            for chunk in chunks(JFK[: 16_000 * 2 * 3], 100):
                ws.send(chunk)
            ws.send(json.dumps({"type": "Terminate"}))
        deadline = time.monotonic() + 20  # well before the decode could finish
        outcome = None
        while time.monotonic() < deadline:
            with open_ws(ws_url(server, V3), key) as ws:
                try:
                    outcome = json.loads(ws.recv(timeout=5))["type"]
                except ConnectionClosed:
                    outcome = None
            if outcome == "Begin":
                break
            time.sleep(0.5)
        assert outcome == "Begin"
    finally:
        server.stop(timeout=10)


def test_speaker_labels_stable_across_turns(agent_server: ServerProcess) -> None:
    """Two voices (JFK, then the LJSpeech reader, then JFK again): A, B, B, A; partials UNKNOWN."""
    from tests.support.spec import AUDIO
    from tests.test_streaming import pcm16

    gap = bytes(16_000 * 2 * 3 // 2)
    reader = pcm16(AUDIO / "en_ljspeech_LJ001-0001_to_0032_longform.flac")[: 16_000 * 2 * 8]
    audio = JFK[: 16_000 * 2 * 5] + gap + reader + gap + JFK[16_000 * 2 * 5 :] + gap
    query = {"speech_model": "u3-rt-pro", "speaker_labels": "true", "max_speakers": 2}
    with open_ws(ws_url(agent_server, V3, **query)) as ws:
        ws.recv(timeout=5)
        for chunk in chunks(audio, 100):
            ws.send(chunk)
            time.sleep(0.05)  # twice real time: each pause is seen as one
        ws.send(TERMINATE)
        messages, code, _ = drain(ws, timeout=60)
    assert code == 1000
    turns = of_type(messages, "Turn")
    for turn in turns:
        assert_stream_message(U3P, "TurnPayload", turn)
    ends = [t for t in turns if t["end_of_turn"]]
    labels = [t["speaker_label"] for t in ends]
    assert labels[0] == "A" and labels[-1] == "A" and "B" in labels, labels
    assert all(w["speaker"] == t["speaker_label"] for t in ends for w in t["words"])
    assert all(t["speaker_label"] == "UNKNOWN" for t in turns if not t["end_of_turn"])


def test_short_turns_are_unknown() -> None:
    import numpy as np

    from server.intelligence.stream_speakers import StreamSpeakers

    speakers = StreamSpeakers()
    assert speakers.label(np.zeros(16_000 * 2, dtype=np.float32), 0, [(100, 600), (650, 900)]) == "UNKNOWN"


PII_TEXT = "Hi, my name is John Smith and my phone number is 555-123-4567."


@pytest.fixture(scope="module")
def pii_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("pii")
    proc = ServerProcess(tmp, server_env(tmp, None, LOCALSCRIBE_MOCK_TEXT=PII_TEXT)).start()
    yield proc
    proc.stop(timeout=10)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"redact_pii_policies": '["person_name", "phone_number"]'},
         "Hi, my name is #### ##### and my phone number is ###-###-####."),
        ({"redact_pii_policies": "person_name", "redact_pii_sub": "entity_name"},
         "Hi, my name is [PERSON_NAME] and my phone number is 555-123-4567."),
    ],
)  # fmt: skip
def test_pii_redacted_in_final_turns_only(pii_server: ServerProcess, query: dict, expected: str) -> None:
    """The mock engine says PII_TEXT once per 5.2 s; one forced turn of 6 s holds it whole."""
    frames = [*chunks(JFK[: 16_000 * 2 * 6], 100), TERMINATE]
    for model in ("universal-3-6-pro", "universal-streaming-english"):
        messages = _session(pii_server, frames, speech_model=model, redact_pii="true", format_turns="true",
                            min_turn_silence=5000, max_turn_silence=5000, **query)  # fmt: skip
        turns = of_type(messages, "Turn")
        assert turns and all(t["end_of_turn"] for t in turns)  # include_partial_turns defaults to false
        formatted = [t for t in turns if t["turn_is_formatted"]]
        assert formatted[0]["transcript"].startswith(expected), formatted[0]["transcript"]
        assert all("John" not in t["transcript"] and "john" not in t["transcript"] for t in turns)
    asked = _session(pii_server, frames, speech_model="universal-3-6-pro", redact_pii="true",
                     include_partial_turns="true", **query)  # fmt: skip
    partials = [t for t in of_type(asked, "Turn") if not t["end_of_turn"]]
    assert partials and any("john" in t["transcript"] for t in partials)  # as heard, when asked for


def test_a_reason_too_long_for_the_close_frame_is_in_the_error_frame(agent_server: ServerProcess) -> None:
    text = "{" + "x" * 200
    with open_ws(ws_url(agent_server, V3)) as ws:
        ws.recv(timeout=5)
        ws.send(text)
        messages, code, reason = drain(ws)
    assert (code, reason) == (3006, "See Error message for details")
    assert messages == [{"type": "Error", "error_code": 3006, "error": f"Invalid JSON: {text}"}]
