"""Our calibration, aiperf's and guidellm's, against the same traced twin, in one run.

Run: ``python benchmarks/calibrate_peers.py [--concurrency 1,64,256] [--requests N]
      [--aiperf /tmp/peer-venv/bin/aiperf] [--guidellm /tmp/peer-venv-guidellm/bin/guidellm]
      [--out results.json]``

The peers are never installed into this project: each gets its own venv, e.g.
``python3.12 -m venv /tmp/peer-venv && /tmp/peer-venv/bin/pip install aiperf`` and
``python3.12 -m venv /tmp/peer-venv-guidellm && /tmp/peer-venv-guidellm/bin/pip install
guidellm``. Both need a tokenizer even with server token counts (for their synthetic prompts);
with no network to the HuggingFace hub or tiktoken's CDN, a tiny byte-level BPE is built
locally with the `tokenizers` library they already depend on (no download). guidellm has no
warm-up here: it runs `concurrency` extra requests and the first ones by start time are dropped.

One twin (`harness.bench.traced_twin`, pinned to the first CPU, ttft/itl fixed, no jitter,
`--openai-object` because aiperf drops chunks without `"object": "chat.completion.chunk"`,
which GLM never sends) serves both tools in turn, level by level; each tool's client runs pinned
to the second CPU. Truths: the nominal sleeps, and the twin's own write times from its trace
(paired per request for us via `request_id`; for aiperf, whose requests carry none, the p50 of
the twin's per-request values over the same requests, warm-up dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
try:
    from harness.bench.calibrate import (
        CalibrationSettings,
        fetch_traces,
        measure_levels,
        pinned,
        twin_process,
    )
    from harness.mock import TWIN_KEY
except ModuleNotFoundError:  # a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))
    from harness.bench.calibrate import (
        CalibrationSettings,
        fetch_traces,
        measure_levels,
        pinned,
        twin_process,
    )
    from harness.mock import TWIN_KEY

TOKENIZER_SCRIPT = """
import sys
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast
tok = Tokenizer(models.BPE(unk_token="[UNK]"))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["[UNK]", "<s>", "</s>"],
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
tok.train_from_iterator(["The quick brown fox jumps over the lazy dog."] * 100, trainer)
PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", bos_token="<s>",
                        eos_token="</s>").save_pretrained(sys.argv[1])
"""


def percentiles(values: list[float], truth: float) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "p50": None, "p99": None, "err_p50": None, "err_p99": None}
    p50, p99 = (float(x) for x in np.percentile(values, [50, 99]))
    return {"n": len(values), "p50": p50, "p99": p99, "err_p50": p50 - truth, "err_p99": p99 - truth}


def server_view(traces: dict[str, Any], skip: int, tokens: int) -> tuple[list[float], list[float]]:
    """Per-request server TTFT and token-chunk gaps (ms), oldest `skip` (warm-up) dropped."""
    def start(t: dict[str, Any]) -> float:
        return float(t.get("first_bytes") or t["arrived"])

    ordered = sorted((t for t in traces.values() if t.get("arrived") and t.get("sends")),
                     key=start)[skip:]
    ttft = [(t["sends"][0] - start(t)) * 1000 for t in ordered]
    gaps = [(b - a) * 1000 for t in ordered for a, b in zip(t["sends"][: tokens - 1],
                                                            t["sends"][1:tokens], strict=False)]
    return ttft, gaps


def aiperf_command(aiperf: str, url: str, concurrency: int, requests: int, ramp_s: float,
                   tokenizer: Path, out: Path) -> list[str]:
    origin = url.split("/api/")[0]
    command = [aiperf, "profile", "--model", "glm-4.6", "--url", origin, "--endpoint-type", "chat",
               "--custom-endpoint", "/api/paas/v4/chat/completions", "--streaming",
               "--concurrency", str(concurrency), "--request-count", str(requests),
               "--warmup-request-count", str(concurrency), "--api-key", TWIN_KEY,
               "--use-server-token-count", "--tokenizer", str(tokenizer),
               "--prompt-input-tokens-mean", "10", "--prompt-input-tokens-stddev", "0",
               "--extra-inputs", '{"thinking": {"type": "disabled"}}',
               "--ui-type", "none", "--output-artifact-dir", str(out)]
    if concurrency > 1:
        command += ["--concurrency-ramp-duration", f"{ramp_s:g}",
                    "--warmup-concurrency-ramp-duration", f"{ramp_s:g}"]
    return command


def run_aiperf(command: list[str], out: Path, cpu: int | None) -> tuple[list[float], list[float], str]:
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800,
                            preexec_fn=pin, check=False)
    records = out / "profile_export.jsonl"
    if result.returncode != 0 or not records.exists():
        tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
        return [], [], "aiperf failed: " + " | ".join(tail)
    ttft: list[float] = []
    icl: list[float] = []
    for line in records.read_text().splitlines():
        record = json.loads(line)
        if record["metadata"].get("benchmark_phase") != "profiling" or record.get("error"):
            continue
        metrics = record["metrics"]
        ttft.append(metrics["time_to_first_token"]["value"])
        icl += metrics.get("inter_chunk_latency", {}).get("value", [])
    return ttft, icl, ""


def guidellm_command(guidellm: str, url: str, concurrency: int, requests: int, ramp_s: float,
                     tokenizer: Path, out: Path) -> list[str]:
    origin = url.split("/api/")[0]  # guidellm posts to /v1/chat/completions; the twin serves it
    profile = f"kind=concurrent,streams={concurrency}"
    if concurrency > 1:
        profile += f",rampup_duration={ramp_s:g}"
    return [guidellm, "run",
            "--backend", f"kind=openai_http,target={origin},model=glm-4.6,validate_backend=false,"
                         f"api_key={TWIN_KEY}",
            "--profile", profile, "--constraint", f"kind=max_requests,count={requests}",
            "--data", "kind=synthetic_text,prompt_tokens=10,output_tokens=32",
            "--tokenizer", f"kind=hf_auto,model={tokenizer}", "--disable-console-interactive",
            "--output", f"kind=json,path={out}"]


def run_guidellm(command: list[str], out: Path, cpu: int | None,
                 warmup: int) -> tuple[list[float], list[float], str]:
    """Per-request TTFT and ITL ((last - first token) / (tokens - 1)); the first `warmup`
    requests by start time are dropped, as guidellm was run without a warm-up phase."""
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800,
                            preexec_fn=pin, check=False)
    if result.returncode != 0 or not out.exists():
        tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
        return [], [], "guidellm failed: " + " | ".join(tail)
    done = json.loads(out.read_text())["benchmarks"][0]["requests"]["successful"]
    done = sorted(done, key=lambda r: r["request_start_time"])[warmup:]
    ttft = [r["time_to_first_token_ms"] for r in done if r["time_to_first_token_ms"] is not None]
    itl = [r["inter_token_latency_ms"] for r in done if r["inter_token_latency_ms"] is not None]
    return ttft, itl, ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="1,64,256")
    parser.add_argument("--requests", type=int, default=None,
                        help="measured requests per level (default max(40, 3 x concurrency))")
    parser.add_argument("--ttft-ms", type=float, default=150.0)
    parser.add_argument("--itl-ms", type=float, default=10.0)
    parser.add_argument("--reply-tokens", type=int, default=32)
    parser.add_argument("--aiperf", default="/tmp/peer-venv/bin/aiperf")
    parser.add_argument("--guidellm", default="/tmp/peer-venv-guidellm/bin/guidellm",
                        help="guidellm in its own venv; skipped when absent")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    levels = [int(c) for c in args.concurrency.split(",")]
    aiperf = args.aiperf
    if not Path(aiperf).exists():
        raise SystemExit(f"no aiperf at {aiperf}: python3.12 -m venv /tmp/peer-venv && "
                         "/tmp/peer-venv/bin/pip install aiperf")
    peer_python = str(Path(aiperf).with_name("python"))
    work = Path(tempfile.mkdtemp(prefix="glm-calibrate-peers-"))
    tokenizer = work / "tokenizer"
    subprocess.run([peer_python, "-c", TOKENIZER_SCRIPT, str(tokenizer)], check=True,
                   capture_output=True)

    settings = CalibrationSettings(ttft_ms=args.ttft_ms, itl_ms=args.itl_ms,
                                   reply_tokens=args.reply_tokens, requests=args.requests)
    available = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = (available[0], available[1]) if len(available) > 1 else (None, None)
    twin = [sys.executable, "-m", "harness.bench.traced_twin", "--port", "0",
            "--ttft-ms", f"{args.ttft_ms:g}", "--itl-ms", f"{args.itl_ms:g}", "--jitter", "0",
            "--reply-tokens", str(args.reply_tokens), "--reasoning-tokens", "0", "--openai-object"]
    print(f"twin:   {shlex.join(twin)}  (pinned to CPU {server_cpu})")
    rows: list[dict[str, Any]] = []
    with twin_process(twin, server_cpu) as (url, server):
        for concurrency in levels:
            requests = settings.requests_for(concurrency)
            one = dataclasses.replace(settings, concurrency=(concurrency,))
            with pinned(client_cpu):
                ours = asyncio.run(measure_levels(url, one, server.pid))[0]
            out = work / f"aiperf-c{concurrency}"
            command = aiperf_command(aiperf, url, concurrency, requests, settings.request_s,
                                     tokenizer, out)
            print(f"aiperf: {shlex.join(c.replace(TWIN_KEY, '$TWIN_KEY') for c in command)}")
            asyncio.run(fetch_traces(url))
            started = time.perf_counter()
            ttft, icl, failure = run_aiperf(command, out, client_cpu)
            server_ttft, server_gaps = server_view(asyncio.run(fetch_traces(url)), concurrency,
                                                   args.reply_tokens)
            peer = {
                "ttft": percentiles(ttft, args.ttft_ms), "itl": percentiles(icl, args.itl_ms),
                "server_ttft_p50": float(np.median(server_ttft)) if server_ttft else None,
                "server_itl_p50": float(np.median(server_gaps)) if server_gaps else None,
                "seconds": round(time.perf_counter() - started, 1), "failure": failure,
            }
            row = {"concurrency": concurrency, "requests": requests, "ours": ours.model_dump(),
                   "aiperf": peer, "aiperf_command": command}
            if Path(args.guidellm).exists():
                out = work / f"guidellm-c{concurrency}.json"
                command = guidellm_command(args.guidellm, url, concurrency,
                                           requests + concurrency, settings.request_s,
                                           tokenizer, out)
                print(f"guidellm: {shlex.join(c.replace(TWIN_KEY, '$TWIN_KEY') for c in command)}")
                asyncio.run(fetch_traces(url))
                ttft, itl, failure = run_guidellm(command, out, client_cpu, concurrency)
                server_ttft, server_gaps = server_view(asyncio.run(fetch_traces(url)),
                                                       concurrency, args.reply_tokens)
                row["guidellm"] = {
                    "ttft": percentiles(ttft, args.ttft_ms), "itl": percentiles(itl, args.itl_ms),
                    "server_ttft_p50": float(np.median(server_ttft)) if server_ttft else None,
                    "server_itl_p50": float(np.median(server_gaps)) if server_gaps else None,
                    "failure": failure,
                }
                row["guidellm_command"] = command
            rows.append(row)
    print_table(rows, args)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2, default=str) + "\n")
        print(f"results: {args.out}")


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def print_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\nerror = measured - truth (ms), p50/p99; truth 'nominal' = ttft {args.ttft_ms:g}, "
          f"itl {args.itl_ms:g}; 'server' = the traced twin's own write times")
    header = (f"{'conc':>5} {'tool':>7} | {'TTFT err nominal':>17} {'TTFT err server p50':>20} | "
              f"{'ITL err nominal':>16} {'ITL err server p50':>19}")
    print(header)
    print("-" * len(header))
    for row in rows:
        ours, peer = row["ours"], row["aiperf"]
        print(f"{row['concurrency']:>5} {'ours':>7} | "
              f"{_f(ours['ttft']['err_p50_ms']) + '/' + _f(ours['ttft']['err_p99_ms']):>17} "
              f"{_f((ours['ttft_vs_server'] or {}).get('err_p50_ms')):>20} | "
              f"{_f(ours['itl_chunk']['err_p50_ms']) + '/' + _f(ours['itl_chunk']['err_p99_ms']):>16} "
              f"{_f((ours['itl_vs_server'] or {}).get('err_p50_ms')):>19}")
        for tool in ("aiperf", "guidellm"):
            peer = row.get(tool)
            if peer is None:
                continue
            t, i = peer["ttft"], peer["itl"]
            ttft_server = (t["p50"] - peer["server_ttft_p50"]
                           if t["p50"] is not None and peer["server_ttft_p50"] is not None else None)
            itl_server = (i["p50"] - peer["server_itl_p50"]
                          if i["p50"] is not None and peer["server_itl_p50"] is not None else None)
            print(f"{'':>5} {tool:>7} | {_f(t['err_p50']) + '/' + _f(t['err_p99']):>17} "
                  f"{_f(ttft_server):>20} | {_f(i['err_p50']) + '/' + _f(i['err_p99']):>16} "
                  f"{_f(itl_server):>19}" + (f"  {peer['failure']}" if peer["failure"] else ""))
        ours_token = ours["itl_token"]
        print(f"{'':>5} {'':>7} | ITL per request (decode span / (tokens - 1)), err nominal p50/p99: "
              f"ours {_f(ours_token['err_p50_ms'])}/{_f(ours_token['err_p99_ms'])}; aiperf's ITL "
              f"is per chunk here (its inter_chunk_latency), guidellm's per request")


if __name__ == "__main__":
    main()
