"""The playground in a real browser: Debian's chromium, headless, driven by playwright-core under node's
test runner (tests/browser/*.test.mjs). Each test here starts a server and runs one scenario file.

Needs `chromium` (Debian package) and `npm ci` in tests/browser; skipped with the reason otherwise.
Screenshots go to a temporary folder, or to docs/ with LOCALSCRIBE_PLAYGROUND_SHOTS=docs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import StartServer, create_key
from tests.support.files import file_server
from tests.support.server import API_KEY, ServerProcess
from tests.support.spec import AUDIO

ROOT = Path(__file__).resolve().parents[1]
BROWSER_DIR = ROOT / "tests" / "browser"
CHROMIUM = os.environ.get("LS_CHROMIUM", "/usr/bin/chromium")
JFK = AUDIO / "jfk.flac"


def _missing() -> str | None:
    if not Path(CHROMIUM).is_file():
        return f"{CHROMIUM} missing (apt-get install chromium)"
    if shutil.which("node") is None:
        return "node missing"
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        return "tests/browser/node_modules missing (cd tests/browser && npm ci)"
    if not JFK.is_file():
        return f"{JFK} missing"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")


@pytest.fixture
def backend() -> str:
    """The browser does not care which database is behind the API: SQLite only."""
    return "sqlite"


def run_scenario(
    server: ServerProcess, script: str, tmp_path: Path, timeout: float = 240, **extra: str
) -> str:
    shots = ROOT / "docs" if os.environ.get("LOCALSCRIBE_PLAYGROUND_SHOTS") == "docs" else tmp_path / "shots"
    env = {
        **os.environ,
        "LS_BASE_URL": server.url,
        "LS_API_KEY": API_KEY,
        "LS_AUDIO": str(JFK),
        "LS_STEREO": str(AUDIO / "stereo_diarization.wav"),
        "LS_SCREENSHOTS": str(shots),
        "LS_CHROMIUM": CHROMIUM,
        **extra,
    }
    proc = subprocess.run(
        ["node", "--test", "--test-reporter=spec", script],
        cwd=BROWSER_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    out = proc.stdout + proc.stderr
    print(out)
    assert proc.returncode == 0, f"{script} failed:\n{out}\n--- server log ---\n{server.log()[-4000:]}"
    return out


# The mock engine says this over jfk.flac: a name and a place give PII and entities something to find.
MOCK_TEXT = (
    "My name is John Smith and I live in Boston. And so, my fellow Americans, ask not what your country "
    "can do for you, ask what you can do for your country."
)


def test_upload_words_seek_downloads_and_jobs(start_server: StartServer, tmp_path: Path) -> None:
    server = start_server(LOCALSCRIBE_MOCK_TEXT=MOCK_TEXT)
    with file_server(AUDIO) as files:
        out = run_scenario(
            server, "playground.test.mjs", tmp_path, LS_EXPECT_PII="1", LS_AUDIO_URL=f"{files}/jfk.flac"
        )
    assert "PAGE_WEIGHT" in out and "FIRST_WORD_MS" in out


def test_throttled_job_shows_its_queue_position(start_server: StartServer, tmp_path: Path) -> None:
    server = start_server(LOCALSCRIBE_MOCK_DELAY_S="4", LOCALSCRIBE_WORKERS="2")
    key = create_key(server, async_limit=1)
    with httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=30) as c:
        upload_url = c.post("/v2/upload", content=JFK.read_bytes()).json()["upload_url"]
        ids = [c.post("/v2/transcript", json={"audio_url": upload_url}).json()["id"] for _ in range(4)]
    out = run_scenario(server, "queue.test.mjs", tmp_path, LS_API_KEY=key, LS_QUEUED_IDS=",".join(ids))
    assert "ℹ pass 1" in out


def _fake_mic_wav(tmp_path: Path) -> Path:
    """jfk.flac as 16 kHz mono PCM16 WAV (what Chromium's fake capture reads), with a pause after it."""
    from server.media.decode import decode
    from server.media.encode import write_audio

    samples = decode(JFK, sample_rate=16000)
    padded = np.concatenate([samples, np.zeros(16000 * 3, dtype=np.float32)])
    return write_audio(padded, 16000, tmp_path / "mic.wav")


def test_live_microphone_over_v3(server: ServerProcess, tmp_path: Path) -> None:
    r = httpx.get(
        f"{server.url}/v3/token", params={"expires_in_seconds": 60}, headers={"Authorization": API_KEY}
    )
    if r.status_code == 404:
        pytest.skip("this server has no /v3/token yet (streaming not installed)")
    assert r.status_code == 200, r.text
    run_scenario(server, "live.test.mjs", tmp_path, LS_FAKE_MIC_WAV=str(_fake_mic_wav(tmp_path)))


def test_record_and_transcribe_with_the_sync_api(server: ServerProcess, tmp_path: Path) -> None:
    out = run_scenario(server, "sync.test.mjs", tmp_path, LS_FAKE_MIC_WAV=str(_fake_mic_wav(tmp_path)))
    assert "SYNC_TEXT" in out


def _real_server(start_server: StartServer) -> ServerProcess:
    models = ROOT / "models"
    model = "tiny.en" if (models / "tiny.en").exists() else "base"
    if not (models / model).exists():
        pytest.skip("no local model installed (make models)")
    return start_server(
        LOCALSCRIBE_ENGINE="whisper",
        LOCALSCRIBE_MODEL=model,
        LOCALSCRIBE_WORKERS="1",
        LOCALSCRIBE_MODELS_DIR=str(models),
    )


@pytest.mark.real
def test_real_engine_transcribes_jfk_in_the_page(start_server: StartServer, tmp_path: Path) -> None:
    server = _real_server(start_server)
    out = run_scenario(server, "playground.test.mjs", tmp_path, timeout=400, LS_EXPECT_TEXT="country")
    assert "FIRST_WORD_MS" in out


@pytest.mark.real
def test_real_engine_live_microphone(start_server: StartServer, tmp_path: Path) -> None:
    server = _real_server(start_server)
    wav = _fake_mic_wav(tmp_path)
    run_scenario(
        server, "live.test.mjs", tmp_path, timeout=300, LS_FAKE_MIC_WAV=str(wav), LS_EXPECT_TEXT="country"
    )
