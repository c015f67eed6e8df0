"""Issue 14: how fast a 100 MB JSON body without a key is refused, and what /health answers meanwhile.

A raw socket sends `POST /v2/realtime/token` with `Content-Length: 100 MB` and no Authorization header, the
body in 1 MiB pieces, and notes when the first byte of an answer arrives (the server may answer before the
body is sent). Meanwhile another thread asks GET /health every 20 ms. Reported: time to the answer and its
status, /health p50/p99/max during the attempt, the server's peak RSS before and after.

    python bench/reject_body.py [--mb 100]
"""

from __future__ import annotations

import argparse
import select
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from _common import percentile, running_server, write_json

CHUNK = 1 << 20


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def send_unauthenticated(url: str, size: int) -> tuple[float, str, int]:
    """Seconds until the first answer byte, the status line, and how many body bytes went out by then."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.setblocking(True)
    head = (
        f"POST /v2/realtime/token HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode()
    started = time.perf_counter()
    sock.sendall(head)
    chunk = b"x" * CHUNK
    sent = 0
    answered = None
    try:
        while sent < size:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                answered = time.perf_counter()
                break
            piece = chunk[: min(CHUNK, size - sent)]
            sock.sendall(piece)
            sent += len(piece)
    except OSError:  # the server closed the connection after answering
        pass
    if answered is None:
        select.select([sock], [], [], 120)
        answered = time.perf_counter()
    status = sock.recv(4096).split(b"\r\n", 1)[0].decode(errors="replace")
    sock.close()
    return answered - started, status, sent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mb", type=int, default=100)
    args = p.parse_args()
    with running_server(None, LOCALSCRIBE_MOCK_DELAY_S="0") as server:
        assert server.proc is not None
        rss_before = peak_rss_mb(server.proc.pid)
        health: list[float] = []
        stop = threading.Event()

        def poll() -> None:
            with httpx.Client(base_url=server.url, timeout=60) as c:
                while not stop.is_set():
                    t = time.perf_counter()
                    c.get("/health")
                    health.append(time.perf_counter() - t)
                    time.sleep(0.02)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        time.sleep(0.5)
        idle = list(health)
        reject_s, status, sent = send_unauthenticated(server.url, args.mb * CHUNK)
        time.sleep(0.5)
        stop.set()
        poller.join()
        during = health[len(idle) :]
        out = {
            "body_mb": args.mb,
            "answer": status,
            "time_to_answer_ms": reject_s * 1000,
            "body_sent_mb_before_answer": sent / CHUNK,
            "health_idle_p50_ms": percentile(idle, 50) * 1000,
            "health_during_p50_ms": percentile(during, 50) * 1000,
            "health_during_p99_ms": percentile(during, 99) * 1000,
            "health_during_max_ms": max(during) * 1000 if during else float("nan"),
            "server_peak_rss_mb_before": rss_before,
            "server_peak_rss_mb_after": peak_rss_mb(server.proc.pid),
        }
    for k, v in out.items():
        print(f"{k:32} {v:.1f}" if isinstance(v, float) else f"{k:32} {v}")
    write_json("reject_body.json", out)


if __name__ == "__main__":
    main()
