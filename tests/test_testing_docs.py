"""docs/testing.md's snippets work, as the README's do (tests/test_readme.py): each tagged block is run or
checked. `pytest` and `conftest` blocks are one user project run with plain pytest in a subprocess;
`unittest` runs with `python -m unittest`; `sh` and `node` run against an in-process LocalScribe with an
admin token; `github-actions` and `env` are checked (image port, health path, settings and commands)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from server.emulator.testing import LocalScribe, plugin_args
from tests.support.spec import AUDIO
from tests.test_readme import check_command, check_settings, logical_lines

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "testing.md"
TAGGED = re.compile(r"^<!-- testing-doc: ([\w-]+) -->\n```(\w+)\n(.*?)^```", re.M | re.S)
KINDS = {"pytest", "conftest", "unittest", "sh", "node", "github-actions", "env"}
NODE = shutil.which("node")


def blocks(kind: str) -> list[str]:
    return [m.group(3) for m in TAGGED.finditer(PAGE.read_text()) if m.group(1) == kind]


def project(tmp_path: Path) -> Path:
    """A user's project folder: the audio the snippets name, nothing of LocalScribe's tests."""
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(AUDIO / "jfk.flac", folder / "jfk.flac")
    return folder


def python_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCALSCRIBE_", "ASSEMBLYAI_"))}
    env["PYTHONPATH"] = str(ROOT)  # this checkout's package (the shared venv has no entry point for it)
    return env


def test_every_block_is_tagged_with_a_known_kind() -> None:
    text = PAGE.read_text()
    tags = re.findall(r"^<!-- testing-doc: ([\w-]+) -->", text, re.M)
    assert set(tags) <= KINDS and text.count("\n```") // 2 == len(tags), tags


def test_pytest_recipe(tmp_path: Path) -> None:
    folder = project(tmp_path)
    (folder / "test_app.py").write_text("\n\n".join(blocks("pytest")))
    (folder / "conftest.py").write_text("\n\n".join(blocks("conftest")))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *plugin_args(), "-q", "-p", "no:cacheprovider"],
        cwd=folder,
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout, done.stdout


def test_unittest_recipe(tmp_path: Path) -> None:
    folder = project(tmp_path)
    [code] = blocks("unittest")
    (folder / "test_unit.py").write_text(code)
    done = subprocess.run(
        [sys.executable, "-m", "unittest", "-v", "test_unit"],
        cwd=folder,
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "OK" in done.stderr, done.stdout + done.stderr


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalScribe]:
    with LocalScribe(data_dir=tmp_path_factory.mktemp("docs-server"), admin_token="admin-token") as s:
        yield s


def snippet_env(server: LocalScribe) -> dict[str, str]:
    return {**python_env(), **server.environ}


def test_curl_recipe(server: LocalScribe, tmp_path: Path) -> None:
    [code] = blocks("sh")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code],
        cwd=project(tmp_path),
        env=snippet_env(server),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "refused, as it should be" in done.stdout  # the malformed script got its 400
    assert '"text":"Hello from curl."' in done.stdout and '"requests":[' in done.stdout


@pytest.mark.skipif(NODE is None, reason="node is needed for the Node recipe")
def test_node_recipe(server: LocalScribe, tmp_path: Path) -> None:
    folder = project(tmp_path)
    [code] = blocks("node")
    (folder / "transcribe.test.mjs").write_text(code)
    (folder / "node_modules").symlink_to(ROOT / "tests" / "js" / "node_modules")  # the pinned JS SDK
    done = subprocess.run(
        [str(NODE), "--test", "transcribe.test.mjs"],
        cwd=folder,
        env=snippet_env(server),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "# pass 1" in done.stdout, done.stdout + done.stderr


def test_github_actions_recipe() -> None:
    [code] = blocks("github-actions")
    job = yaml.safe_load(code)["jobs"]["test"]
    service = job["services"]["localscribe"]
    check_settings({k: str(v) for k, v in service["env"].items()})
    exposed = re.search(r"^EXPOSE (\d+)", (ROOT / "Dockerfile").read_text(), re.M)
    assert exposed and service["ports"] == [f"{exposed.group(1)}:{exposed.group(1)}"]
    assert "/health" in service["options"]
    assert job["env"]["ASSEMBLYAI_API_KEY"] == service["env"]["LOCALSCRIBE_API_KEY"]
    assert job["env"]["LOCALSCRIBE_ADMIN_TOKEN"] == service["env"]["LOCALSCRIBE_ADMIN_TOKEN"]


def test_record_and_replay_commands_name_real_settings() -> None:
    for code in blocks("env"):
        for words in logical_lines(code):
            check_command(words)
