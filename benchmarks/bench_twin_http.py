"""Streamed SSE chunks per second from the GLM twin over real HTTP, the server on ONE core.

Run: ``python benchmarks/bench_twin_http.py [--seconds 8] [--concurrency 1 8 32]``

The twin runs as its own process (``python -m harness.mock.server``, pinned to one CPU with
``taskset -c`` or ``sched_setaffinity``) with no delays and long answers (2000 content tokens,
so 2002 SSE events per response, `[DONE]` included). This process is the client, pinned to
another CPU: N concurrent httpx async streaming requests, each repeated back to back. Events are
counted as they arrive (each ends in a blank line) and only inside a measuring window that opens
after a warm-up, so neither connection set-up nor the streams cut at the end skew the rates.

Both processes' CPU use over the window is printed: a side near 100% is the bottleneck; when
neither is (another load shares the cores), `events/server-CPU-s` (events per second of the
server's own CPU time) is the figure that survives the noise: the rate one free core would give.
The figures are the twin's ceiling on this machine, not GLM's: a benchmark whose target is the
twin measures its own client once the rate it asks for nears them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
try:
    from harness.mock import TWIN_KEY
except ModuleNotFoundError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))
    from harness.mock import TWIN_KEY

MB = 1_000_000
REPLY_TOKENS = 2000
BODY = {"model": "glm-4.6", "stream": True, "thinking": {"type": "enabled"},
        "messages": [{"role": "user", "content": "Tell me a long story"}]}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Counters:
    events: int = 0
    bytes: int = 0
    responses: int = 0
    errors: int = 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpus() -> tuple[int, int | None]:
    """The server's CPU and the client's (None when only one is available)."""
    available = sorted(os.sched_getaffinity(0))
    return available[0], (available[1] if len(available) > 1 else None)


def start_server(port: int, cpu: int) -> tuple[subprocess.Popen[bytes], list[str]]:
    argv = [sys.executable, "-m", "harness.mock.server", "--port", str(port), "--ttft-ms", "0",
            "--itl-ms", "0", "--reply-tokens", str(REPLY_TOKENS), "--reasoning-tokens", "0"]
    taskset = shutil.which("taskset")
    command = [taskset, "-c", str(cpu), *argv] if taskset else argv
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)}
    pin = None if taskset else (lambda: os.sched_setaffinity(0, {cpu}))
    server = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                              preexec_fn=pin)
    assert server.stdout is not None
    line = server.stdout.readline().decode()
    if "listening on" not in line:
        server.kill()
        raise SystemExit(f"twin did not start: {line!r}")
    return server, command


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


async def stream_forever(http: httpx.AsyncClient, url: str, counters: Counters) -> None:
    headers = {"Authorization": f"Bearer {TWIN_KEY}"}
    while True:
        try:
            async with http.stream("POST", url, json=BODY, headers=headers) as response:
                response.raise_for_status()
                last = b""
                async for piece in response.aiter_raw():
                    counters.events += (last + piece).count(b"\n\n")
                    counters.bytes += len(piece)
                    last = piece[-1:]
                counters.responses += 1
        except httpx.HTTPError:
            counters.errors += 1


async def measure(url: str, concurrency: int, warmup_s: float, window_s: float,
                  server_pid: int) -> dict[str, float]:
    counters = Counters()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        tasks = [asyncio.create_task(stream_forever(http, url, counters))
                 for _ in range(concurrency)]
        await asyncio.sleep(warmup_s)
        e0, b0, r0 = counters.events, counters.bytes, counters.responses
        s0, c0, t0 = cpu_seconds(server_pid), time.process_time(), time.perf_counter()
        await asyncio.sleep(window_s)
        elapsed = time.perf_counter() - t0
        s1, c1 = cpu_seconds(server_pid), time.process_time()
        events, size = counters.events - e0, counters.bytes - b0
        responses = counters.responses - r0
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "events_s": events / elapsed, "mb_s": size / elapsed / MB,
        "responses_s": responses / elapsed, "server_cpu": (s1 - s0) / elapsed,
        "client_cpu": (c1 - c0) / elapsed, "errors": counters.errors,
        "per_cpu_s": events / max(s1 - s0, 1e-9),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measuring window per level")
    parser.add_argument("--warmup", type=float, default=1.5, help="warm-up per level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args()

    server_cpu, client_cpu = cpus()
    port = free_port()
    server, command = start_server(port, server_cpu)
    try:
        if client_cpu is not None:
            os.sched_setaffinity(0, {client_cpu})
        else:
            print("warning: one CPU only; client and server share it", file=sys.stderr)
        print(f"benchmark: {shlex.join([sys.executable, *sys.argv])}")
        print(f"server:    {shlex.join(command)}")
        print(f"client:    this process, pinned to CPU {client_cpu}; httpx {httpx.__version__}, "
              f"Python {sys.version.split()[0]}; {args.seconds:g} s window after "
              f"{args.warmup:g} s warm-up per level")
        print(f"each response: {REPLY_TOKENS + 2} SSE events (content chunks, final, [DONE])\n")
        url = f"http://127.0.0.1:{port}/api/paas/v4/chat/completions"
        header = (f"{'concurrency':>11} {'events/s':>10} {'MB/s':>7} {'responses/s':>11} "
                  f"{'server CPU':>10} {'client CPU':>10} {'events/server-CPU-s':>19} "
                  f"{'errors':>6}")
        print(header)
        print("-" * len(header))
        for concurrency in args.concurrency:
            r = asyncio.run(measure(url, concurrency, args.warmup, args.seconds, server.pid))
            print(f"{concurrency:>11} {r['events_s']:>10,.0f} {r['mb_s']:>7.2f} "
                  f"{r['responses_s']:>11.2f} {r['server_cpu']:>10.0%} {r['client_cpu']:>10.0%} "
                  f"{r['per_cpu_s']:>19,.0f} {r['errors']:>6.0f}", flush=True)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
