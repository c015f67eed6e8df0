"""Shared pieces of the benchmarks: servers, API calls, audio crops, tables, JSON and plot output.

The benchmark scripts run as ``python bench/X.py``; this module puts the repository root on
``sys.path`` so that ``server`` and ``tests.support`` import from the working tree.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.server import API_KEY, ServerProcess, postgres_database, server_env  # noqa: E402

AUDIO_DIR = Path(os.environ.get("LOCALSCRIBE_BENCH_AUDIO", REPO / "tests" / "data"))
LONG_CLIP = AUDIO_DIR / "en_ljspeech_LJ001-0001_to_0032_longform.flac"
SHORT_CLIP = AUDIO_DIR / "jfk.flac"
MODELS_DIR = REPO / "models"
RESULTS_DIR = REPO / "bench" / "results"
DOCS_DIR = REPO / "docs"
SAMPLE_RATE = 16000
# Options the server passes to WhisperModel.transcribe for a plain English request (en_us, no prompt,
# no hotwords, no code switching): see server/engine/whisper.py and server/jobs/pipeline.py.
SERVER_TEMPERATURES = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
# The API name a request uses to reach a local model (LOCALSCRIBE's default speech_model_map).
API_NAME_FOR_MODEL = {"tiny.en": "nano", "base": "universal-2"}

__all__ = [
    "API_KEY",
    "ServerProcess",
    "postgres_database",
    "server_env",
]


# --- machine and output -------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    import ctranslate2
    import faster_whisper

    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "faster_whisper": faster_whisper.__version__,
        "ctranslate2": ctranslate2.__version__,
        "platform": platform.platform(),
        **git_state(),
    }


def git_state() -> dict[str, Any]:
    """Which server code was measured: the commit, and whether server/ had uncommitted changes."""

    def git(*args: str) -> str:
        try:
            out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return ""
        return out.stdout.strip()

    return {
        "git_commit": git("rev-parse", "--short", "HEAD"),
        "server_uncommitted_changes": bool(git("status", "--porcelain", "--", "server")),
    }


def write_json(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / name
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "+".join("-" * (w + 2) for w in widths)
    print(f"\n{title}")
    print(line)
    print(" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print(line)
    for r in cells:
        print(" | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    print(line)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values, dtype=float), q))


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# --- faster-whisper called directly ---------------------------------------------------------------------


def load_whisper(model: str, where: str = "thread", compute_type: str = "int8", cpu_threads: int = 0) -> Any:
    """``WhisperModel(<model>, device=cpu, compute_type=int8)`` built on a helper thread or the main thread.

    Where it is built matters on this machine: once a CTranslate2 model has been constructed on the
    process's main thread, every transcription in that process ran ~1.7-1.9x slower (and used more CPU)
    than in a process whose models were all built on another thread, which is what the server does (its
    warm-up thread loads the model). ``thread`` (default) mirrors the server; ``main`` is what a naive
    script does. The effect is process-wide, so the two cannot be compared inside one process.
    """
    from faster_whisper import WhisperModel

    from server.engine.model_store import resolve_model
    from server.engine.whisper import build_off_thread

    path = resolve_model(model, MODELS_DIR)

    def build() -> Any:
        return WhisperModel(
            path, device="cpu", compute_type=compute_type, cpu_threads=cpu_threads, num_workers=1
        )

    if where not in ("thread", "main"):
        raise ValueError("where must be 'thread' or 'main'")
    return build() if where == "main" else build_off_thread(build)


def transcribe_like_server(
    whisper: Any, audio: Any, batch_size: int = 0, batch_beam_size: int | None = None
) -> list[str]:
    """faster-whisper with exactly the options the server passes for a plain English request: its
    sequential path (beam 5), or with `batch_size` its batched path (BatchedInferencePipeline: VAD chunks,
    first temperature only, beam `batch_beam_size`, by default the server's CPU one: BATCH_BEAM_SIZE in
    server/engine/whisper.py)."""
    common: dict[str, Any] = {
        "language": "en",
        "word_timestamps": True,
        "hotwords": None,
        "initial_prompt": None,
    }
    if batch_size:
        from faster_whisper import BatchedInferencePipeline

        from server.engine.whisper import BATCH_BEAM_SIZE

        beam = batch_beam_size or BATCH_BEAM_SIZE["cpu"] or 5
        segments, _info = BatchedInferencePipeline(whisper).transcribe(
            audio,
            **common,
            beam_size=beam,
            vad_filter=True,
            temperature=SERVER_TEMPERATURES[0],
            batch_size=batch_size,
        )
    else:
        segments, _info = whisper.transcribe(
            audio,
            **common,
            beam_size=5,
            vad_filter=False,
            multilingual=False,
            condition_on_previous_text=True,
            temperature=SERVER_TEMPERATURES,
        )
    words = (w.word.strip() for segment in segments for w in segment.words or [])
    return [w for w in words if w]


def add_quiet_args(p: Any) -> None:
    p.add_argument(
        "--quiet-share",
        type=float,
        default=0.10,
        help="before each timed run, wait until other processes use less than this share of the CPUs",
    )
    p.add_argument("--quiet-timeout", type=float, default=None, help="give up waiting after this (s)")


# --- CPU accounting: this machine is shared, so every timed run says how busy the rest of it was ---------

_CLK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (all its threads)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw.rsplit(")", 1)[1].split()  # fields[0] is the state (field 3 of proc(5))
    return (int(fields[11]) + int(fields[12])) / _CLK


def system_busy_s() -> float:
    """CPU seconds all cores spent not idle since boot (steal included: time we could not have)."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in first[1:9])
    return (user + nice + system + irq + softirq + steal) / _CLK


class CpuMeter:
    """Wall time, CPU time of our own processes, and CPU time of everything else, over one block.

    ``foreign_share`` is the other processes' CPU time over (wall x cores): 0 means we had the machine
    to ourselves; 0.5 means someone else used half of it while we measured.
    """

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = list(pids)
        self.result: dict[str, float] = {}

    def __enter__(self) -> CpuMeter:
        self._wall = time.perf_counter()
        self._busy = system_busy_s()
        self._own = [proc_cpu_s(p) for p in self.pids]
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._wall
        busy = system_busy_s() - self._busy
        own = [proc_cpu_s(p) - o for p, o in zip(self.pids, self._own, strict=True)]
        foreign = max(0.0, busy - sum(own))
        self.result = {
            "wall_s": wall,
            "own_cpu_s": sum(own),
            **{f"cpu_s_pid{i}": v for i, v in enumerate(own)},
            "foreign_cpu_s": foreign,
            "foreign_share": foreign / (wall * (os.cpu_count() or 1)) if wall > 0 else 0.0,
        }


def wait_for_quiet(
    pids: Sequence[int], max_share: float = 0.10, window_s: float = 1.0, timeout_s: float = 300.0
) -> float:
    """Wait until other processes use under ``max_share`` of the machine for one window.

    Returns the seconds waited (``timeout_s`` when it never got quiet; the run then goes ahead and its
    ``foreign_share`` shows the disturbance).
    """
    t0 = time.monotonic()
    told = False
    while time.monotonic() - t0 < timeout_s:
        with CpuMeter(pids) as meter:
            time.sleep(window_s)
        if meter.result["foreign_share"] < max_share:
            return time.monotonic() - t0
        if not told:
            print(
                f"  (waiting: other processes use {meter.result['foreign_share']:.0%} of the CPUs)",
                flush=True,
            )
            told = True
    return timeout_s


# --- audio ----------------------------------------------------------------------------------------------


def audio_duration(path: Path) -> float:
    """Duration in seconds, from the decoded samples (what the engine sees)."""
    from faster_whisper import decode_audio

    return len(decode_audio(str(path), sampling_rate=SAMPLE_RATE)) / SAMPLE_RATE


def crop_to_wav(source: Path, target: Path, seconds: float, start_s: float = 0.0) -> float:
    """Decode ``source`` (PyAV, 16 kHz mono), keep ``[start, start+seconds)`` and write 16-bit PCM WAV.

    Returns the duration written. The source is read only; the crop goes wherever ``target`` is
    (a temporary directory, never the repository).
    """
    from faster_whisper import decode_audio

    samples = decode_audio(str(source), sampling_rate=SAMPLE_RATE)
    lo = int(start_s * SAMPLE_RATE)
    clip = samples[lo : lo + int(seconds * SAMPLE_RATE)]
    pcm = (np.clip(clip, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return len(clip) / SAMPLE_RATE


# --- servers --------------------------------------------------------------------------------------------


@contextmanager
def running_server(
    database_url: str | None = None,
    *,
    log_name: str | None = None,
    ready_timeout: float = 120.0,
    **overrides: str,
) -> Iterator[ServerProcess]:
    """A `localscribe serve` on a free port with its own data dir; stopped (SIGTERM) on exit.

    Waits for /health, then for /ready (model loaded, database reachable). With ``log_name`` the
    server's log is kept as ``bench/results/logs/<log_name>.log`` (the data dir itself is temporary).
    """
    with tempfile.TemporaryDirectory(prefix="localscribe-bench-") as tmp:
        data_dir = Path(tmp)
        env = server_env(data_dir, database_url, **overrides)
        proc = ServerProcess(data_dir, env)
        try:
            proc.start()
            wait_model_ready(proc, ready_timeout)
            yield proc
        finally:
            proc.stop(timeout=15)
            if log_name and proc.log_path and proc.log_path.exists():
                logs = RESULTS_DIR / "logs"
                logs.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(proc.log_path, logs / f"{log_name}.log")


def wait_model_ready(proc: ServerProcess, timeout: float) -> float:
    """Poll GET /ready until 200; returns the seconds waited."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        if proc.proc is not None and proc.proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{proc.log()[-4000:]}")
        try:
            if httpx.get(f"{proc.url}/ready", timeout=2).status_code == 200:
                return time.monotonic() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server not ready after {timeout}s:\n{proc.log()[-4000:]}")


def create_key(proc: ServerProcess, *, name: str, tier: str, async_limit: int | None = None) -> str:
    """A new account (and its key) made with `localscribe keys create` against the server's database."""
    args = [sys.executable, "-m", "server.cli.main", "keys", "create", "--name", name, "--tier", tier]
    if async_limit is not None:
        args += ["--async-limit", str(async_limit)]
    out = subprocess.run(args, env=proc.env, capture_output=True, text=True, check=True, cwd=REPO)
    return out.stdout.strip().splitlines()[-1]


# --- API calls ------------------------------------------------------------------------------------------


def _post(client: httpx.Client, path: str, attempts: int, **kwargs: Any) -> dict[str, Any]:
    """POST; a 5xx is recorded in SERVER_ERRORS and retried (a benchmark should finish and report the
    error, not die on it)."""
    for attempt in range(attempts):
        r = client.post(path, **kwargs)
        if r.status_code >= 500 and attempt + 1 < attempts:
            SERVER_ERRORS.add(f"POST {path} -> {r.status_code} {r.text[:200]}")
            time.sleep(0.2)
            continue
        r.raise_for_status()
        return r.json()
    raise AssertionError("unreachable")


def upload(client: httpx.Client, data: bytes, attempts: int = 3) -> str:
    headers = {"Content-Type": "application/octet-stream"}
    return str(_post(client, "/v2/upload", attempts, content=data, headers=headers)["upload_url"])


class ServerErrors:
    """5xx answers seen by the benchmark clients (each is retried, up to ``attempts`` times in all)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[str] = []

    def add(self, what: str) -> None:
        with self.lock:
            self.seen.append(what)


SERVER_ERRORS = ServerErrors()


def create_transcript(
    client: httpx.Client, audio_url: str, speech_models: list[str] | None = None, attempts: int = 3
) -> str:
    body: dict[str, Any] = {"audio_url": audio_url}
    if speech_models:
        body["speech_models"] = speech_models
    return str(_post(client, "/v2/transcript", attempts, json=body)["id"])


def wait_transcript(
    client: httpx.Client, transcript_id: str, poll_s: float = 0.1, timeout: float = 3600.0
) -> dict[str, Any]:
    """Poll GET /v2/transcript/{id} until completed or error; raise on error or timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/v2/transcript/{transcript_id}")
        if r.status_code >= 500:
            SERVER_ERRORS.add(f"GET /v2/transcript/{{id}} -> {r.status_code} {r.text[:200]}")
            time.sleep(poll_s)
            continue
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        if body["status"] == "completed":
            return body
        if body["status"] == "error":
            raise RuntimeError(f"transcript {transcript_id} failed: {body.get('error')}")
        time.sleep(poll_s)
    raise TimeoutError(f"transcript {transcript_id} not done after {timeout}s")


def job_times(sqlalchemy_url: str, ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The server's own record of each job (created/started/completed), read from its database.

    Read only; used to split a request's wall time into queue wait and processing, and to check
    concurrency limits exactly (the API does not show started_at/completed_at).
    """
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from server.db.models import Transcript

    engine = create_engine(sqlalchemy_url)
    try:
        with Session(engine) as db:
            stmt = select(
                Transcript.id,
                Transcript.account_id,
                Transcript.status,
                Transcript.created_at,
                Transcript.started_at,
                Transcript.completed_at,
                Transcript.attempts,
            )
            if ids is not None:
                stmt = stmt.where(Transcript.id.in_(list(ids)))
            return [dict(row._mapping) for row in db.execute(stmt)]
    finally:
        engine.dispose()


def server_db_url(proc: ServerProcess) -> str:
    url = proc.env.get("LOCALSCRIBE_DATABASE_URL")
    return url or f"sqlite:///{(proc.data_dir / 'localscribe.db').resolve()}"


@contextmanager
def database(use_postgres: bool) -> Iterator[str | None]:
    if use_postgres:
        with postgres_database() as url:
            yield url
    else:
        yield None


def epoch(dt: datetime) -> float:
    return dt.replace(tzinfo=timezone.utc).timestamp()
