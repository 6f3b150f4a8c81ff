"""Streamed chunks/s the bench holds without being client-bound, with 1 worker and with N.

Run: ``python benchmarks/workers_curve.py [--workers 1,2] [--concurrency 32,64,128,256]
      [--itl-ms 20] [--jitter 0] [--ramp 0] [--reply-tokens 50] [--server lean|twin]``

One server serves every run in its own process: by default `benchmarks/lean_sse_server.py`
(the twin's answer replayed on a bare asyncio socket, a few µs of CPU per chunk, so that on a
small machine the client is what runs out first); `--server twin` uses ``glm-harness serve`` (no
reasoning: one token per chunk), whose own CPU then caps the curve. For each worker count,
``glm-harness bench --workers N`` sweeps the levels against it, closed loop, twice as many
requests as slots. Each level's chunks/s is its `output_tokens_per_s`; the verdict is the
report's own client-bound rule (harness.bench.health). The figure asked for is the highest
chunks/s of a level not client-bound, per worker count, and its growth from the first count to
the others.

Two regimes. By default (no jitter, no ramp) every stream of a level is in lock-step: a round's
streams end in the same millisecond, and each worker's loop then starts its share of the next
round in one go; that burst, not CPU, is what binds a worker, and it halves with each worker
added. With `--jitter 0.3 --ramp 1.05` the streams spread out and a worker is bound by CPU; on a
machine whose cores the server and the parent share, the curve then measures the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
HARNESS = [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main())"]


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=_ints, default=[1, 2])
    parser.add_argument("--concurrency", default="32,64,128,256")
    parser.add_argument("--ttft-ms", type=float, default=50.0)
    parser.add_argument("--itl-ms", type=float, default=20.0)
    parser.add_argument("--jitter", type=float, default=0.0,
                        help="the server's gaps' coefficient of variation (0: every stream in lock-step)")
    parser.add_argument("--ramp", type=float, default=0.0,
                        help="bench --ramp: seconds over which a level's slots start (default: 0, "
                             "all at once; a request lasts ttft + reply tokens x itl)")
    parser.add_argument("--reply-tokens", type=int, default=50)
    parser.add_argument("--server", choices=("lean", "twin"), default="lean")
    args = parser.parse_args()
    requests = 2 * max(_ints(args.concurrency))
    timing = ["--port", "0", "--ttft-ms", f"{args.ttft_ms:g}", "--itl-ms", f"{args.itl_ms:g}",
              "--jitter", f"{args.jitter:g}", "--reply-tokens", str(args.reply_tokens)]
    server = ([sys.executable, str(Path(__file__).with_name("lean_sse_server.py")), *timing]
              if args.server == "lean" else
              [*HARNESS, "serve", *timing, "--reasoning-tokens", "0"])
    serve = subprocess.Popen(server, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert serve.stdout is not None
        match = re.search(r"(http://\S+)", serve.stdout.readline())
        if match is None:
            print(f"the {args.server} server did not start", file=sys.stderr)
            return 2
        best: dict[int, float] = {}
        print(f"server: {args.server}, jitter {args.jitter:g}; ramp {args.ramp:g} s; load average at start: "
              f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        print(f"{'workers':>7} {'level':>6} {'chunks/s':>9} {'TTFT p50':>9} {'busiest CPU':>11}  verdict")
        with tempfile.TemporaryDirectory() as tmp:
            for workers in args.workers:
                out = Path(tmp) / f"w{workers}.json"
                subprocess.run([*HARNESS, "bench", "--target", "mock", "--base-url", match.group(1),
                                "--concurrency", args.concurrency, "--requests", str(requests),
                                "--ramp", f"{args.ramp:g}", "--tasks", "none", "--workers", str(workers),
                                "--no-progress",
                                "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
                best[workers] = _table(workers, json.loads(out.read_text()))
        print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        first = args.workers[0]
        for workers in args.workers:
            growth = (f", {best[workers] / best[first]:.2f}x {first} worker(s)"
                      if best.get(first) and workers != first else "")
            print(f"max chunks/s not client-bound with {workers} worker(s): "
                  f"{best[workers]:.0f}{growth}" if best[workers] else
                  f"max chunks/s not client-bound with {workers} worker(s): none (every level bound)")
    finally:
        serve.terminate()
        serve.wait(timeout=10)
    return 0


def _table(workers: int, report: dict) -> float:  # type: ignore[type-arg]
    best = 0.0
    for level in report["levels"]:
        health = level["health"] or {}
        rate = level["output_tokens_per_s"] or 0.0
        cpus = [w["health"]["cpu_percent"] for w in level["workers"] if w["health"]] or [
            health.get("cpu_percent", 0.0)]
        ttft = level["summaries"]["ttft_ms"]["p50"]
        bound = health.get("client_bound", True)
        verdict = "client-bound: " + "; ".join(health.get("reasons", [])) if bound else "kept up"
        print(f"{workers:>7} {level['name']:>6} {rate:>9.0f} {ttft or 0:>9.1f} {max(cpus):>10.0f}%  "
              f"{verdict[:160]}")
        if not bound:
            best = max(best, rate)
    return best


if __name__ == "__main__":
    sys.exit(main())
