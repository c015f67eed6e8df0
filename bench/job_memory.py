"""Peak memory (RSS) and time of one async job on hours of silent FLAC, mock and real engine.

Each run is a fresh process that runs the job pipeline (`server.jobs.pipeline.run_job`) on an uploaded
file, as a worker does, and reports its peak RSS (`ru_maxrss`). `--root` points at another checkout of
the code (e.g. `git archive <commit>` unpacked) to measure the same thing before a change, in the same
run. A process whose RSS passes `--cap-gb` is killed and reported as over the cap, so the old code's
gigabytes per audio hour cannot take the machine down.

    python bench/job_memory.py --hours 1 10 --engines mock whisper --root-before /tmp/base
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, machine_info, print_table, write_json

from tests.support.bombs import silent_flac

CHILD = r"""
import json, resource, sys, time
root, audio, engine_name, model, models_dir = sys.argv[1:6]
sys.path.insert(0, root)
from server.config import Settings
from server.jobs.pipeline import run_job
from server.jobs.queue import ClaimedJob
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
job = ClaimedJob(id="bench", account_id="a", audio_url="upload", upload_path=audio, params=params,
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


def run_once(root: Path, audio: Path, engine: str, model: str, cap_gb: float, scratch: Path) -> dict:
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--engines", nargs="+", default=["mock"], choices=["mock", "whisper"])
    parser.add_argument("--whisper-hours-max", type=float, default=1.0, help="real engine only up to this")
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--root-before", type=Path, help="a checkout of the code before the change")
    parser.add_argument("--cap-gb", type=float, default=6.0)
    args = parser.parse_args()

    roots = [("after", REPO)] + ([("before", args.root_before)] if args.root_before else [])
    rows, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        for hours in args.hours:
            audio = silent_flac(scratch / f"silence-{hours:g}h.flac", hours * 3600)
            for engine in args.engines:
                if engine == "whisper" and hours > args.whisper_hours_max:
                    continue
                for label, root in roots:
                    r = run_once(root, audio, engine, args.model, args.cap_gb, scratch / "data")
                    r.update(code=label, engine=engine, hours=hours, file_bytes=audio.stat().st_size)
                    results.append(r)
                    peak = f"{r['peak_kb'] / 1024:.0f}" if r.get("peak_kb") else f">{args.cap_gb * 1024:.0f}"
                    seconds = r.get("seconds")
                    rows.append(
                        [
                            f"{hours:g} h",
                            engine,
                            label,
                            audio.stat().st_size,
                            peak,
                            "-" if seconds is None else f"{seconds:.1f}",
                            r.get("audio_duration"),
                            r.get("error") or "",
                        ]
                    )
    print_table(
        "Peak RSS of one job on silent FLAC",
        ["audio", "engine", "code", "file bytes", "peak RSS MB", "job s", "audio_duration", "error"],
        rows,
    )
    write_json("job_memory", {"machine": machine_info(), "results": results, "pid": os.getpid()})


if __name__ == "__main__":
    main()
