"""`localscribe transcribe|get|list|delete|config` against a live mock-engine server, as a user runs it."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from server.cli import _client_config as cfg
from server.cli import _render as render
from server.cli._api import EXIT_AUTH, EXIT_JOB_FAILED, EXIT_UNREACHABLE, Api, ClientError
from server.cli.main import app
from tests.support.files import file_server
from tests.support.server import API_KEY, ServerProcess, free_port

Cli = Callable[..., Result]
CLIENT_ENVS = ("LOCALSCRIBE_CLIENT_SERVER", "LOCALSCRIBE_CLIENT_KEY", "ASSEMBLYAI_API_KEY")


@pytest.fixture
def backend() -> str:
    """SQLite only: the client sees HTTP, never the database, and the API tests cover PostgreSQL."""
    return "sqlite"


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private config file, and none of the developer's own client variables."""
    path = tmp_path / "client" / "config.json"
    monkeypatch.setenv(cfg.CONFIG_ENV, str(path))
    for name in CLIENT_ENVS:
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def cli(config_file: Path) -> Cli:
    """Run `localscribe ARGS…` in-process; keyword arguments become environment variables."""
    runner = CliRunner()

    def run(*args: str, **env: str) -> Result:
        return runner.invoke(app, list(args), env={"COLUMNS": "200", **env})

    return run


@pytest.fixture
def configured(cli: Cli, server: ServerProcess) -> Cli:
    """The CLI after `localscribe config --server URL --key KEY`, as the README tells users to start."""
    result = cli("config", "--server", server.url + "/", "--key", API_KEY)
    assert result.exit_code == 0, result.output
    return cli


def test_config_is_stored_and_flags_and_environment_override_it(cli: Cli, config_file: Path) -> None:
    assert cfg.resolve().server == cfg.Setting(cfg.DEFAULT_SERVER, "default")
    assert cli("config", "--server", "http://stored:1/", "--key", "stored-key").exit_code == 0
    assert json.loads(config_file.read_text()) == {"server": "http://stored:1", "key": "stored-key"}
    assert config_file.stat().st_mode & 0o077 == 0  # a key: owner only

    assert cfg.resolve() == cfg.ClientConfig(
        cfg.Setting("http://stored:1", "config file"), cfg.Setting("stored-key", "config file")
    )
    env = {
        cfg.CONFIG_ENV: str(config_file),
        "ASSEMBLYAI_API_KEY": "aai-key",
        "LOCALSCRIBE_CLIENT_SERVER": "http://env:2",
    }
    assert cfg.resolve(env=env) == cfg.ClientConfig(
        cfg.Setting("http://env:2", "$LOCALSCRIBE_CLIENT_SERVER"),
        cfg.Setting("aai-key", "$ASSEMBLYAI_API_KEY"),
    )
    env["LOCALSCRIBE_CLIENT_KEY"] = "client-key"
    assert cfg.resolve(env=env).key == cfg.Setting("client-key", "$LOCALSCRIBE_CLIENT_KEY")
    flags = cfg.resolve("http://flag:3", "flag-key", env=env)
    assert (flags.server.value, flags.key.value) == ("http://flag:3", "flag-key")

    shown = cli("config", LOCALSCRIBE_CLIENT_SERVER="http://env:2")
    assert shown.exit_code == 0
    assert "http://env:2" in shown.stdout and "$LOCALSCRIBE_CLIENT_SERVER" in shown.stdout
    assert "stored-key" not in shown.stdout and "stor…" in shown.stdout  # the key is masked

    assert cli("config", "--server", "localhost:8000").exit_code == 2  # refused, nothing stored
    assert cli("config", "--key", "").exit_code == 0  # "" forgets a stored value
    assert json.loads(config_file.read_text()) == {"server": "http://stored:1"}
    config_file.write_text("{not json")
    broken = cli("list")
    assert broken.exit_code == 2 and "cannot read" in broken.stderr


def test_transcribes_a_file_in_each_output_format(configured: Cli, jfk: Path) -> None:
    text = configured("transcribe", str(jfk))
    assert text.exit_code == 0, text.output
    assert text.stdout.startswith("The quick brown fox")
    assert "uploading" in text.stderr and "completed" not in text.stdout

    as_json = configured("transcribe", str(jfk), "--json", "--no-format-text", "--no_punctuate")
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.stdout)
    assert body["status"] == "completed" and body["audio_url"].startswith(("http://", "https://"))
    assert body["punctuate"] is False and body["format_text"] is False  # dashed and underscore spellings
    assert not any(ch in body["text"] for ch in ".,?!")

    srt = configured("transcribe", str(jfk), "--srt")
    assert srt.exit_code == 0, srt.output
    assert srt.stdout.startswith("1\n00:00:00,") and " --> " in srt.stdout

    vtt = configured("transcribe", str(jfk), "--vtt")
    assert vtt.exit_code == 0, vtt.output
    assert vtt.stdout.startswith("WEBVTT") and "The quick brown fox" in vtt.stdout

    both = configured("transcribe", str(jfk), "--srt", "--json")
    assert both.exit_code == 2 and "choose one of --json, --srt" in both.stderr


def test_request_options_reach_the_api(configured: Cli, jfk: Path) -> None:
    result = configured(
        "transcribe", str(jfk), "--no-poll", "--json", "--language_code", "en_us",
        "--keyterms-prompt", "fox", "--keyterms_prompt", "lazy dog",
        "--param", "language_confidence_threshold=0.5", "--param", 'speech_models=["universal-2"]',
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["status"] == "queued" and created["language_code"] == "en_us"
    assert created["keyterms_prompt"] == ["fox", "lazy dog"]
    assert created["language_confidence_threshold"] == 0.5 and created["speech_models"] == ["universal-2"]

    refused = configured("transcribe", str(jfk), "--language_code", "xx")
    assert refused.exit_code == 1 and "Invalid language_code: xx (HTTP 400)" in refused.stderr
    boost = configured("transcribe", str(jfk), "--word-boost", "fox", "--word_boost", "\U0001f1f8\U0001f1ec")
    assert boost.exit_code == 1 and "included in the word boost list" in boost.stderr
    bad_param = configured("transcribe", str(jfk), "--param", "no_equals_sign")
    assert bad_param.exit_code == 2 and "expected KEY=VALUE" in bad_param.stderr


def test_no_poll_then_get_list_and_delete(configured: Cli, jfk: Path) -> None:
    created = configured("transcribe", str(jfk), "--no-poll")
    assert created.exit_code == 0, created.output
    tid = created.stdout.strip()
    assert uuid.UUID(tid)

    got = configured("get", tid)  # waits for the job by default
    assert got.exit_code == 0, got.output
    assert got.stdout.startswith("The quick brown fox")
    again = json.loads(configured("get", tid, "--no-poll", "--json").stdout)
    assert again["id"] == tid and again["status"] == "completed"
    assert configured("get", tid, "--srt").stdout.startswith("1\n")

    listed = configured("list")
    assert listed.exit_code == 0, listed.output
    assert tid in listed.stdout and "completed" in listed.stdout and "/v2/upload/" in listed.stdout
    page = json.loads(configured("list", "--status", "completed", "--limit", "1", "--json").stdout)
    assert [t["id"] for t in page["transcripts"]] == [tid] and page["page_details"]["limit"] == 1
    assert configured("list", "--limit", "0").exit_code == 2

    deleted = configured("delete", tid)
    assert deleted.exit_code == 0, deleted.output
    assert deleted.stdout.strip() == f"deleted {tid}"
    gone = json.loads(configured("get", tid, "--json").stdout)
    assert gone["text"] == "Deleted by user." and gone["audio_url"] == "http://deleted_by_user"

    unknown = configured("get", str(uuid.uuid4()))
    assert unknown.exit_code == 1
    assert "Transcript lookup error, transcript id not found (HTTP 400)" in unknown.stderr
    assert unknown.stdout == ""


def test_bad_key_shows_the_api_error(cli: Cli, server: ServerProcess, jfk: Path) -> None:
    ok = cli("list", "--server", server.url, ASSEMBLYAI_API_KEY=API_KEY)  # AssemblyAI's variable works
    assert ok.exit_code == 0, ok.output
    bad = cli("transcribe", str(jfk), "--server", server.url, "--key", "wrong", ASSEMBLYAI_API_KEY=API_KEY)
    assert bad.exit_code == EXIT_AUTH
    assert "Authentication error, API token missing/invalid (HTTP 401)" in bad.stderr
    assert "--key" in bad.stderr and bad.stdout == ""
    missing = cli("get", str(uuid.uuid4()), "--server", server.url)
    assert missing.exit_code == EXIT_AUTH and "API token missing/invalid" in missing.stderr


def test_jobs_that_end_in_error_exit_non_zero(configured: Cli, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/gone.wav"  # nothing listens there
    failed = configured("transcribe", url)
    assert failed.exit_code == EXIT_JOB_FAILED
    assert "failed: Download error" in failed.stderr and url in failed.stderr

    noise = tmp_path / "noise.wav"
    noise.write_bytes(b"this is not audio at all" * 100)
    as_json = configured("transcribe", str(noise), "--json")
    assert as_json.exit_code == EXIT_JOB_FAILED
    assert json.loads(as_json.stdout)["status"] == "error"  # --json still prints the final body
    assert "does not appear to contain audio" in as_json.stderr

    absent = configured("transcribe", str(tmp_path / "absent.flac"))
    assert absent.exit_code == 2 and "no such file" in absent.stderr


def test_entry_point_reports_an_unreachable_server(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("localscribe")
    env = {cfg.CONFIG_ENV: str(tmp_path / "config.json"), "PATH": str(exe.parent), "COLUMNS": "200"}
    url = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [str(exe), "list", "--server", url, "--key", "k"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == EXIT_UNREACHABLE
    assert f"cannot reach LocalScribe at {url}" in done.stderr and done.stdout == ""


def test_something_else_answering_is_reported(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "site" / "v2").mkdir(parents=True)
    (tmp_path / "site" / "v2" / "transcript").write_text("<html>not an API</html>")
    with file_server(tmp_path / "site") as url:
        html = cli("list", "--server", url, "--key", "k")
        missing = cli("get", str(uuid.uuid4()), "--server", url, "--key", "k")
    assert html.exit_code == 1 and "did not answer GET /v2/transcript with the API's JSON" in html.stderr
    assert missing.exit_code == 1 and "(HTTP 404)" in missing.stderr


def test_waiting_rides_out_a_server_restart() -> None:
    answers: list[object] = [
        httpx.ConnectError("refused"),
        httpx.ConnectError("refused"),
        "processing",
        "completed",
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(200, json={"id": "t1", "status": answer})

    seen: list[str] = []
    with Api("http://ls.test", "k", transport=httpx.MockTransport(handler)) as api:
        done = api.wait("t1", on_status=seen.append, first_interval_s=0, max_interval_s=0)
    assert done["status"] == "completed" and not answers
    assert seen == ["server not answering, retrying"] * 2 + ["processing", "completed"]

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with (
        Api("http://ls.test", "k", transport=httpx.MockTransport(down)) as api,
        pytest.raises(ClientError) as exc,
    ):
        api.wait("t1", first_interval_s=0, max_interval_s=0)
    assert (
        exc.value.exit_code == EXIT_UNREACHABLE
        and "cannot reach LocalScribe at http://ls.test" in exc.value.message
    )


# a completed transcript with speaker labels and highlights, in the API's shape
# (docs/compatibility.md#transcript-object, #intelligence)
DIARIZED = {
    "id": "5551722-f677-48a6-9287-39c0aafd9ac1",
    "status": "completed",
    "text": "Hi, is this [inaudible] support? Yes. How can I help?",
    "utterances": [
        {
            "speaker": "A",
            "text": "Hi, is this [inaudible] support?",
            "start": 0,
            "end": 1800,
            "confidence": 0.9,
        },
        {"speaker": "B", "text": "Yes. How can I help?", "start": 2000, "end": 3500, "confidence": 0.95},
    ],
    "auto_highlights": True,
    "auto_highlights_result": {
        "status": "success",
        "results": [
            {"count": 1, "rank": 0.04, "text": "help", "timestamps": [{"start": 3000, "end": 3500}]},
            {"count": 2, "rank": 0.08, "text": "support", "timestamps": [{"start": 900, "end": 1800}]},
        ],
    },
}


def _plain(renderable: object) -> str:
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_speakers_and_highlights_layout() -> None:
    assert render.transcript_text(DIARIZED) == (
        "Speaker A: Hi, is this [inaudible] support?\nSpeaker B: Yes. How can I help?"
    )
    assert render.transcript_text({**DIARIZED, "utterances": None}) == DIARIZED["text"]
    assert render.speaker_name({"speaker": None, "channel": "2"}) == "Channel 2"

    [table] = render.extras(DIARIZED)
    lines = [line for line in _plain(table).splitlines() if "support" in line or "help" in line]
    assert "support" in lines[0] and "0.08" in lines[0] and "help" in lines[1]  # most relevant first
    unavailable = {**DIARIZED, "auto_highlights_result": {"status": "unavailable", "results": []}}
    assert "unavailable" in _plain(render.extras(unavailable)[0])
    assert render.extras({**DIARIZED, "auto_highlights": False}) == []
    assert render.clock(3_725_000) == "1:02:05" and render.clock(65_000) == "01:05"


def test_text_output_prints_utterances_and_tables(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """The `get` command's text layout for a diarized transcript, without a diarizing server."""
    monkeypatch.setattr(Api, "get", lambda self, tid: DIARIZED)
    result = cli("get", DIARIZED["id"], "--key", "k")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Speaker A: Hi, is this [inaudible] support?\nSpeaker B: Yes.")
    assert "Highlights" in result.stdout and "0.08" in result.stdout


def test_list_table_keeps_ids_whole_on_a_narrow_terminal() -> None:
    tid = "43ad271b-286a-467c-8931-8f271cdf2c4f"
    page = {
        "transcripts": [
            {
                "id": tid,
                "status": "completed",
                "created": "2026-11-25T14:21:50.123456",
                "audio_url": "http://127.0.0.1:8765/v2/upload/" + "a" * 40,
            }
        ]
    }
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(render.transcript_list(page))
    [row] = [line for line in console.export_text().splitlines() if tid in line]
    assert "completed" in row and "2026-11-25 14:21" in row and "http:/" in row


@pytest.mark.real
def test_real_engine_transcribes_jfk_through_the_cli(cli: Cli, start_server: Callable, jfk: Path) -> None:
    server = start_server(
        LOCALSCRIBE_ENGINE="whisper",
        LOCALSCRIBE_WORKERS="1",
        LOCALSCRIBE_MODELS_DIR=str(Path(__file__).resolve().parents[1] / "models"),
    )
    result = cli("transcribe", str(jfk), "--speech_models", "nano", "--server", server.url, "--key", API_KEY)
    assert result.exit_code == 0, result.output
    assert "ask not what your country can do for you" in result.stdout.lower()
