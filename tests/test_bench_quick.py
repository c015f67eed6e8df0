"""CI runs the benchmarks at their tiny size: they must work end to end (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.real


SCRIPTS = ["async_rtf", "batched_decoding", "throughput", "stream_latency", "sync_latency", "stream_batch"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_quick_benchmark_runs(script: str) -> None:
    out = ROOT / "bench" / "results" / f"{script}_quick.json"
    out.unlink(missing_ok=True)
    run = subprocess.run(
        [sys.executable, f"bench/{script}.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["quick"] is True
