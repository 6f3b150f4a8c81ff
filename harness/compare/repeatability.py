"""How often `compare` gets the twin right: a real regression flagged, noise left alone.

Each repetition runs the real bench command three times against the embedded twin, each with its
own seed (so the twin's jittered timings differ from run to run, as a server's would):

    base  --ttft-ms 120        same  --ttft-ms 120        slow  --ttft-ms 150
    (each: --concurrency 8 --requests 160 --tasks none, 8 reasoning + 8 reply tokens, itl 8 ms)

then the real compare command twice, with the default --fail-on: `base -> same` must exit 0 (no
significant change in any row), `base -> slow` must exit 1 (a significant TTFT regression beyond
+10%). It prints one line per repetition and the counts.

    .venv/bin/python -m harness.compare.repeatability --reps 20

About 25-30 s a repetition (measured on a shared 2-CPU VM). The reports go to a temporary
directory (or --keep DIR).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .._files import read_input

BENCH = [sys.executable, "-m", "harness.cli", "bench"]
COMPARE = [sys.executable, "-m", "harness.cli", "compare"]


def bench(out: Path, ttft_ms: float, seed: int, requests: int, concurrency: int,
          itl_ms: float) -> None:
    command = [*BENCH, "--concurrency", str(concurrency), "--requests", str(requests),
               "--tasks", "none", "--reply-tokens", "8", "--reasoning-tokens", "8",
               "--itl-ms", f"{itl_ms:g}", "--ttft-ms", f"{ttft_ms:g}", "--seed", str(seed),
               "--out", str(out), "--no-progress"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"bench failed ({result.returncode}): {result.stderr.strip()}")


def compare(base: Path, new: Path, out: Path) -> tuple[int, list[str]]:
    result = subprocess.run([*COMPARE, str(base), str(new), "--format", "json", "--json", str(out)],
                            capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1):
        raise SystemExit(f"compare failed ({result.returncode}): {result.stderr.strip()}")
    data = json.loads(read_input(out))
    flagged = [f"{r['metric']}@{r['scope']} {r['verdict']} ({(r['rel'] or 0) * 100:+.1f}%)"
               for r in data["comparisons"][0]["rows"] if r["verdict"] in ("better", "worse")]
    return result.returncode, flagged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--requests", type=int, default=160)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--ttft-ms", type=float, default=120.0)
    parser.add_argument("--slow-ttft-ms", type=float, default=150.0)
    parser.add_argument("--itl-ms", type=float, default=8.0)
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        same_ok = same_clean = slow_ok = 0
        started = time.monotonic()
        for rep in range(args.reps):
            paths = {name: root / f"rep{rep:02d}-{name}.json" for name in ("base", "same", "slow")}
            for i, (name, ttft) in enumerate((("base", args.ttft_ms), ("same", args.ttft_ms),
                                              ("slow", args.slow_ttft_ms))):
                bench(paths[name], ttft, 1000 + 3 * rep + i, args.requests, args.concurrency,
                      args.itl_ms)
            same_code, same_flags = compare(paths["base"], paths["same"], root / f"rep{rep:02d}-same.cmp.json")
            slow_code, slow_flags = compare(paths["base"], paths["slow"], root / f"rep{rep:02d}-slow.cmp.json")
            same_ok += same_code == 0
            same_clean += same_code == 0 and not same_flags
            slow_ok += slow_code == 1
            print(f"rep {rep + 1:2d}: same settings exit {same_code}"
                  f"{' [' + '; '.join(same_flags) + ']' if same_flags else ''}; "
                  f"ttft {args.ttft_ms:g} -> {args.slow_ttft_ms:g} exit {slow_code} "
                  f"[{'; '.join(f for f in slow_flags if f.startswith('ttft')) or 'no ttft row flagged'}]",
                  flush=True)
        print(f"same settings, exit 0: {same_ok}/{args.reps}; exit 0 and every row 'no "
              f"significant change': {same_clean}/{args.reps}")
        print(f"--ttft-ms {args.ttft_ms:g} vs {args.slow_ttft_ms:g}, TTFT regression (exit 1): "
              f"{slow_ok}/{args.reps}")
        print(f"({args.requests} requests at concurrency {args.concurrency} per run, "
              f"{time.monotonic() - started:.0f} s)")
    return 0 if same_clean >= 0.95 * args.reps and slow_ok == args.reps else 1


if __name__ == "__main__":
    sys.exit(main())
