"""What `glm-harness proxy` adds to each streamed chunk, against a direct connection, in one run.

Run: ``python benchmarks/proxy_overhead.py [--concurrency 1 32] [--chunks 100] [--itl-ms 20]
      [--rounds 3]``

Three processes on loopback: an upstream that streams a GLM-shaped answer (the twin's own chunks,
rendered once) with a chunk every `itl` ms, each chunk preceded by an SSE comment `: t=<ns>` that
stamps the moment it was written (CLOCK_MONOTONIC, which every process on the machine shares);
the proxy (`python -m harness.cli proxy --upstream ...`, judging every exchange as it would in
use); and this process, the client, which reads each stream and takes, for every chunk, its
arrival time minus its stamp. The same client reads the same streams directly from the upstream
and through the proxy, at each concurrency, so what the proxy adds per chunk is the difference
of the two distributions (p50 and p99 of per-chunk delay; the targets: +0.2 ms and +1 ms).

The machine's other load shows in both columns alike; run it on a quiet machine for figures to
quote, and read the direct column as the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
try:
    import harness  # noqa: F401
except ModuleNotFoundError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))

from harness.mock import TWIN_KEY  # noqa: E402

CHAT = "/api/paas/v4/chat/completions"
_STAMP = re.compile(rb": t=(\d+)\n")


# -- the upstream (run as `proxy_overhead.py --serve`) --------------------------------------------
def _pieces(chunks: int) -> list[bytes]:
    from harness.mock import GLMTwin, Style, TwinConfig

    twin = GLMTwin(TwinConfig(style=Style(reply_tokens=chunks, reasoning_tokens=0)))
    return twin.stream_pieces({"model": "glm-4.6", "thinking": {"type": "disabled"}, "stream": True,
                               "messages": [{"role": "user", "content": "hello"}]})


async def _serve(chunks: int, itl_s: float) -> None:
    pieces = _pieces(chunks)
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
            b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length:\s*(\d+)", request)
                await reader.readexactly(int(length.group(1)) if length else 0)
                writer.write(head)
                start = time.monotonic()
                for n, piece in enumerate(pieces):
                    await asyncio.sleep(max(0.0, start + n * itl_s - time.monotonic()))
                    data = b": t=%d\n" % time.perf_counter_ns() + piece
                    writer.write(b"%x\r\n%s\r\n" % (len(data), data))
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, backlog=1024)
    print(f"listening on http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


# -- the client ---------------------------------------------------------------------------------
async def _delays(base: str, concurrency: int, rounds: int) -> list[float]:
    """Per-chunk delays (ms) of `rounds` streams on each of `concurrency` connections."""
    body = {"model": "glm-4.6", "stream": True, "messages": [{"role": "user", "content": "hello"}]}
    found: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one() -> None:
            for _ in range(rounds):
                async with client.stream("POST", base + CHAT, json=body,
                                         headers={"Authorization": f"Bearer {TWIN_KEY}"}) as answer:
                    async for data in answer.aiter_raw():
                        now = time.perf_counter_ns()
                        found.extend((now - int(t)) / 1e6 for t in _STAMP.findall(data))

        await asyncio.gather(*(one() for _ in range(concurrency)))
    return found


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _cpu_s(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) of a process, and of its children (the proxy's judging
    process); Linux /proc; NaN elsewhere."""
    try:
        children = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _stat(int(p.name))[1] == pid]
        return _stat(pid)[0], sum(_stat(p)[0] for p in children)
    except OSError:
        return float("nan"), float("nan")


def _stat(pid: int) -> tuple[float, int]:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, -1
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), int(fields[1])


def _start(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
    if not match:
        process.kill()
        raise SystemExit(f"could not start {command[2:4]}: {line!r}")
    return process, match.group(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--chunks", type=int, default=100)
    parser.add_argument("--itl-ms", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.chunks, args.itl_ms / 1000))
        return 0
    upstream, up_url = _start([sys.executable, __file__, "--serve", "--chunks", str(args.chunks),
                               "--itl-ms", str(args.itl_ms)])
    report = Path(tempfile.mkdtemp()) / "proxy.json"
    proxy, proxy_url = _start([sys.executable, "-m", "harness.cli", "proxy", "--port", "0",
                               "--upstream", up_url, "--out", str(report)])
    try:
        print(f"per-chunk delay (ms, arrival - upstream write), {args.chunks} chunks every "
              f"{args.itl_ms:g} ms, {args.rounds} stream(s) per connection; cores: {os.cpu_count()}, "
              f"load average before: {os.getloadavg()[0]:.2f}")
        print(f"{'conc':>4} {'chunks':>7} | {'direct p50':>10} {'p99':>7} | {'proxy p50':>9} {'p99':>7} | "
              f"{'added p50':>9} {'p99':>7} | {'ratio p50':>9} {'p99':>6}")
        for concurrency in args.concurrency:
            asyncio.run(_delays(up_url, concurrency, 1))  # warm-up: connections, caches
            direct = asyncio.run(_delays(up_url, concurrency, args.rounds))
            asyncio.run(_delays(proxy_url, concurrency, 1))
            time.sleep(1)  # the warm-up's judging done
            forwarding, judging = _cpu_s(proxy.pid)
            via = asyncio.run(_delays(proxy_url, concurrency, args.rounds))
            time.sleep(1)
            after = _cpu_s(proxy.pid)
            forwarding, judging = after[0] - forwarding, after[1] - judging
            d50, d99, p50, p99 = _pct(direct, .5), _pct(direct, .99), _pct(via, .5), _pct(via, .99)
            print(f"{concurrency:>4} {len(via):>7} | {d50:>10.3f} {d99:>7.3f} | {p50:>9.3f} {p99:>7.3f} | "
                  f"{p50 - d50:>+9.3f} {p99 - d99:>+7.3f} | {p50 / d50:>9.2f} {p99 / d99:>6.2f}")
            print(f"{'':>4} {'':>7} | mean direct {statistics.fmean(direct):.3f}, "
                  f"via proxy {statistics.fmean(via):.3f}; proxy CPU per chunk: forwarding "
                  f"{forwarding / len(via) * 1e6:.0f} us, judging (its own process) {judging / len(via) * 1e6:.0f} us")
    finally:
        proxy.send_signal(signal.SIGINT)
        proxy.communicate(timeout=60)
        upstream.kill()
        upstream.wait()
    document = json.loads(report.read_text())
    print(f"load average after: {os.getloadavg()[0]:.2f}; proxy report: "
          f"{document['totals']['exchanges']} exchange(s), "
          f"{document['totals']['checked']} checked, {document['totals']['violations']} violation(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
