"""Slow peers: how long half-sent requests hold a connection, and /health latency while they do.

Opens N connections that send part of a request line and then nothing (a slowloris), and N that send headers
and part of a declared body, against two servers in the same run: the defaults (header timeout 10 s, body
timeout 60 s unless --body-timeout), and one whose guard is pushed out of reach (the behaviour before
server/http_guard.py). Reports when the server closed each connection and /health latency percentiles
during the attack.

    python bench/slow_peers.py --peers 50 --window 20 --body-timeout 10
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from typing import Any

import httpx
from _common import percentile, print_table, running_server, write_json

from tests.support.server import API_KEY

UNREACHABLE_S = "1000000"


def _hold(address: tuple[str, int], payload: bytes, window: float, closed_at: list[float], t0: float) -> None:
    try:
        with socket.create_connection(address, timeout=5) as s:
            s.sendall(payload)
            s.settimeout(max(0.1, window - (time.monotonic() - t0)))
            try:
                while s.recv(4096):
                    pass
                closed_at.append(time.monotonic() - t0)
            except (TimeoutError, ConnectionResetError):
                if time.monotonic() - t0 < window:
                    closed_at.append(time.monotonic() - t0)
    except OSError:
        closed_at.append(time.monotonic() - t0)  # refused outright (connection cap)


def attack(url: str, port: int, peers: int, window: float) -> dict[str, Any]:
    address = ("127.0.0.1", port)
    header_payload = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "
    body_payload = (
        b"POST /v2/upload HTTP/1.1\r\nHost: x\r\nAuthorization: " + API_KEY.encode()
        + b"\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 100
    )  # fmt: skip
    closed: dict[str, list[float]] = {"headers": [], "body": []}
    t0 = time.monotonic()
    threads = [
        threading.Thread(target=_hold, args=(address, payload, window, closed[kind], t0), daemon=True)
        for kind, payload in (("headers", header_payload), ("body", body_payload))
        for _ in range(peers)
    ]
    for t in threads:
        t.start()
    latencies: list[float] = []
    failures = 0
    with httpx.Client(timeout=5) as c:
        while time.monotonic() - t0 < window:
            start = time.perf_counter()
            try:
                c.get(f"{url}/health").raise_for_status()
                latencies.append((time.perf_counter() - start) * 1000)
            except httpx.HTTPError:
                failures += 1
            time.sleep(0.1)
    for t in threads:
        t.join(timeout=window + 10)
    return {
        "closed_headers": len(closed["headers"]),
        "closed_body": len(closed["body"]),
        "headers_closed_p50_s": percentile(closed["headers"], 50),
        "headers_closed_max_s": max(closed["headers"], default=float("nan")),
        "body_closed_p50_s": percentile(closed["body"], 50),
        "body_closed_max_s": max(closed["body"], default=float("nan")),
        "health_p50_ms": percentile(latencies, 50),
        "health_p95_ms": percentile(latencies, 95),
        "health_failures": failures,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--peers", type=int, default=50, help="slow connections of each kind")
    p.add_argument("--window", type=float, default=20.0, help="seconds to observe")
    p.add_argument("--body-timeout", type=float, default=10.0)
    args = p.parse_args()
    rows, results = [], {}
    for name, overrides in (
        ("guarded", {"LOCALSCRIBE_BODY_TIMEOUT_S": str(args.body_timeout)}),
        (
            "unguarded",
            {"LOCALSCRIBE_HEADER_TIMEOUT_S": UNREACHABLE_S, "LOCALSCRIBE_BODY_TIMEOUT_S": UNREACHABLE_S},
        ),
    ):
        with running_server(LOCALSCRIBE_ENGINE="mock", **overrides) as server:
            result = attack(server.url, server.port, args.peers, args.window)
        results[name] = result
        rows.append([name, *result.values()])
    print_table(
        f"{args.peers}+{args.peers} slow peers, observed {args.window:.0f} s",
        ["server", *next(iter(results.values())).keys()],
        rows,
    )
    write_json("slow_peers.json", {"args": vars(args), "results": results})


if __name__ == "__main__":
    main()
