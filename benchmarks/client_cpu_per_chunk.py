"""Client CPU per streamed chunk: the bench's client against a raw asyncio socket reader, one run.

Run: ``python benchmarks/client_cpu_per_chunk.py [--concurrency 16] [--requests 64] [--rounds 3]``

One twin (``python -m harness.mock.server``, no jitter, long answers) serves both clients the
same stream in its own process. In this process, alternately, round after round:

* raw: ``asyncio.open_connection``, the same request written by hand, then ``reader.read()``
  until ``[DONE]``, each read stamped with ``time.perf_counter()`` and kept: the least a client
  can do and still know when each chunk came.
* ours: the bench's own path, the one ``LoadRunner`` drives: ``ShardedClient`` ->
  ``BenchHTTPClient.iter_events`` (each read stamped as it lands; HTTP framing and SSE split once
  the response has ended); "+ sample" adds ``build_sample`` (the stream reading, JSON, metrics).
* httpx: the same through ``AsyncGLMClient`` on httpx (what the bench used before, and what the
  contract suites use).

Each side's figure is this process's CPU time (``time.process_time``) over the SSE data events it
received; the ratio is of the medians over rounds. CPU time, not wall time, so another load on
the machine slows both sides without changing the ratio much; the load average is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
try:
    import harness  # noqa: F401
except ModuleNotFoundError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402

from harness.bench.calibrate import twin_process  # noqa: E402
from harness.bench.clients import ShardedClient  # noqa: E402
from harness.bench.metrics import build_sample  # noqa: E402
from harness.client import Exchange, TimedEvent  # noqa: E402
from harness.targets import Target, mock_target  # noqa: E402

BODY = {"messages": [{"role": "user", "content": "Count to a thousand."}], "stream": True,
        "thinking": {"type": "disabled"}}


def _request_bytes(target: Target) -> bytes:
    url = httpx.URL(target.chat_url)
    payload = json.dumps({**BODY, "model": target.model}, separators=(",", ":")).encode()
    headers = {"Host": url.netloc.decode(), "Content-Type": "application/json",
               "Content-Length": str(len(payload)), "Accept": "*/*", **target.headers()}
    head = f"POST {url.raw_path.decode()} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode() + payload


async def raw_client(target: Target, concurrency: int, requests: int) -> tuple[int, float]:
    """Keep-alive connections, one per slot; the response read until the [DONE] event."""
    url = httpx.URL(target.chat_url)
    request = _request_bytes(target)
    pending = iter(range(requests))
    events = 0

    async def slot() -> None:
        nonlocal events
        reader, writer = await asyncio.open_connection(url.host, url.port)
        try:
            for _ in pending:
                writer.write(request)
                reads: list[tuple[float, bytes]] = []
                tail = b""
                while b"data: [DONE]" not in tail:
                    data = await reader.read(65536)
                    if not data:
                        raise ConnectionError("the server closed the connection")
                    reads.append((time.perf_counter(), data))
                    tail = (tail + data)[-64:]
                # the twin ends a chunked body with 0\r\n\r\n after [DONE]; it may come in a
                # later read: drain it so the next response starts clean
                while not tail.endswith(b"0\r\n\r\n"):
                    data = await reader.read(65536)
                    tail = (tail + data)[-64:]
                body = b"".join(d for _, d in reads)
                events += body.count(b"data: ") - 1  # [DONE] is not a chunk
        finally:
            writer.close()

    cpu0 = time.process_time()
    await asyncio.gather(*(slot() for _ in range(concurrency)))
    return events, time.process_time() - cpu0


async def our_client(target: Target, concurrency: int, requests: int, *, samples: bool,
                     fast: bool = True) -> tuple[int, float]:
    pending = iter(range(requests))
    events = 0
    t0 = time.perf_counter()
    async with ShardedClient(target, slots=concurrency, timeout=120.0, fast=fast) as client:

        async def slot(k: int) -> None:
            nonlocal events
            for i in pending:
                timed: list[TimedEvent] = []
                exchange: Exchange | None = None
                async for item in client.for_slot(k).iter_events(BODY):
                    if isinstance(item, Exchange):
                        exchange = item
                    else:
                        timed.append(item)
                assert exchange is not None and exchange.status == 200, exchange
                events += sum(1 for t in timed if not t.event.is_done)
                if samples:
                    build_sample(timed, exchange.sent_at, run_t0=t0, index=i, level="cpu",
                                 phase="measure", scheduled_at=t0, ready_at=t0, exchange=exchange)

        cpu0 = time.process_time()  # the client is built (a TLS context for https) before
        await asyncio.gather(*(slot(k) for k in range(concurrency)))
        return events, time.process_time() - cpu0


async def _measure(side: str, target: Target, concurrency: int, requests: int) -> float:
    if side == "raw":
        events, cpu_s = await raw_client(target, concurrency, requests)
    else:
        events, cpu_s = await our_client(target, concurrency, requests, samples="+" in side,
                                         fast="httpx" not in side)
    return cpu_s / events * 1e6  # µs of client CPU per chunk


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reply-tokens", type=int, default=400)
    parser.add_argument("--itl-ms", type=float, default=1.0)
    args = parser.parse_args()
    command = [sys.executable, "-m", "harness.mock.server", "--port", "0", "--ttft-ms", "1",
               "--itl-ms", f"{args.itl_ms:g}", "--jitter", "0", "--reply-tokens",
               str(args.reply_tokens), "--reasoning-tokens", "0"]
    sides = ("raw", "ours", "ours + sample", "httpx", "httpx + sample")
    figures: dict[str, list[float]] = {side: [] for side in sides}
    with twin_process(command, None) as (base_url, _server):
        target = mock_target(base_url=base_url)
        asyncio.run(_measure("raw", target, args.concurrency, args.concurrency))  # warm both
        asyncio.run(_measure("ours", target, args.concurrency, args.concurrency))
        for _ in range(args.rounds):
            for side in sides:
                figures[side].append(asyncio.run(_measure(side, target, args.concurrency,
                                                          args.requests)))
    load = os.getloadavg()
    print(f"client CPU per SSE chunk, {args.concurrency} streams x {args.requests} requests of "
          f"{args.reply_tokens} tokens, {args.rounds} rounds; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    raw = statistics.median(figures["raw"])
    for side in sides:
        median = statistics.median(figures[side])
        rounds = ", ".join(f"{v:.1f}" for v in figures[side])
        print(f"  {side:14s} {median:7.1f} µs/chunk  ({rounds})  {median / raw:.2f}x raw")
    return 0


if __name__ == "__main__":
    sys.exit(main())
