"""The Dictation API (docs/compatibility.md#dictation-api) through the official SDK's `DictationTranscriber`,
unchanged.

`llm_instruction` is wired to a stub OpenAI-compatible chat server started here on loopback; with no endpoint
configured the transcript still comes back, with `llm_response: null` and an `llm_error` saying why.
"""

from __future__ import annotations

import json
import threading
import time
import wave
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import assemblyai as aai
import httpx
import pytest
from assemblyai.dictation.v1 import api as dictation_api

from server import errors
from tests.conftest import StartServer
from tests.support.server import API_KEY, ServerProcess
from tests.support.spec import AUDIO

TIMIT = AUDIO / "en_timit_LDC93S1.wav"
SCRIPTED = "patient reports mild headache since monday"


@pytest.fixture
def backend() -> str:
    return "sqlite"


def _point_sdk(server: ServerProcess) -> None:
    # CHOICE docs/compatibility.md#dictation-api: the server's own origin
    aai.settings.dictation_base_url = server.url + "/dictation"
    aai.settings.api_key = API_KEY


@pytest.fixture
def dictation(start_server: StartServer) -> Iterator[ServerProcess]:
    server = start_server(LOCALSCRIBE_MOCK_TEXT=SCRIPTED)
    _point_sdk(server)
    yield server
    aai.settings.dictation_base_url = "https://dictation.assemblyai.com"


def _pcm() -> tuple[bytes, int]:
    with wave.open(str(TIMIT)) as w:
        return w.readframes(w.getnframes()), w.getframerate()


def _paced(pcm: bytes, rate: int) -> Iterator[bytes]:
    step = rate * 2 // 20  # 50 ms of mono PCM16
    for i in range(0, len(pcm), step):
        time.sleep(0.05)
        yield pcm[i : i + step]


def _dictate(config: aai.DictationConfig) -> aai.DictationResponse:
    """A WAV file object, read by the SDK as it uploads."""
    with open(TIMIT, "rb") as audio:
        return aai.DictationTranscriber().transcribe_live(audio, config)


def _check_body(server: ServerProcess, config: dict) -> dict:
    """The raw body, for keys the SDK's model would not show."""
    response = httpx.post(
        server.url + "/dictation/v1/transcribe/live",
        files={
            "config": (None, json.dumps(config), "application/json"),
            "audio": ("a.wav", TIMIT.read_bytes()),
        },
        headers={"Authorization": API_KEY},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    aai.DictationResponse.model_validate(body)
    assert set(body) <= set(aai.DictationResponse.model_fields)
    return body


def test_transcribe_live_at_real_time_pace(dictation: ServerProcess) -> None:
    pcm, rate = _pcm()
    config = aai.DictationConfig(
        sample_rate=rate, channels=1, language_codes=["en"], keyterms_prompt=["Monday"]
    )
    result = aai.DictationTranscriber().transcribe_live(_paced(pcm, rate), config)
    assert result.text == SCRIPTED and result.final_text == SCRIPTED
    assert result.llm_response is None and result.llm_error is None  # no instruction, no pass
    assert result.audio_duration_ms == 2924
    assert [w.text for w in result.words] == SCRIPTED.split()
    body = _check_body(dictation, {})
    assert body["sync_time_ms"] <= body["request_time_ms"]


def test_open_live_and_warm(dictation: ServerProcess) -> None:
    pcm, rate = _pcm()
    transcriber = aai.DictationTranscriber()
    assert transcriber.warm() is True
    with transcriber.open_live(aai.DictationConfig(sample_rate=rate, channels=1)) as session:
        for chunk in _paced(pcm, rate):
            session.write(chunk)
    assert session.result().text == SCRIPTED
    transcriber.close()


def test_unknown_config_key_is_rejected(dictation: ServerProcess) -> None:
    # the SDK's own model forbids extra keys; its low-level call posts whatever dict it is given
    with (
        httpx.Client(headers={"Authorization": API_KEY}) as client,
        pytest.raises(aai.DictationError) as caught,
    ):
        dictation_api.transcribe_live(
            client,
            base_url=aai.settings.dictation_base_url,
            chunks=[TIMIT.read_bytes()],
            filename="a.wav",
            audio_content_type="audio/wav",
            config={"prompt": "a sync-only key"},
            timeout=30,
        )
    assert (caught.value.status_code, caught.value.error_code) == (400, "invalid_config")
    assert "prompt" in str(caught.value)


def test_llm_instruction_without_an_endpoint_says_so(dictation: ServerProcess) -> None:
    config = aai.DictationConfig(llm_instruction="Format this as a SOAP note.")
    result = _dictate(config)
    assert result.text == SCRIPTED
    assert result.llm_response is None
    assert result.llm_error == errors.LLM_NOT_CONFIGURED
    assert result.final_text == SCRIPTED


class _ChatStub(BaseHTTPRequestHandler):
    """An OpenAI-compatible `/v1/chat/completions` that upper-cases the text it is given."""

    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _ChatStub.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        text = body["messages"][-1]["content"].split("Text:\n", 1)[1]
        answer = {"choices": [{"index": 0, "message": {"role": "assistant", "content": text.upper()}}]}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def test_llm_instruction_through_a_configured_endpoint(start_server: StartServer) -> None:
    stub = ThreadingHTTPServer(("127.0.0.1", 0), _ChatStub)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    try:
        server = start_server(
            LOCALSCRIBE_MOCK_TEXT=SCRIPTED,
            LOCALSCRIBE_LLM_BASE_URL=f"http://127.0.0.1:{stub.server_port}/v1",
            LOCALSCRIBE_LLM_MODEL="llama-3.2-1b",
            LOCALSCRIBE_LLM_API_KEY="sk-local",
            LOCALSCRIBE_LLM_TIMEOUT_S="10",
        )
        _point_sdk(server)
        config = aai.DictationConfig(llm_instruction="Shout it.", rewrite_mode="smart")
        result = _dictate(config)
        assert result.text == SCRIPTED
        assert (result.llm_response, result.llm_error) == (SCRIPTED.upper(), None)
        assert result.final_text == SCRIPTED.upper()
        request = _ChatStub.seen[-1]
        assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-local"
        assert request["body"]["model"] == "llama-3.2-1b"
        assert "Shout it." in request["body"]["messages"][-1]["content"]
    finally:
        stub.shutdown()
        stub.server_close()  # refused from now on
    # the endpoint gone: the transcript still comes back, the error names the failure
    result = _dictate(config)
    assert result.text == SCRIPTED and result.llm_response is None
    assert result.llm_error is not None and result.llm_error.startswith("llm_instruction failed:")


def test_mock_engine_scripts_the_rewrite(start_server: StartServer) -> None:
    server = start_server(
        LOCALSCRIBE_MOCK_TEXT=SCRIPTED, LOCALSCRIBE_MOCK_REWRITE="Note: {text} ({instruction})"
    )
    _point_sdk(server)
    config = aai.DictationConfig(llm_instruction="tidy")
    result = _dictate(config)
    assert result.llm_response == f"Note: {SCRIPTED} (tidy)"
