"""Issue 21: what the `localscribe` pytest fixture costs per test (goal: < 20 ms after the first).

Writes a suite of N tests that each take the fixture and make one SDK call (list transcripts), and the same
suite with a plain fixture that only points the SDK at an already running LocalScribe (no reset): the
difference per test is the fixture's own cost (the reset, the SDK and environment swap). Both run in one
pytest process each, with pytest's `--durations=0`; reported: the first setup (the server's start), and
p50/p95/max of the other setups, and the whole suite's wall time per test for both, with the load average.

    python bench/fixture_overhead.py [--tests 200]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine_info, median, percentile, print_table, pyplot, write_json

from server.emulator.testing import plugin_args

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

WITH_FIXTURE = """
import assemblyai as aai
import pytest

@pytest.mark.parametrize("i", range({n}))
def test_one_call(localscribe, i):
    assert list(aai.Transcriber().list_transcripts().transcripts) == []
"""

BASELINE = """
import assemblyai as aai
import pytest

@pytest.fixture(scope="session")
def running(localscribe_server):
    return localscribe_server

@pytest.fixture
def plain(running):
    with running.sdk():
        yield running

@pytest.mark.parametrize("i", range({n}))
def test_one_call(plain, i):
    assert aai.Transcriber().list_transcripts() is not None
"""


def run_suite(code: str, n: int) -> tuple[list[float], float]:
    """Setup durations (s) in test order as pytest reports them, and the suite's wall time."""
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "test_suite.py").write_text(code.format(n=n))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCALSCRIBE_", "ASSEMBLYAI_"))}
        env["PYTHONPATH"] = str(ROOT)
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                *plugin_args(),
                "-p",
                "no:cacheprovider",
                "--durations=0",
                "--durations-min=0",
            ],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    rows = re.findall(r"^([\d.]+)s setup\s+test_suite.py::test_one_call\[(\d+)\]", done.stdout, re.M)
    by_index = {int(i): float(s) for s, i in rows}
    return [by_index[i] for i in sorted(by_index)], wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200)
    args = parser.parse_args()
    load_before = os.getloadavg()
    setups, wall = run_suite(WITH_FIXTURE, args.tests)
    base_setups, base_wall = run_suite(BASELINE, args.tests)
    load_after = os.getloadavg()
    rest = [s * 1000 for s in setups[1:]]
    base_rest = [s * 1000 for s in base_setups[1:]]
    result = {
        "tests": args.tests,
        "first_setup_s": setups[0],
        "fixture_setup_ms": {"p50": median(rest), "p95": percentile(rest, 95), "max": max(rest)},
        "baseline_setup_ms": {
            "p50": median(base_rest),
            "p95": percentile(base_rest, 95),
            "max": max(base_rest),
        },
        "suite_wall_per_test_ms": {
            "fixture": wall * 1000 / args.tests,
            "baseline": base_wall * 1000 / args.tests,
        },
        "overhead_per_test_ms": (wall - base_wall) * 1000 / args.tests,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "machine": machine_info(),
    }
    write_json("fixture_overhead.json", result)
    print_table(
        f"localscribe fixture, {args.tests} tests (load {load_before[0]:.1f} -> {load_after[0]:.1f})",
        ["", "p50 ms", "p95 ms", "max ms"],
        [
            ["setup: localscribe (reset + SDK)", *result["fixture_setup_ms"].values()],
            ["setup: SDK only (baseline)", *result["baseline_setup_ms"].values()],
        ],
    )
    print(f"first setup (server start): {setups[0]:.2f} s")
    walls, diff = result["suite_wall_per_test_ms"], result["overhead_per_test_ms"]
    print(f"suite wall per test: {walls}; difference {diff:.1f} ms")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(range(1, len(rest) + 1), rest, ".", label="localscribe (reset per test)", markersize=3)
    ax.plot(range(1, len(base_rest) + 1), base_rest, ".", label="baseline (no reset)", markersize=3)
    ax.axhline(20, color="grey", linestyle="--", label="goal 20 ms")
    ax.set_xlabel("test (after the first)")
    ax.set_ylabel("fixture setup, ms")
    ax.set_title(f"pytest fixture overhead, load {load_before[0]:.1f}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(DOCS / "fixture_overhead.png", dpi=100)


if __name__ == "__main__":
    main()
