"""Real-time streaming through live servers: v2 with raw websockets, v3 with the official SDK and raw frames.

The mock engine answers decodes at once, so these tests check the protocols, limits, tokens and close codes;
tests/test_streaming_real.py checks recognition with the real engine.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from server.media.decode import decode
from tests.conftest import StartServer, create_key
from tests.support.server import API_KEY, ServerProcess, server_env
from tests.support.spec import AUDIO, assert_stream_message

CHUNK_MS = 100


def pcm16(path: Path) -> bytes:
    return (np.clip(decode(path), -1, 1) * 32767).astype("<i2").tobytes()


def chunks(data: bytes, ms: int = CHUNK_MS, sample_rate: int = 16_000) -> list[bytes]:
    size = sample_rate * 2 * ms // 1000
    return [data[i : i + size] for i in range(0, len(data), size)]


JFK = pcm16(AUDIO / "jfk.flac")
SILENCE_100MS = bytes(3200)


@pytest.fixture(scope="module")
def stream_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One mock-engine server for the whole module (SQLite): starting one per test would dominate."""
    tmp = tmp_path_factory.mktemp("streams")
    proc = ServerProcess(tmp, server_env(tmp, None, LOCALSCRIBE_STREAM_IDLE_TIMEOUT_S="1.5")).start()
    yield proc
    proc.stop(timeout=10)


def ws_url(server: ServerProcess, path: str, **query: Any) -> str:
    from urllib.parse import urlencode

    return server.url.replace("http://", "ws://") + path + ("?" + urlencode(query) if query else "")


def open_ws(url: str, key: str | None = API_KEY) -> ClientConnection:
    return connect(url, additional_headers={"Authorization": key} if key else {}, open_timeout=5)


def drain(ws: ClientConnection, timeout: float = 15) -> tuple[list[dict[str, Any]], int | None, str]:
    """Every message until the server closes; then its close code and reason."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            messages.append(json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic()))))
    except ConnectionClosed:
        pass
    except TimeoutError:
        pytest.fail(f"the server did not close the socket; got {messages[-3:]}")
    return messages, ws.close_code, ws.close_reason or ""


def refused(url: str, key: str | None = API_KEY, send: list[bytes | str] | None = None) -> tuple[int, str]:
    with open_ws(url, key) as ws:
        for frame in send or []:
            ws.send(frame)
        _, code, reason = drain(ws)
    assert code is not None
    return code, reason


def of_type(messages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("message_type") == kind or m.get("type") == kind]


# --- v2 ------------------------------------------------------------------------------------------------
V2 = "/v2/realtime/ws"
SR = {"sample_rate": 16000}


def test_v2_session_end_to_end(stream_server: ServerProcess) -> None:
    url = ws_url(stream_server, V2, sample_rate=16000, enable_extra_session_information="true")
    with open_ws(url) as ws:
        begins = json.loads(ws.recv(timeout=5))
        for chunk in chunks(JFK):
            ws.send(chunk)
        ws.send(json.dumps({"terminate_session": True}))
        messages, code, _ = drain(ws)
    assert begins["message_type"] == "SessionBegins"
    assert_stream_message("asyncapi.yml", "SessionBegins", begins)
    uuid.UUID(begins["session_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", begins["expires_at"])
    finals = of_type(messages, "FinalTranscript")
    partials = of_type(messages, "PartialTranscript")
    assert finals and partials
    for final in finals:
        assert_stream_message("asyncapi.yml", "FinalTranscript", final)
        assert final["punctuated"] is True and final["text_formatted"] is True
        assert final["words"] and final["audio_start"] <= final["words"][0]["start"]
    for partial in partials:
        assert_stream_message("asyncapi.yml", "PartialTranscript", partial)
        assert partial["text"] == partial["text"].lower()
    assert [m["message_type"] for m in messages[-2:]] == ["SessionInformation", "SessionTerminated"]
    assert messages[-2]["audio_duration_seconds"] == pytest.approx(len(JFK) / 32000, abs=0.01)
    assert code == 1000


def test_v2_base64_audio_and_no_partials(stream_server: ServerProcess) -> None:
    url = ws_url(stream_server, V2, sample_rate=16000, disable_partial_transcripts="true")
    with open_ws(url) as ws:
        ws.recv(timeout=5)
        for chunk in chunks(JFK):
            ws.send(json.dumps({"audio_data": base64.b64encode(chunk).decode()}))
        ws.send(json.dumps({"terminate_session": True}))
        messages, code, _ = drain(ws)
    assert of_type(messages, "FinalTranscript") and not of_type(messages, "PartialTranscript")
    assert messages[-1] == {"message_type": "SessionTerminated"} and code == 1000


def test_v2_force_end_utterance_and_silence_threshold(stream_server: ServerProcess) -> None:
    with open_ws(ws_url(stream_server, V2, sample_rate=16000)) as ws:
        ws.recv(timeout=5)
        ws.send(json.dumps({"end_utterance_silence_threshold": 20000}))  # no final from silence
        for chunk in chunks(JFK[: 32000 * 3]):
            ws.send(chunk)
        ws.send(json.dumps({"force_end_utterance": True}))
        final = None
        while final is None:
            message = json.loads(ws.recv(timeout=10))
            final = message if message["message_type"] == "FinalTranscript" else None
        assert final["text"]
        ws.send(json.dumps({"terminate_session": True}))
        messages, code, _ = drain(ws)
    assert messages[-1]["message_type"] == "SessionTerminated" and code == 1000


def test_v2_mu_law_at_8khz(stream_server: ServerProcess) -> None:
    samples = decode(AUDIO / "jfk.flac")[::2]  # 8 kHz
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    mu = _mulaw_encode(pcm)
    url = ws_url(stream_server, V2, sample_rate=8000, encoding="pcm_mulaw")
    with open_ws(url) as ws:
        ws.recv(timeout=5)
        for i in range(0, len(mu), 800):  # 100 ms at 8 kHz, one byte per sample
            ws.send(mu[i : i + 800])
        ws.send(json.dumps({"terminate_session": True}))
        messages, code, _ = drain(ws)
    assert of_type(messages, "FinalTranscript") and code == 1000


def _mulaw_encode(pcm: np.ndarray) -> bytes:
    """G.711 µ-law, the textbook formula, independent of the server's decoder."""
    x = np.clip(pcm.astype(np.int32), -32635, 32635)
    sign = np.where(x < 0, 0x80, 0)
    x = np.abs(x) + 0x84
    exponent = np.floor(np.log2(x)).astype(np.int32) - 7
    mantissa = (x >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


@pytest.mark.parametrize(
    ("query", "key", "frames", "code", "reason"),
    [
        ({"sample_rate": 16000}, None, [], 4001, "Not Authorized"),
        ({"sample_rate": 16000}, "wrong-key", [], 4001, "Not Authorized"),
        ({}, API_KEY, [], 4000, "Sample rate must be a positive integer"),
        ({"sample_rate": 0}, API_KEY, [], 4000, "Sample rate must be a positive integer"),
        ({"sample_rate": "abc"}, API_KEY, [], 4000, "Sample rate must be a positive integer"),
        ({**SR, "encoding": "opus"}, API_KEY, [], 4000, "Encoding must be pcm_s16le or pcm_mulaw"),
        ({**SR, "word_boost": "not json"}, API_KEY, [], 4104, "Could not parse word boost parameter"),
        (SR, API_KEY, ["{oops"], 4100, "Endpoint received invalid JSON"),
        (SR, API_KEY, ['{"hello": 1}'], 4101, "Endpoint received a message with an invalid schema"),
        ({"sample_rate": 16000}, API_KEY, ['{"end_utterance_silence_threshold": 30000}'], 4101, None),
        ({"sample_rate": 16000}, API_KEY, [bytes(1600), bytes(3200)], 4032, "Audio duration is too short"),
        ({"sample_rate": 16000}, API_KEY, [bytes(3200 * 21)], 4033, "Audio duration is too long"),
    ],
)  # fmt: skip
def test_v2_close_codes(
    stream_server: ServerProcess, query: dict, key: str | None, frames: list, code: int, reason: str | None
) -> None:
    got_code, got_reason = refused(ws_url(stream_server, V2, **query), key, frames)
    assert got_code == code
    if reason is not None:
        assert got_reason == reason


def test_v2_short_last_chunk_before_terminate_is_fine(stream_server: ServerProcess) -> None:
    with open_ws(ws_url(stream_server, V2, sample_rate=16000)) as ws:
        ws.recv(timeout=5)
        ws.send(bytes(3200))
        ws.send(bytes(640))  # 20 ms, the tail of the recording
        ws.send(json.dumps({"terminate_session": True}))
        messages, code, _ = drain(ws)
    assert messages[-1]["message_type"] == "SessionTerminated" and code == 1000


def test_v2_audio_faster_than_real_time_is_cut(stream_server: ServerProcess) -> None:
    with open_ws(ws_url(stream_server, V2, sample_rate=16000)) as ws:
        ws.recv(timeout=5)
        with pytest.raises(ConnectionClosed):
            for _ in range(10 * 65):  # 65 s of audio at once: more than a minute ahead of real time
                ws.send(SILENCE_100MS)
            while True:
                ws.recv(timeout=10)
    assert (ws.close_code, ws.close_reason) == (4029, "Client sent audio too fast")


def test_v2_idle_session_is_closed(stream_server: ServerProcess) -> None:
    with open_ws(ws_url(stream_server, V2, sample_rate=16000)) as ws:
        ws.recv(timeout=5)
        _, code, reason = drain(ws, timeout=10)
    assert (code, reason) == (4031, "Session idle for too long")


def test_free_tier_is_refused_on_both_protocols(stream_server: ServerProcess) -> None:
    free = create_key(stream_server, tier="free")
    with open_ws(ws_url(stream_server, V2, sample_rate=16000), free) as ws:
        messages, code, reason = drain(ws)
    paid_only = (
        "This feature is paid-only and requires you to add a credit card. "
        "Please visit https://app.assemblyai.com/ to add a credit card to your account"
    )
    assert messages == [{"error": paid_only}]
    assert (code, reason) == (4003, "This feature is paid-only and requires you to add a credit card.")
    code, reason = refused(ws_url(stream_server, V3), free)
    assert code == 1008 and reason.startswith("Unauthorized Connection: This feature is paid-only")


# --- limits --------------------------------------------------------------------------------------------


def test_stream_limit_counts_both_protocols_and_frees_slots_at_once(start_server: StartServer) -> None:
    server = start_server()
    key = create_key(server, realtime_limit=2)
    with ExitStack() as stack:
        first = stack.enter_context(open_ws(ws_url(server, V2, sample_rate=16000), key))
        second = stack.enter_context(open_ws(ws_url(server, V3), key))
        assert json.loads(first.recv(timeout=5))["message_type"] == "SessionBegins"
        assert json.loads(second.recv(timeout=5))["type"] == "Begin"
        assert refused(ws_url(server, V2, sample_rate=16000), key) == (
            4102,
            "This account has exceeded the number of allowed streams",
        )
        too_many = (3009, "Unauthorized Connection: Too many concurrent sessions")
        assert refused(ws_url(server, V3), key) == too_many
        # The default account is not affected by another account's streams.
        with open_ws(ws_url(server, V3)) as other:
            assert json.loads(other.recv(timeout=5))["type"] == "Begin"
        first.close()  # a client that leaves without terminating frees its slot at once
        second.send(json.dumps({"type": "Terminate"}))
        drain(second)
    time.sleep(0.5)
    with open_ws(ws_url(server, V2, sample_rate=16000), key) as again:
        assert json.loads(again.recv(timeout=5))["message_type"] == "SessionBegins"
    with open_ws(ws_url(server, V3), key) as again:
        assert json.loads(again.recv(timeout=5))["type"] == "Begin"


def test_concurrent_admission_never_exceeds_the_limit(stream_server: ServerProcess) -> None:
    key = create_key(stream_server, realtime_limit=3)
    outcomes: list[str] = []
    lock = threading.Lock()
    with ExitStack() as stack:

        def attempt() -> None:
            ws = open_ws(ws_url(stream_server, V3), key)
            with lock:
                stack.enter_context(ws)
            try:
                first = json.loads(ws.recv(timeout=10))
                # a refusal comes as an Error frame with the close code, then the close
                # (docs/compatibility.md#v3-close-codes)
                outcome = str(first["error_code"]) if first["type"] == "Error" else first["type"]
            except ConnectionClosed:
                outcome = str(ws.close_code)
            with lock:
                outcomes.append(outcome)

        threads = [threading.Thread(target=attempt) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(outcomes) == ["3009"] * 5 + ["Begin"] * 3


# --- tokens --------------------------------------------------------------------------------------------


def test_v2_temporary_token_is_single_use(stream_server: ServerProcess) -> None:
    response = httpx.post(
        f"{stream_server.url}/v2/realtime/token", json={"expires_in": 60}, headers={"Authorization": API_KEY}
    )
    assert response.status_code == 200 and set(response.json()) == {"token"}
    token = response.json()["token"]
    with open_ws(ws_url(stream_server, V2, sample_rate=16000, token=token), key=None) as ws:
        assert json.loads(ws.recv(timeout=5))["message_type"] == "SessionBegins"
        ws.send(json.dumps({"terminate_session": True}))
        drain(ws)
    assert refused(ws_url(stream_server, V2, sample_rate=16000, token=token), key=None) == (
        4001,
        "Not Authorized",
    )


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"expires_in": 59}, 400, "expires_in must be between 60 and 360000"),
        ({"expires_in": 360001}, 400, "expires_in must be between 60 and 360000"),
        ({"expires_in": "soon"}, 400, "expires_in must be between 60 and 360000"),
        ({}, 400, "expires_in must be between 60 and 360000"),
    ],
)
def test_v2_token_request_errors(stream_server: ServerProcess, body: dict, status: int, error: str) -> None:
    url = f"{stream_server.url}/v2/realtime/token"
    response = httpx.post(url, json=body, headers={"Authorization": API_KEY})
    assert (response.status_code, response.json()) == (status, {"error": error})
    response = httpx.post(url, json={"expires_in": 60})
    assert (response.status_code, response.json()) == (
        401,
        {"error": "Authentication error, API token missing/invalid"},
    )


def test_v3_token_in_header_or_query_single_use_and_expiring(stream_server: ServerProcess) -> None:
    def token(**query: Any) -> httpx.Response:
        return httpx.get(f"{stream_server.url}/v3/token", params=query, headers={"Authorization": API_KEY})

    issued = token(expires_in_seconds=60)
    assert issued.status_code == 200 and issued.json()["expires_in_seconds"] == 60
    header_token = issued.json()["token"]
    with open_ws(ws_url(stream_server, V3), key=header_token) as ws:  # how the Python SDK sends it
        assert json.loads(ws.recv(timeout=5))["type"] == "Begin"
    query_token = token(expires_in_seconds=60, max_session_duration_seconds=600).json()["token"]
    with open_ws(ws_url(stream_server, V3, token=query_token), key=None) as ws:  # how the JS SDK sends it
        begin = json.loads(ws.recv(timeout=5))
        assert begin["expires_at"] == pytest.approx(time.time() + 600, abs=5)
    assert refused(ws_url(stream_server, V3, token=query_token), key=None) == (
        1008,
        "Unauthorized Connection: Invalid API key or token",
    )
    short = token(expires_in_seconds=1).json()["token"]
    time.sleep(1.3)
    assert refused(ws_url(stream_server, V3, token=short), key=None)[0] == 1008


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"expires_in_seconds": 0}, "expires_in_seconds must be between 1 and 600"),
        ({"expires_in_seconds": 601}, "expires_in_seconds must be between 1 and 600"),
        ({}, "expires_in_seconds must be between 1 and 600"),
        ({"expires_in_seconds": 60, "max_session_duration_seconds": 59},
         "max_session_duration_seconds must be between 60 and 10800"),
    ],
)  # fmt: skip
def test_v3_token_request_errors(stream_server: ServerProcess, query: dict, error: str) -> None:
    response = httpx.get(f"{stream_server.url}/v3/token", params=query, headers={"Authorization": API_KEY})
    assert (response.status_code, response.json()) == (400, {"error": error})


# --- v3 ------------------------------------------------------------------------------------------------
V3 = "/v3/ws"


def test_v3_sdk_streaming_client(stream_server: ServerProcess) -> None:
    from assemblyai.streaming.v3 import (
        StreamingClient,
        StreamingClientOptions,
        StreamingEvents,
        StreamingParameters,
    )

    events: dict[str, list[Any]] = {"begin": [], "turn": [], "termination": [], "error": []}
    client = StreamingClient(
        StreamingClientOptions(api_key=API_KEY, api_host=stream_server.url.replace("http://", "ws://"))
    )
    client.on(StreamingEvents.Begin, lambda _, e: events["begin"].append(e))
    client.on(StreamingEvents.Turn, lambda _, e: events["turn"].append(e))
    client.on(StreamingEvents.Termination, lambda _, e: events["termination"].append(e))
    client.on(StreamingEvents.Error, lambda _, e: events["error"].append(e))
    client.connect(StreamingParameters(sample_rate=16000, format_turns=True))
    client.stream(iter(chunks(JFK)))
    client.disconnect(terminate=True)
    assert not events["error"]
    assert len(events["begin"]) == 1 and len(events["termination"]) == 1
    assert events["termination"][0].audio_duration_seconds == 11
    ends = [t for t in events["turn"] if t.end_of_turn]
    assert ends and all(t.words for t in ends)
    formatted = [t for t in ends if t.turn_is_formatted]
    assert len(formatted) == len(ends) / 2  # format_turns: each end of turn comes twice, raw then formatted


def test_v3_messages_match_the_spec_and_turn_rules(stream_server: ServerProcess) -> None:
    with open_ws(ws_url(stream_server, V3, sample_rate=16000, format_turns="True")) as ws:
        begin = json.loads(ws.recv(timeout=5))
        for chunk in chunks(JFK):
            ws.send(chunk)
        ws.send(json.dumps({"type": "KeepAlive"}))
        update = {"type": "UpdateConfiguration", "max_turn_silence": 2000, "keyterms_prompt": ["JFK"]}
        ws.send(json.dumps(update))
        ws.send(json.dumps({"type": "Terminate"}))
        messages, code, _ = drain(ws)
    assert_stream_message("usm-streaming.yml", "SessionBeginsPayload", begin)
    turns = of_type(messages, "Turn")
    for turn in turns:
        assert_stream_message("usm-streaming.yml", "TurnPayload", turn)
    ends = [t for t in turns if t["end_of_turn"]]
    raw, formatted = ends[0::2], ends[1::2]
    assert [t["turn_is_formatted"] for t in raw] == [False] * len(raw)
    assert [t["turn_is_formatted"] for t in formatted] == [True] * len(formatted)
    assert [t["turn_order"] for t in raw] == [t["turn_order"] for t in formatted] == list(range(len(raw)))
    for turn in turns:  # transcript = the finalized words; words may end with the word in progress
        if not turn["turn_is_formatted"]:
            assert turn["transcript"] == " ".join(w["text"] for w in turn["words"] if w["word_is_final"])
    termination = messages[-1]
    assert_stream_message("usm-streaming.yml", "TerminationPayload", termination)
    assert termination["audio_duration_seconds"] == 11 and code == 1000


def test_v3_force_endpoint(stream_server: ServerProcess) -> None:
    with open_ws(ws_url(stream_server, V3, max_turn_silence=10000, min_turn_silence=10000)) as ws:
        ws.recv(timeout=5)
        for chunk in chunks(JFK[: 32000 * 3]):
            ws.send(chunk)
        ws.send(json.dumps({"type": "ForceEndpoint"}))
        end = None
        while end is None:
            message = json.loads(ws.recv(timeout=10))
            end = message if message.get("end_of_turn") else None
        assert end["transcript"] and end["turn_order"] == 0
        ws.send(json.dumps({"type": "Terminate"}))
        messages, code, _ = drain(ws)
    assert messages[-1]["type"] == "Termination" and code == 1000


@pytest.mark.parametrize(
    ("query", "key", "frames", "code", "reason"),
    [
        ({}, None, [], 1008, "Unauthorized Connection: Missing Authorization header"),
        ({}, "wrong-key", [], 1008, "Unauthorized Connection: Invalid API key or token"),
        ({"encoding": "opus"}, API_KEY, [], 3006, "Invalid Message: Unsupported encoding: opus"),
        ({"keyterms_prompt": json.dumps(["x"] * 101)}, API_KEY, [], 3006,
         "Invalid Message: keyterms_prompt exceeds 100 terms"),
        ({"end_of_turn_confidence_threshold": 2}, API_KEY, [], 3006, None),
        ({}, API_KEY, ["{oops"], 3006, "Invalid JSON: {oops"),
        ({}, API_KEY, ['{"type": "Dance"}'], 3006, "Invalid Message Type: Dance"),
        ({}, API_KEY, ["[]"], 3006, "Invalid Message: []"),
        ({}, API_KEY, [bytes(640), bytes(3200)], 3007,
         "Input duration violation: 20 ms. Expected between 50 and 1000 ms"),
        ({}, API_KEY, [bytes(32000 * 2)], 3007,
         "Input duration violation: 2000 ms. Expected between 50 and 1000 ms"),
    ],
)  # fmt: skip
def test_v3_close_codes(
    stream_server: ServerProcess, query: dict, key: str | None, frames: list, code: int, reason: str | None
) -> None:
    got_code, got_reason = refused(ws_url(stream_server, V3, **query), key, frames)
    assert got_code == code
    if reason is not None:
        assert got_reason == reason


def test_v3_inactivity_timeout_ends_gracefully(stream_server: ServerProcess) -> None:
    with open_ws(ws_url(stream_server, V3, inactivity_timeout=5)) as ws:
        ws.recv(timeout=5)
        started = time.monotonic()
        messages, code, _ = drain(ws, timeout=15)
    assert time.monotonic() - started >= 4.5
    assert messages[-1]["type"] == "Termination" and code == 1000


def test_sessions_expire(start_server: StartServer) -> None:
    server = start_server(LOCALSCRIBE_STREAM_MAX_SESSION_S="2")
    for path, query, expected in (
        (V2, {"sample_rate": 16000}, (4008, "Session Expired")),
        (V3, {}, (3008, "Session Expired: Maximum session duration exceeded")),
    ):
        with open_ws(ws_url(server, path, **query)) as ws:
            ws.recv(timeout=5)
            with pytest.raises(ConnectionClosed):
                for _ in range(60):
                    ws.send(SILENCE_100MS)
                    time.sleep(0.1)
        assert (ws.close_code, ws.close_reason) == expected


def test_a_slow_decode_never_blocks_other_sockets(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, server_env(tmp_path, None, LOCALSCRIBE_MOCK_DELAY_S="3")).start()
    try:
        _two_sockets_while_one_decodes(server)  # every decode takes 3 s
    finally:
        server.stop(timeout=10)


def _two_sockets_while_one_decodes(server: ServerProcess) -> None:
    with open_ws(ws_url(server, V3)) as busy:
        busy.recv(timeout=5)
        for chunk in chunks(JFK[: 32000 * 2]):
            busy.send(chunk)
        time.sleep(0.5)  # a decode of the busy session is now running
        with open_ws(ws_url(server, V2, sample_rate=16000)) as other:
            assert json.loads(other.recv(timeout=5))["message_type"] == "SessionBegins"
            other.send(json.dumps({"terminate_session": True}))
            assert drain(other)[0][-1] == {"message_type": "SessionTerminated"}
        with pytest.raises(TimeoutError):
            busy.recv(timeout=0.1)  # while the other session began and ended, this one's decode still ran
        assert json.loads(busy.recv(timeout=10))["type"] == "Turn"


def test_v3_keep_alive_holds_off_the_inactivity_timeout(stream_server: ServerProcess) -> None:
    with open_ws(ws_url(stream_server, V3, inactivity_timeout=5)) as ws:
        ws.recv(timeout=5)
        for _ in range(7):  # 7 s, longer than the timeout, without audio
            ws.send(json.dumps({"type": "KeepAlive"}))
            with pytest.raises(TimeoutError):
                ws.recv(timeout=1)  # nothing: the session is still open
        ws.send(json.dumps({"type": "Terminate"}))
        messages, code, _ = drain(ws)
    assert [m["type"] for m in messages] == ["Termination"] and code == 1000
