"""Throughput of harness.sse next to httpx-sse, on the same bytes, in the same process.

Run: ``python benchmarks/bench_sse.py [--mb 20] [--repeats 5]``

The decoder sits on the hot path of the latency benchmark, so it has to be at least as fast as the
parser most Python GLM clients use. Both decoders get identical chunks, and httpx-sse is driven
exactly as ``EventSource.iter_sse`` drives it: httpx's incremental UTF-8 text decoder, then its
``SSELineDecoder``, then ``line.rstrip("\\n")`` into its ``SSEDecoder``. Network and httpx's
response machinery are left out of both, so the figures compare parsing alone.

Input: every recorded GLM stream, repeated to the target size, each stream fed to a fresh
decoder (one HTTP response each, so every stream ends in its own ``[DONE]``) in 4 KiB chunks (a
typical socket read) and one event per chunk (a server flushing after each event, the shape a
latency benchmark sees). Each figure is the best of N repeats, which filters scheduler noise
better than a mean on a shared machine.
"""

from __future__ import annotations

import argparse
import codecs
import gc
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from httpx_sse._decoders import SSEDecoder as HttpxSSEDecoder
from httpx_sse._decoders import SSELineDecoder

REPO_ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = REPO_ROOT.parent / "shared" / "real-traffic" / "streams-and-bodies"

try:
    from harness.sse import SSEDecoder
except ModuleNotFoundError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))
    from harness.sse import SSEDecoder

MB = 1_000_000
_EVENT_END = re.compile(rb"\n\n|\r\n\r\n|\r\r")

Chunked = list[list[bytes]]  # streams, each as the chunks it arrives in
Runner = Callable[[list[bytes]], int]


def load_streams(target_bytes: int) -> list[bytes]:
    streams = [path.read_bytes() for path in sorted(RECORDINGS.glob("*.response.sse"))]
    if not streams:
        sys.exit(f"no recorded streams in {RECORDINGS}")
    one_pass = sum(map(len, streams))
    return streams * max(1, round(target_bytes / one_pass))


def fixed_chunks(data: bytes, size: int) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


def event_chunks(data: bytes) -> list[bytes]:
    """One chunk per event, split just after each event's blank line."""
    chunks, start = [], 0
    for match in _EVENT_END.finditer(data):
        chunks.append(data[start : match.end()])
        start = match.end()
    if start < len(data):
        chunks.append(data[start:])
    return chunks


def run_harness(chunks: list[bytes]) -> int:
    decoder = SSEDecoder()
    count = 0
    for chunk in chunks:
        count += len(decoder.feed(chunk))
    return count + len(decoder.close())


def run_httpx_sse(chunks: list[bytes]) -> int:
    # httpx.Response.iter_text uses this same codec (httpx._decoders.TextDecoder).
    text_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    line_decoder = SSELineDecoder()
    decoder = HttpxSSEDecoder()
    count = 0
    for chunk in chunks:
        text = text_decoder.decode(chunk)
        if not text:  # httpx drops empty text before it reaches the line decoder
            continue
        for line in line_decoder.decode(text):
            if decoder.decode(line.rstrip("\n")) is not None:
                count += 1
    tail = text_decoder.decode(b"", True)
    lines = line_decoder.decode(tail) if tail else []
    for line in [*lines, *line_decoder.flush()]:
        if decoder.decode(line.rstrip("\n")) is not None:
            count += 1
    return count


def best_seconds(runner: Runner, streams: Chunked, repeats: int) -> tuple[float, int]:
    best, events = float("inf"), 0
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        events = sum(runner(chunks) for chunks in streams)
        best = min(best, time.perf_counter() - start)
    return best, events


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20.0, help="input size in MB (default 20)")
    parser.add_argument("--repeats", type=int, default=5, help="best of N (default 5)")
    args = parser.parse_args(argv)

    streams = load_streams(int(args.mb * MB))
    size = sum(map(len, streams))
    chunkings: dict[str, Chunked] = {
        "4 KiB": [fixed_chunks(stream, 4096) for stream in streams],
        "1 event": [event_chunks(stream) for stream in streams],
    }
    runners: dict[str, Runner] = {"harness.sse": run_harness, "httpx-sse": run_httpx_sse}
    print(
        f"input: {size / MB:.1f} MB, {len(streams)} recorded GLM streams "
        f"(fresh decoder per stream), best of {args.repeats}"
    )
    print(f"{'decoder':<12} {'chunking':<9} {'chunks':>8} {'MB/s':>8} {'events/s':>11}")
    for chunking, chunked in chunkings.items():
        n_chunks = sum(map(len, chunked))
        rates: dict[str, float] = {}
        counts: set[int] = set()
        for name, runner in runners.items():
            seconds, events = best_seconds(runner, chunked, args.repeats)
            counts.add(events)
            rates[name] = size / MB / seconds
            print(
                f"{name:<12} {chunking:<9} {n_chunks:>8} {rates[name]:>8.1f}"
                f" {events / seconds:>11,.0f}"
            )
        if len(counts) != 1:
            sys.exit(f"decoders disagree on the event count for {chunking}: {sorted(counts)}")
        ratio = rates["harness.sse"] / rates["httpx-sse"]
        print(f"{'ratio':<12} {chunking:<9} {'':>8} {ratio:>7.2f}x  (harness.sse / httpx-sse)")


if __name__ == "__main__":
    main()
