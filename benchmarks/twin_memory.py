"""The served twin's memory stays flat: RSS from request 1,000 to 10,000, oversized bodies included.

Run: ``python benchmarks/twin_memory.py [--requests 10000] [--oversized-every 100]``

The twin runs as its own process (``python -m harness.mock.server --ttft-ms 0 --itl-ms 0``);
this process sends it `--requests` requests back to back over one keep-alive connection: plain
completions, every `--stream-every`-th one streamed, every `--oversized-every`-th one a body
larger than the twin's cap (``MAX_BODY_BYTES``, answered 400 code 1261 without being kept; every
`--huge-every`-th one is 50 MiB), and
every `--junk-every`-th one JSON nested 100,000 deep (answered 400 code 1210). The server's
VmRSS (from /proc) is sampled at fixed request counts; the run fails (exit 1) when RSS at the
last sample exceeds RSS at request 1,000 by more than `--tolerance` (default 10%), or when any
answer is not the one expected.
"""

from __future__ import annotations

import argparse
import functools
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
try:
    from harness.mock import TWIN_KEY
    from harness.mock.engine import MAX_BODY_BYTES
except ModuleNotFoundError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))
    from harness.mock import TWIN_KEY
    from harness.mock.engine import MAX_BODY_BYTES

SMALL = b'{"model":"glm-4.6","messages":[{"role":"user","content":"hello"}],"thinking":{"type":"disabled"}}'
STREAM = SMALL[:-1] + b',"stream":true}'
DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE_BYTES = 50 * 1024 * 1024


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def start_twin(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "harness.mock.server", "--port", "0", "--ttft-ms", "0", "--itl-ms", "0",
         "--jitter", "0"], stdout=subprocess.PIPE, cwd=root)
    assert server.stdout is not None
    line = server.stdout.readline().decode()
    url = next(word for word in line.split() if word.startswith("http://"))
    return server, url


def oversized_body(size: int) -> bytes:
    head = b'{"model":"glm-4.6","messages":[{"role":"user","content":"'
    return head + b"x" * (size - len(head) - 4) + b'"}]}'


@functools.cache
def huge_body() -> bytes:
    return oversized_body(HUGE_BYTES)


def expected(i: int, args: argparse.Namespace) -> tuple[bytes, int, str | None]:
    if i % args.huge_every == 0:
        return huge_body(), 400, "1261"
    if i % args.oversized_every == 0:
        return oversized_body(MAX_BODY_BYTES + 1 + (i // args.oversized_every) % 3 * 4_000_000), 400, "1261"
    if i % args.junk_every == 0:
        return DEEP, 400, "1210"
    if i % args.stream_every == 0:
        return STREAM, 200, None
    return SMALL, 200, None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--oversized-every", type=int, default=100)
    parser.add_argument("--huge-every", type=int, default=1000, help="a 50 MiB body every N requests")
    parser.add_argument("--junk-every", type=int, default=97)
    parser.add_argument("--stream-every", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=0.10)
    parser.add_argument("--twin-root", type=Path, default=REPO_ROOT,
                        help="serve the twin from this checkout (e.g. an older one, to compare)")
    args = parser.parse_args()
    marks = sorted({m for m in (1_000, 2_500, 5_000, 7_500) if m < args.requests} | {args.requests})
    server, url = start_twin(args.twin_root)
    samples: dict[int, int] = {}
    wrong = 0
    t0 = time.perf_counter()
    try:
        with httpx.Client(base_url=url, timeout=60,
                          headers={"Authorization": f"Bearer {TWIN_KEY}",
                                   "Content-Type": "application/json"}) as http:
            for i in range(1, args.requests + 1):
                body, status, code = expected(i, args)
                response = http.post("/chat/completions", content=body)
                if response.status_code != status or (code and f'"code":"{code}"' not in response.text):
                    wrong += 1
                    print(f"request {i}: HTTP {response.status_code} {response.text[:120]!r}")
                if i in marks:
                    samples[i] = rss_kb(server.pid)
                    print(f"after {i:>6} requests: server RSS {samples[i] / 1024:7.1f} MiB "
                          f"({time.perf_counter() - t0:5.1f} s)", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    first, last = samples[min(marks)], samples[max(marks)]
    growth = (last - first) / first
    oversized = args.requests // args.oversized_every
    huge = args.requests // args.huge_every
    print(f"RSS {first / 1024:.1f} MiB at request {min(marks)}, {last / 1024:.1f} MiB at request "
          f"{max(marks)}: {growth:+.1%} (tolerance {args.tolerance:.0%}); {oversized} bodies over "
          f"{MAX_BODY_BYTES / 2**20:.0f} MiB ({huge} of them 50 MiB) among them; {wrong} unexpected "
          "answer(s)")
    return 0 if growth <= args.tolerance and not wrong else 1


if __name__ == "__main__":
    sys.exit(main())
