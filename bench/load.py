"""Load held (issue 19): creates/s and GETs/s with p50/p99 at 1 to 128 concurrent clients.

For each database (SQLite, PostgreSQL) a `localscribe serve` with the mock engine gets, row by row:

- `create`: N clients each POST /v2/transcript back to back for `--seconds` (the jobs, one second of
  jfk.flac each, run meanwhile on the server's workers, as they would in a CI suite);
- `get`: N clients each GET /v2/transcript/{id} of finished transcripts back to back for `--seconds`
  (after the queue has drained, so the row measures GETs and not the backlog of the create row).

With `--busy` the same rows run again while the real engine (faster-whisper, `--busy-model`) transcribes
the long LJSpeech file on the same server, so the API's latency is measured with the CPUs busy.

The client: one separate process per row, asyncio + aiohttp, one keep-alive connection per client, so
that the client costs little next to the server; its CPU time is reported beside the server's. The machine
may be shared: each row reports the CPU share other processes took while it ran (`foreign_share`).

    python bench/load.py                          # everything: both databases, mock and busy (~6 min)
    python bench/load.py --databases sqlite --clients 32 --seconds 3 --no-busy
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from _common import (
    API_KEY,
    DOCS_DIR,
    LONG_CLIP,
    SHORT_CLIP,
    CpuMeter,
    ServerProcess,
    crop_to_wav,
    database,
    git_state,
    percentile,
    print_table,
    pyplot,
    running_server,
    upload,
    write_json,
)

CLIENTS = (1, 8, 32, 64, 128)
GOALS = {"create_rps": 300, "create_p99_ms": 250, "get_rps": 1000, "get_p99_ms": 100}  # 32 clients, SQLite


# --- the client (runs in its own process) ------------------------------------------------------------


def client_row(urls: list[str], mode: str, clients: int, seconds: float, target: list[str]) -> dict[str, Any]:
    """N clients hammer one endpoint for `seconds`; latencies (s) of the requests that ended in time.
    Client n talks to `urls[n % len(urls)]` (several API processes: a load balancer's round robin)."""
    return asyncio.run(_client_row(urls, mode, clients, seconds, target))


async def _client_row(
    urls: list[str], mode: str, clients: int, seconds: float, target: list[str]
) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    errors: list[str] = []
    headers = {"Authorization": API_KEY}
    timeout = aiohttp.ClientTimeout(total=60)
    sessions = [
        aiohttp.ClientSession(
            url, headers=headers, connector=aiohttp.TCPConnector(limit=clients), timeout=timeout
        )
        for url in urls
    ]
    try:
        deadline = time.perf_counter() + seconds

        async def one(n: int) -> None:
            http = sessions[n % len(sessions)]
            i = n
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    if mode == "create":
                        resp = await http.post("/v2/transcript", json={"audio_url": target[0]})
                    else:
                        resp = await http.get(f"/v2/transcript/{target[i % len(target)]}")
                    async with resp:
                        await resp.read()
                        if resp.status != 200:
                            errors.append(f"{resp.status}")
                            continue
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    errors.append(type(exc).__name__)
                    continue
                latencies.append(time.perf_counter() - started)
                i += clients

        began = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(clients)))
        wall = time.perf_counter() - began
    finally:
        for http in sessions:
            await http.close()
    return {"latencies": latencies, "errors": errors, "wall_s": wall}


# --- the server side -----------------------------------------------------------------------------------


def finished_transcripts(client: httpx.Client, audio_url: str, count: int) -> list[str]:
    ids = [client.post("/v2/transcript", json={"audio_url": audio_url}).json()["id"] for _ in range(count)]
    deadline = time.monotonic() + 300
    for tid in ids:
        while client.get(f"/v2/transcript/{tid}").json()["status"] not in ("completed", "error"):
            if time.monotonic() > deadline:
                raise TimeoutError("the mock jobs did not finish")
            time.sleep(0.1)
    return ids


def wait_processing(client: httpx.Client, tid: str) -> None:
    deadline = time.monotonic() + 300
    while client.get(f"/v2/transcript/{tid}").json()["status"] != "processing":
        if time.monotonic() > deadline:
            raise TimeoutError("the long job never started")
        time.sleep(0.2)


def drain(client: httpx.Client, timeout_s: float = 600) -> float:
    """Wait until no job is queued or processing (the GET rows then measure GETs, not a backlog)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        busy = [
            client.get("/v2/transcript", params={"status": s, "limit": 1}).json()["transcripts"]
            for s in ("queued", "processing")
        ]
        if not any(busy):
            break
        time.sleep(0.5)
    return time.monotonic() - t0


def measure(
    pool: ProcessPoolExecutor,
    servers: list[ServerProcess],
    mode: str,
    n: int,
    seconds: float,
    target: list[str],
) -> dict[str, Any]:
    client_pid = pool.submit(_pid).result()
    server_pids = [s.proc.pid for s in servers if s.proc is not None]
    urls = [s.url for s in servers]
    with CpuMeter([client_pid, *server_pids]) as meter:
        out = pool.submit(client_row, urls, mode, n, seconds, target).result()
    lat = out["latencies"]
    server_cpu = sum(meter.result[f"cpu_s_pid{i + 1}"] for i in range(len(server_pids)))
    return {
        "mode": mode,
        "clients": n,
        "requests": len(lat),
        "rps": len(lat) / out["wall_s"] if out["wall_s"] > 0 else 0.0,
        "p50_ms": percentile(lat, 50) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "max_ms": max(lat) * 1000 if lat else float("nan"),
        "errors": len(out["errors"]),
        "error_kinds": sorted(set(out["errors"]))[:5],
        "api_processes": len(servers),
        "server_cpu_s": server_cpu,
        "client_cpu_s": meter.result["cpu_s_pid0"],
        "server_cpu_ms_per_request": 1000 * server_cpu / max(1, len(lat)),
        "client_cpu_ms_per_request": 1000 * meter.result["cpu_s_pid0"] / max(1, len(lat)),
        "foreign_share": meter.result["foreign_share"],
        "wall_s": meter.result["wall_s"],
    }


def _pid() -> int:
    import os

    return os.getpid()


def run_database(args: argparse.Namespace, db_name: str, busy: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    overrides = {"LOCALSCRIBE_MOCK_DELAY_S": "0.05"}
    if busy:
        overrides = {"LOCALSCRIBE_ENGINE": "whisper", "LOCALSCRIBE_MODEL": args.busy_model}
        overrides["LOCALSCRIBE_MODELS_DIR"] = str(Path(__file__).resolve().parents[1] / "models")
        overrides["LOCALSCRIBE_WORKERS"] = "1"
    overrides.update(dict(kv.split("=", 1) for kv in args.server_env))
    ctx = multiprocessing.get_context("spawn")
    with (
        database(db_name == "postgres") as db_url,
        running_server(db_url, log_name=f"load-{db_name}{'-busy' if busy else ''}", **overrides) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": API_KEY}, timeout=60) as client,
        ProcessPoolExecutor(1, mp_context=ctx) as pool,
        contextlib.ExitStack() as extras,
    ):
        servers = [server]
        for _ in range(args.api_processes - 1):  # API-only processes on the same database and data dir
            extra = ServerProcess(server.data_dir, server.env, args=["serve", "--no-workers"])
            extras.callback(extra.stop, 15)
            servers.append(extra.start())
        with tempfile.TemporaryDirectory() as tmp:  # jobs of the create rows: one second of speech each
            crop_to_wav(SHORT_CLIP, Path(tmp) / "one-second.wav", 1.0)
            short = upload(client, (Path(tmp) / "one-second.wav").read_bytes())
        if busy:
            long_url = upload(client, LONG_CLIP.read_bytes())
            long_id = client.post("/v2/transcript", json={"audio_url": long_url}).json()["id"]
            wait_processing(client, long_id)
            # the real engine is busy from here on: the creates queue behind it, the GETs read the long job
            targets = [long_id]
        else:
            targets = finished_transcripts(client, short, 20)
        for n in args.clients:
            for mode in args.modes.split(","):
                if mode == "get" and not busy:
                    drain(client)
                target = [short] if mode == "create" else targets
                row = measure(pool, servers, mode, n, args.seconds, target)
                row.update(database=db_name, engine_busy=busy)
                rows.append(row)
                print(
                    f"  {db_name}{' busy' if busy else ''} {mode:6} {n:3} clients: {row['rps']:7.0f}/s "
                    f"p50 {row['p50_ms']:6.1f} ms p99 {row['p99_ms']:7.1f} ms errors {row['errors']} "
                    f"(server {row['server_cpu_ms_per_request']:.2f} ms CPU/request, client "
                    f"{row['client_cpu_ms_per_request']:.2f} ms, others "
                    f"{row['foreign_share']:.0%} of the CPUs)",
                    flush=True,
                )
        if busy:
            status = client.get(f"/v2/transcript/{targets[0]}").json()["status"]
            print(f"  the long job was {status} at the end of the rows")
    return rows


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), sharex=True)
    styles = {
        ("sqlite", False): ("tab:blue", "-"),
        ("postgres", False): ("tab:orange", "-"),
        ("sqlite", True): ("tab:blue", ":"),
        ("postgres", True): ("tab:orange", ":"),
    }
    for col, mode in enumerate(("create", "get")):
        for (db_name, busy), (color, style) in styles.items():
            sel = [
                r for r in rows if r["mode"] == mode and r["database"] == db_name and r["engine_busy"] == busy
            ]
            if not sel:
                continue
            label = f"{db_name}{' + real engine busy' if busy else ''}"
            xs = [r["clients"] for r in sel]
            axes[0][col].plot(xs, [r["rps"] for r in sel], style, color=color, marker="o", label=label)
            p99 = [r["p99_ms"] for r in sel]
            axes[1][col].plot(xs, p99, style, color=color, marker="o", label=f"{label} p99")
            axes[1][col].plot(xs, [r["p50_ms"] for r in sel], style, color=color, marker="x", alpha=0.5)
        goal_rps = GOALS[f"{mode}_rps"]
        goal_p99 = GOALS[f"{mode}_p99_ms"]
        goal = f"goal at 32 clients: {goal_rps}/s"
        axes[0][col].axhline(goal_rps, color="grey", lw=0.8, ls="--", label=goal)
        axes[1][col].axhline(goal_p99, color="grey", lw=0.8, ls="--", label=f"goal p99 {goal_p99} ms")
        axes[0][col].set_title(f"{'POST' if mode == 'create' else 'GET'} /v2/transcript: requests/s")
        axes[1][col].set_title("latency p99 (o) and p50 (x), ms")
        axes[1][col].set_yscale("log")
        axes[1][col].set_xlabel("concurrent clients")
        axes[1][col].set_xscale("log", base=2)
        for ax in (axes[0][col], axes[1][col]):
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    share = max((r["foreign_share"] for r in rows), default=0.0)
    fig.suptitle(f"LocalScribe under load (mock engine; other processes took up to {share:.0%} of the CPUs)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--databases", default="sqlite,postgres")
    p.add_argument("--clients", default=",".join(map(str, CLIENTS)))
    p.add_argument("--seconds", type=float, default=4.0, help="per row")
    p.add_argument("--busy", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--busy-model", default="base")
    p.add_argument("--plot", default=str(DOCS_DIR / "load.png"), help="'' for none")
    p.add_argument("--server-env", action="append", default=[], help="LOCALSCRIBE_X=value for the server")
    p.add_argument("--modes", default="create,get")
    p.add_argument(
        "--api-processes",
        type=int,
        default=1,
        help="more `serve --no-workers` processes on the same database; the clients alternate between them",
    )
    args = p.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    rows: list[dict[str, Any]] = []
    for db_name in args.databases.split(","):
        for busy in (False, True) if args.busy else (False,):
            print(f"{db_name}{', real engine busy on the long file' if busy else ''}:", flush=True)
            rows += run_database(args, db_name, busy)
    print_table(
        "load (requests/s, latency ms, server and client CPU ms per request, others' share of the CPUs)",
        ["db", "busy", "mode", "clients", "req/s", "p50", "p99", "max", "errors", "cpu/req", "client"]
        + ["others"],
        [
            [
                r["database"],
                "yes" if r["engine_busy"] else "no",
                r["mode"],
                r["clients"],
                r["rps"],
                r["p50_ms"],
                r["p99_ms"],
                r["max_ms"],
                r["errors"],
                r["server_cpu_ms_per_request"],
                r["client_cpu_ms_per_request"],
                f"{r['foreign_share']:.0%}",
            ]
            for r in rows
        ],
    )
    if args.plot:
        write_json("load.json", {"rows": rows, "args": {**vars(args)}, **git_state(), "argv": sys.argv})
        plot(rows, Path(args.plot))
        print(f"plot: {args.plot}")
    print(json.dumps({"errors": sum(r["errors"] for r in rows)}))


if __name__ == "__main__":
    main()
