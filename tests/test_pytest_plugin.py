"""The pytest plugin as a user meets it (issue 21 "done means"): a fresh virtualenv where only LocalScribe
(from this checkout), the official SDK, pytest and pytest-xdist were installed, and a test file written from
docs/testing.md alone, run with plain `pytest` (the plugin comes from the `pytest11` entry point), then with
`pytest -n 2` (one server per worker).

Marked `network`: pip needs the package index or its cache (~/.cache/pip). A first run downloads LocalScribe's
dependencies (about 2.5 minutes in all here); a rerun installs from the cache (about 70 s in all, 40 s of it
pip, on a loaded 2-core machine).
Skipped only when the index cannot be reached and the cache holds no wheels.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.spec import AUDIO
from tests.test_testing_docs import blocks

ROOT = Path(__file__).resolve().parents[1]
INDEX = ("pypi.org", 443)


def _index_reachable() -> bool:
    try:
        socket.create_connection(INDEX, timeout=3).close()
    except OSError:
        return False
    return True


def _cache_has_wheels() -> bool:
    cache = Path(os.environ.get("PIP_CACHE_DIR", Path.home() / ".cache" / "pip"))
    return any(cache.rglob("*.whl")) or (cache / "http-v2").is_dir()


pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(
        not _index_reachable() and not _cache_has_wheels(), reason="no package index and no pip cache"
    ),
]


def test_plain_pytest_in_a_fresh_virtualenv(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy: pip builds in the tree, and an egg-info left in this checkout
    for name in ("pyproject.toml", "README.md"):  # would register the entry point for every process here
        (source / name).parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    for name in ("server", "migrations"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    started = time.monotonic()
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            str(source),
            "assemblyai==1.8.2",
            "pytest",
            "pytest-xdist",
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    installed_s = time.monotonic() - started
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(AUDIO / "jfk.flac", project / "jfk.flac")
    (project / "test_app.py").write_text("\n\n".join(blocks("pytest")))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCALSCRIBE_", "ASSEMBLYAI_", "PYTHON"))}
    done = subprocess.run(
        [str(venv / "bin" / "pytest"), "-q", "--durations=0", "-p", "no:cacheprovider"],
        cwd=project,  # no conftest, no path to this checkout: only what pip installed
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout, done.stdout
    plugin = subprocess.run(
        [str(python), "-c", "import server.emulator.pytest_plugin as p; print(p.__file__)"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(venv) in plugin.stdout  # the installed copy, not this checkout
    parallel = subprocess.run(  # pytest-xdist: one server per worker, each on its own port and database
        [str(venv / "bin" / "pytest"), "-q", "-n", "2", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert parallel.returncode == 0 and "4 passed" in parallel.stdout, parallel.stdout + parallel.stderr
    setups = [float(s) for s in re.findall(r"^([\d.]+)s setup", done.stdout, re.M)]
    print(f"pip install {installed_s:.0f} s; fixture setups (s): {sorted(setups)}")
