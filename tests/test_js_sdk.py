"""The official JS SDK (`assemblyai`, pinned in tests/js/package-lock.json), unchanged, against `serve --tls`.

The Node suite in tests/js/ (node's built-in runner, plain .mjs) reads the server, key and CA from the
environment; this wrapper starts the server, installs the locked SDK when it is missing, decodes jfk.flac
to the 16 kHz pcm_s16le the streaming tests send, runs `node --test tests/js/` and shows node's output on
failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import StartServer
from tests.support.server import API_KEY, ServerProcess
from tests.support.spec import AUDIO

JS_DIR = Path(__file__).resolve().parent / "js"
REPO = JS_DIR.parents[1]
NODE, NPM = shutil.which("node"), shutil.which("npm")
MANIFEST = json.loads((AUDIO / "manifest.json").read_text())
REFERENCE = next(e["reference"] for e in MANIFEST if e["file"] == "jfk.flac")

pytestmark = pytest.mark.skipif(
    not (NODE and NPM), reason="node and npm (Node >= 18) are needed to run the JS SDK suite in tests/js"
)


@pytest.fixture
def backend() -> str:
    """The SDK parity is about HTTP and WebSocket shapes; one database backend is enough here."""
    return "sqlite"


@pytest.fixture(scope="module")
def js_sdk() -> Path:
    """tests/js/node_modules as package-lock.json pins it (`npm ci` when missing or stale)."""
    version = subprocess.run([NODE, "-p", "process.versions.node"], capture_output=True, text=True).stdout
    major = int(version.split(".")[0])
    if major < 18:
        pytest.skip(f"the JS SDK needs Node >= 18, found {major}")
    lock = json.loads((JS_DIR / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/assemblyai"]["version"]
    installed = JS_DIR / "node_modules" / "assemblyai" / "package.json"
    if not installed.is_file() or json.loads(installed.read_text())["version"] != locked:
        done = subprocess.run(
            [NPM, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"npm ci failed in {JS_DIR}:\n{done.stdout}\n{done.stderr}"
    assert json.loads(installed.read_text())["version"] == locked
    return JS_DIR


@pytest.fixture(scope="module")
def jfk_pcm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """jfk.flac as raw 16 kHz mono pcm_s16le: what a microphone pipeline would hand the streaming SDK."""
    from server.media.decode import decode

    samples = decode(AUDIO / "jfk.flac", sample_rate=16000, mono=True)
    path = tmp_path_factory.mktemp("pcm") / "jfk.s16le"
    path.write_bytes((np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes())
    return path


def run_node_suite(
    server: ServerProcess, pcm: Path, *, mock: bool, termination_timeout_ms: int = 5000, timeout: float = 540
) -> str:
    """`node --test tests/js/` against `server`; its output, or a failure showing it and the server log."""
    env = {
        **os.environ,
        "LOCALSCRIBE_URL": server.url,
        "LOCALSCRIBE_KEY": API_KEY,
        "NODE_EXTRA_CA_CERTS": str(server.ca_file),
        "LOCALSCRIBE_AUDIO": str(AUDIO / "jfk.flac"),
        "LOCALSCRIBE_PCM": str(pcm),
        "LOCALSCRIBE_MOCK": "1" if mock else "0",
        "LOCALSCRIBE_TERMINATION_TIMEOUT_MS": str(termination_timeout_ms),
    }
    # one file at a time: live streams and a batch job at once would share a small machine's cores
    cmd = [NODE, "--test", "--test-reporter=spec", "--test-concurrency=1", str(JS_DIR.relative_to(REPO))]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    summary = re.findall(r"^ℹ (tests|pass|fail|cancelled|skipped|todo) (\d+)$", output, re.M)
    counts = {k: int(v) for k, v in summary}
    suites = ("transcripts over https", "errors are thrown", "v3 streaming over wss", "v2 real-time over wss")
    missing = [name for name in suites if f"▶ {name}" not in output]
    failed = any(counts.get(k, 1) for k in ("fail", "cancelled", "skipped", "todo"))
    if done.returncode != 0 or failed or not counts.get("pass") or missing:
        log = "\n".join(line for line in server.log().splitlines() if "uvicorn.access" not in line)[-6000:]
        head = f"--- node --test: exit {done.returncode}, {counts}, suites not run: {missing} ---"
        pytest.fail(f"--- server log ---\n{log}\n{head}\n{output}")
    return output


def test_js_sdk_mock_engine(js_sdk: Path, jfk_pcm: Path, start_server: StartServer) -> None:
    """Every JS SDK call in tests/js against the mock engine (which says the reference text)."""
    server = start_server(args=["serve", "--tls"], LOCALSCRIBE_MOCK_TEXT=REFERENCE)
    run_node_suite(server, jfk_pcm, mock=True)


@pytest.mark.real
def test_js_sdk_real_engine(js_sdk: Path, jfk_pcm: Path, start_server: StartServer) -> None:
    """The same suite with faster-whisper `base`: the words are the model's, checked against the reference."""
    server = start_server(
        args=["serve", "--tls"],
        LOCALSCRIBE_ENGINE="whisper",
        LOCALSCRIBE_MODEL="base",
        LOCALSCRIBE_WORKERS="1",
        LOCALSCRIBE_MODELS_DIR=str(REPO / "models"),
    )
    # the final decode after Terminate shares a small CPU with everything else; 5 s (the SDK default) is tight
    run_node_suite(server, jfk_pcm, mock=False, termination_timeout_ms=30_000)
