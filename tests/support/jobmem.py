"""One async job in a fresh process, for its peak memory (tests/test_abuse_media.py, bench/job_memory.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, resource, sys, time
root, audio, engine_name, model, models_dir = sys.argv[1:6]
sys.path.insert(0, root)
from server.config import Settings
from server.jobs.pipeline import run_job
from server.jobs.queue import ClaimedJob
from server.transcript_request import TranscriptRequest
if engine_name == "mock":
    from server.engine.mock import MockEngine
    engine = MockEngine()
else:
    from server.engine.whisper import WhisperEngine
    engine = WhisperEngine(default_model=model, models_dir=__import__("pathlib").Path(models_dir),
                           device="cpu", compute_type="int8", cpu_threads=2, beam_size=1)
    engine.load()
params = {"speech_models": ["nano"], "language_code": "en_us", "punctuate": True, "format_text": True}
settings = Settings(engine=engine_name, data_dir=__import__("pathlib").Path(sys.argv[6]))
job = ClaimedJob(id="bench", account_id="a", audio_url="upload", upload_path=audio,
                 request=TranscriptRequest.from_json(params),
                 attempt=1, queued_s=0.0)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.monotonic()
error = None
try:
    out = run_job(job, engine, settings)
    words = len(out.result.get("words") or [])
    duration = out.audio_duration
except Exception as exc:
    error, words, duration = str(exc)[:80], None, None
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_kb": peak, "before_job_kb": base, "seconds": time.monotonic() - t,
                  "words": words, "audio_duration": duration, "error": error}))
"""


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_job_process(root: Path, audio: Path, engine: str, model: str, cap_gb: float, scratch: Path) -> dict:
    """Run one job on `audio` in a fresh process with the `server` package under `root`; its peak RSS
    (`peak_kb`), seconds, word count and audio_duration, or `error`. Killed once RSS passes `cap_gb`."""
    models = str(REPO / "models")
    cmd = [sys.executable, "-c", CHILD, str(root), str(audio), engine, model, models, str(scratch)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=root)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _rss_kb(proc.pid))
        if peak > cap_gb * 1024 * 1024:
            proc.kill()
            proc.wait()
            return {"peak_kb": None, "error": f"RSS over {cap_gb:g} GB: killed"}
        time.sleep(0.05)
    out, err = proc.communicate()
    if proc.returncode != 0:
        return {"peak_kb": None, "error": (err.strip().splitlines() or ["?"])[-1][:120]}
    return json.loads(out.strip().splitlines()[-1])
