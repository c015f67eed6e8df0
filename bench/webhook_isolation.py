"""Webhook delay of one account while another account's receiver trickles its answer.

Account A's transcripts post to a receiver that answers one byte a second; account B's post to a prompt
one. B's delay is the time from submitting a transcript (jfk.flac, mock engine) to its webhook arriving,
measured with A's receiver idle (baseline) and while it trickles. `--root-before` runs the same against
another checkout of the whole repository (e.g. `git archive <commit>` unpacked), in the same run.

    python bench/webhook_isolation.py --root-before /tmp/base-full
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from _common import REPO, SHORT_CLIP, machine_info, print_table, write_json

from tests.support.server import API_KEY, free_port, server_env


@contextmanager
def receiver(trickle_bytes: int) -> Iterator[tuple[str, dict[str, float]]]:
    """POST receiver; `arrived[transcript_id]` = monotonic arrival time. Answers 200 with a body of
    `trickle_bytes` bytes sent one a second (0: at once)."""
    arrived: dict[str, float] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
            arrived.setdefault(body["transcript_id"], time.monotonic())
            self.send_response(200)
            self.send_header("Content-Length", str(trickle_bytes))
            self.end_headers()
            for _ in range(trickle_bytes):
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(1.0)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", arrived
    finally:
        httpd.shutdown()
        httpd.server_close()


class Server(subprocess.Popen):
    url: str
    env: dict[str, str]


def start_in(root: Path, data_dir: Path, env: dict[str, str]) -> Server:
    """`serve` from the code under `root` (tests/support/server.py always runs this checkout's)."""
    port = free_port()
    cmd = [sys.executable, "-m", "server.cli.main", "serve", "--port", str(port)]
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - the child keeps it
    proc = Server(cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    proc.url, proc.env = f"http://127.0.0.1:{port}", env
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(proc.url + "/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def new_key(server: Server, root: Path) -> str:
    cmd = [sys.executable, "-m", "server.cli.main", "keys", "create", "--name", "b", "--tier", "paid"]
    out = subprocess.run(cmd, env=server.env, cwd=root, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def run(root: Path, trickling: bool, slow_jobs: int, fast_jobs: int, trickle_s: int) -> list[float]:
    """B's submit→webhook delays (s) with `slow_jobs` of A's deliveries trickling (or none)."""
    audio = SHORT_CLIP.read_bytes()
    with tempfile.TemporaryDirectory() as tmp, receiver(trickle_s) as (slow, _), receiver(0) as (fast, got):
        env = server_env(Path(tmp), None, LOCALSCRIBE_WEBHOOK_RETRY_S="1", LOCALSCRIBE_WORKERS="2")
        server = start_in(root, Path(tmp), env)
        try:
            key_b = new_key(server, root)
            with (
                httpx.Client(base_url=server.url, headers={"Authorization": API_KEY}, timeout=30) as a,
                httpx.Client(base_url=server.url, headers={"Authorization": key_b}, timeout=30) as b,
            ):
                upload_a = a.post("/v2/upload", content=audio).json()["upload_url"]
                upload_b = b.post("/v2/upload", content=audio).json()["upload_url"]
                if trickling:
                    for _ in range(slow_jobs):
                        a.post("/v2/transcript", json={"audio_url": upload_a, "webhook_url": slow + "/a"})
                    time.sleep(2.0)  # A's deliveries are under way
                delays = []
                for _ in range(fast_jobs):
                    sent = time.monotonic()
                    tid = b.post("/v2/transcript", json={"audio_url": upload_b, "webhook_url": fast + "/b"})
                    tid = tid.json()["id"]
                    deadline = sent + slow_jobs * trickle_s + 60
                    while tid not in got and time.monotonic() < deadline:
                        time.sleep(0.02)
                    delays.append(got.get(tid, float("nan")) - sent)
                return delays
        finally:
            server.terminate()
            server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root-before", type=Path, help="a full checkout of the code before the change")
    parser.add_argument("--slow-jobs", type=int, default=3)
    parser.add_argument("--fast-jobs", type=int, default=5)
    parser.add_argument("--trickle-s", type=int, default=20, help="seconds the slow receiver takes to answer")
    args = parser.parse_args()
    roots = [("after", REPO)] + ([("before", args.root_before)] if args.root_before else [])
    rows, results = [], []
    for label, root in roots:
        for trickling in (False, True):
            delays = run(root, trickling, args.slow_jobs, args.fast_jobs, args.trickle_s)
            results.append({"code": label, "trickling": trickling, "delays_s": delays})
            print(json.dumps(results[-1]), flush=True)
            rows.append(
                [
                    label,
                    f"{args.slow_jobs} trickling" if trickling else "idle",
                    f"{statistics.median(delays):.2f}",
                    f"{max(delays):.2f}",
                ]
            )
    print_table(
        "Account B's webhook delay (submit → received)",
        ["code", "account A's receiver", "p50 s", "max s"],
        rows,
    )
    write_json(
        "webhook_isolation",
        {
            "machine": machine_info(),
            "args": vars(args) | {"root_before": str(args.root_before)},
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
