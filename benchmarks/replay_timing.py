"""How faithfully `ReplayTwin` reproduces a recording's chunk timing, through both adapters.

Run: ``python benchmarks/replay_timing.py [--repeats 20] [--tokens 60] [--speed 1]``

1. Record: a stream from the simulated twin over real HTTP (uvicorn on loopback), with known
   timing (TTFT 50 ms, inter-token gap 10 ms, jitter 0.5, seed 1), as a scrubbed transcript.
2. Replay it `--repeats` times through the respx router (sync and async httpx clients), through
   the HTTP twin in a uvicorn thread, and through `glm-harness serve --replay` in its own
   process, and compare each chunk's arrival (ms after the request was sent) with the recording:
   |replayed - recorded|, matched by byte offset, so chunks coalesced by TCP are compared where
   their last byte arrived.

Prints p50 / p99 / max absolute error in ms per adapter, and the mean signed error
(a constant offset, e.g. one loopback round trip, shows up there). Wall-clock figures: they
depend on the machine and its load, which is why they live here and not in tests/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
try:
    import harness  # noqa: F401
except ModuleNotFoundError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))

from harness.client import AsyncGLMClient, Exchange, GLMClient  # noqa: E402
from harness.mock import GLMTwin, Style, Timing, TwinConfig, twin_router  # noqa: E402
from harness.mock.replay import ReplayTwin  # noqa: E402
from harness.mock.server import running_twin  # noqa: E402
from harness.targets import MOCK_BASE_URL, mock_target  # noqa: E402
from harness.transcript import Transcript, from_exchange, save  # noqa: E402

MODEL = "glm-4.6"
REQUEST = {"model": MODEL, "stream": True, "max_tokens": 512, "thinking": {"type": "disabled"},
           "messages": [{"role": "user", "content": "Tell me about timing."}]}
TIMEOUT = httpx.Timeout(30.0)


@contextlib.contextmanager
def served(*options: str) -> Iterator[str]:
    """`python -m harness.mock.server --port 0 OPTIONS` in its own process; yields its base URL."""
    command = [sys.executable, "-m", "harness.mock.server", "--port", "0", *options]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        found = re.search(r"(http://\S+)", line)
        if not found:
            raise RuntimeError(f"server did not start: {line!r} {server.stderr.read() if server.stderr else ''}")
        yield found[1]
    finally:
        server.terminate()
        server.wait(timeout=10)


def record(tokens: int, in_process: bool) -> Transcript:
    """The stream, recorded over HTTP from a twin in its own process (or a uvicorn thread)."""
    timing = Timing(ttft_ms=50, itl_ms=10, jitter=0.5, seed=1)
    with contextlib.ExitStack() as stack:
        if in_process:
            config = TwinConfig(timing=timing, style=Style(reply_tokens=tokens))
            base_url = stack.enter_context(running_twin(GLMTwin(config))).base_url
        else:
            base_url = stack.enter_context(served(
                "--ttft-ms", "50", "--itl-ms", "10", "--jitter", "0.5", "--seed", "1",
                "--reply-tokens", str(tokens)))
        client = stack.enter_context(GLMClient(mock_target(MODEL, base_url), timeout=TIMEOUT))
        client.send(REQUEST)  # warm the connection and the code paths
        exchange = client.send(REQUEST)
    assert exchange.status == 200 and not exchange.transport_error, exchange.transport_error
    return from_exchange(exchange, scenario="replay-timing")


def errors_ms(transcript: Transcript, exchange: Exchange) -> list[float]:
    """Signed error per recorded chunk: when its last byte arrived in the replay, minus when it
    arrived in the recording (ms after the request was sent)."""
    assert exchange.body == transcript.response_bytes, "replayed bytes differ from the recording"
    replay: list[tuple[int, float]] = []
    end = 0
    for at, data in exchange.chunks:
        end += len(data)
        replay.append((end, (at - exchange.sent_at) * 1000))
    out, j, end = [], 0, 0
    for chunk in transcript.chunks or []:
        end += len(chunk.raw)
        while replay[j][0] < end:
            j += 1
        out.append(replay[j][1] - chunk.t_ms)
    return out


def via_respx_sync(twin: ReplayTwin) -> Exchange:
    with twin_router(twin, base_url=MOCK_BASE_URL), GLMClient(mock_target(MODEL), timeout=TIMEOUT) as client:
        return client.send(REQUEST)


def via_respx_async(twin: ReplayTwin) -> Exchange:
    async def go() -> Exchange:
        with twin_router(twin, base_url=MOCK_BASE_URL):
            async with AsyncGLMClient(mock_target(MODEL), timeout=TIMEOUT) as client:
                return await client.send(REQUEST)

    return asyncio.run(go())


def via_http(twin: ReplayTwin, repeats: int) -> list[Exchange]:
    with running_twin(twin) as running, \
            GLMClient(mock_target(MODEL, running.base_url), timeout=TIMEOUT) as client:
        client.send(REQUEST)  # connect once, as the recording did before its measured request
        return [client.send(REQUEST) for _ in range(repeats)]


def via_serve(transcript: Transcript, repeats: int, speed: float) -> list[Exchange]:
    """`glm-harness serve --replay FILE` in its own process (deadline pacing only: the CLI's)."""
    with tempfile.TemporaryDirectory() as folder:
        path = save(transcript, folder)
        with served("--replay", str(path), "--replay-speed", str(speed)) as base_url, \
                GLMClient(mock_target(MODEL, base_url), timeout=TIMEOUT) as client:
            client.send(REQUEST)
            return [client.send(REQUEST) for _ in range(repeats)]


def summary(values: list[float]) -> dict[str, float]:
    absolute = sorted(abs(v) for v in values)
    p99 = absolute[min(len(absolute) - 1, round(0.99 * (len(absolute) - 1)))]
    return {"p50": statistics.median(absolute), "p99": p99, "max": absolute[-1],
            "mean_signed": statistics.fmean(values)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=60, help="content tokens in the recorded stream")
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--record-in-process", action="store_true",
                        help="record from a uvicorn thread in this process (default: a server process)")
    args = parser.parse_args(argv)

    transcript = record(args.tokens, args.record_in_process)
    chunks = transcript.chunks or []
    print(f"recorded {len(chunks)} chunks over {chunks[-1].t_ms:.1f} ms "
          f"(first at {chunks[0].t_ms:.1f} ms); {args.repeats} replays per row, speed x{args.speed:g}")
    if args.speed != 1.0:
        scaled = transcript.model_copy(deep=True)
        for c in scaled.chunks or []:
            c.t_ms /= args.speed
        reference = scaled
    else:
        reference = transcript

    def twin() -> ReplayTwin:
        return ReplayTwin([transcript], speed=args.speed)

    runs: dict[str, Callable[[], list[Exchange]]] = {
        "respx (sync httpx)": lambda: [via_respx_sync(twin()) for _ in range(args.repeats)],
        "respx (async httpx)": lambda: [via_respx_async(twin()) for _ in range(args.repeats)],
        "http (uvicorn thread)": lambda: via_http(twin(), args.repeats),
        "http (serve --replay)": lambda: via_serve(transcript, args.repeats, args.speed),
    }
    print(f"{'adapter':<23} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'mean signed':>12}")
    for adapter, run in runs.items():
        s = summary([e for exchange in run() for e in errors_ms(reference, exchange)])
        print(f"{adapter:<23} {s['p50']:7.3f} {s['p99']:7.3f} {s['max']:7.3f} {s['mean_signed']:+12.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
