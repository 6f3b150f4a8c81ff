"""`glm-harness bench` and `glm-harness calibrate`: argument parsing and the glue to run them.

`add_*_arguments` fill the CLI's subcommand parser; `run_*` take the parsed namespace and return
the exit status. Bad input is one line on stderr and status 2, never a traceback.

Without --target and --base-url, `bench` runs against the embedded twin (in-process, no sockets,
no key), so the command works on a fresh checkout. It never falls back to the live API on its
own: spending money takes `--target live`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import math
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx

from .._argtypes import at_least, output_file
from ..contract import DEFAULT_MODEL
from ..errors import UsageError
from ..profiles import DEFAULT_PROFILE, PROFILES
from ..surface import Surface
from ..targets import DEFAULT_KEY_ENV, LIVE_BASE_URL, MOCK_BASE_URL, Target, live_target, mock_target
from .gate import DEFAULT_MAX_ERROR_RATE
from .health import ClientHealth
from .report import level_tokens_line
from .runner import RetryPolicy
from .session import DEFAULT_PROMPT, EXIT_INTERRUPTED, BenchConfig, run_session
from .tasks import load_task_set
from .workers import LocalPool, Pool, usable_cores

BENCH_PROG = "glm-harness bench"
CALIBRATE_PROG = "glm-harness calibrate"

# The embedded twin's default timing: roughly what a fast hosted model feels like.
TWIN_DEFAULTS = {"ttft_ms": 120.0, "itl_ms": 8.0, "jitter": 0.3}
_TWIN_ONLY = ("ttft_ms", "itl_ms", "jitter", "reply_tokens", "reasoning_tokens")


# -- value parsers -----------------------------------------------------------------------------------
def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected integers >= 1 separated by commas, got {text!r}")
    return values


def _rate_list(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or any(not 0 < v < math.inf for v in values):
        raise argparse.ArgumentTypeError(f"expected request rates > 0 separated by commas, got {text!r}")
    return values


def _url(text: str) -> str:
    try:
        port = httpx.URL(text).port
    except httpx.InvalidURL:
        port = -1
    if not re.match(r"^https?://[^/\s]+", text) or (port is not None and not 0 < port <= 65535):
        raise argparse.ArgumentTypeError(f"expected an http(s) base URL, got {text!r}")
    return text.rstrip("/")


# -- bench ---------------------------------------------------------------------------------------------
def add_bench_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add = parser.add_argument
    add("--target", choices=("mock", "live"), default=None,
        help="mock: the GLM twin (embedded unless --base-url); live: the real API "
             "(default: the embedded twin)")
    add("--base-url", type=_url, default=None,
        help=f"base URL of the API (live default {LIVE_BASE_URL}); with --target mock, a twin "
             "served by `glm-harness serve`")
    add("--model", default=DEFAULT_MODEL, help="model name (default: %(default)s)")
    add("--surface", choices=[s.value for s in Surface], default=Surface.OPENAI.value,
        help="openai (default): POST {base}/chat/completions; anthropic: POST {base}/v1/messages, "
             "the Messages API Claude Code uses (live default base URL https://api.z.ai/api/anthropic)")
    add("--api-key-env", default=DEFAULT_KEY_ENV, help="environment variable holding the key")
    add("--profile", choices=PROFILES, default=DEFAULT_PROFILE,
        help="glm (default): GLM sends usage unasked; openai-compatible: a server that sends "
             "usage in a stream only when asked (vLLM, SGLang, llama.cpp), so every request "
             "asks with stream_options.include_usage")
    add("--concurrency", type=_int_list, default=[1, 8], metavar="N[,N...]",
        help="concurrency levels to sweep (default: 1,8)")
    add("--requests", type=at_least(int, 1), default=16, metavar="N",
        help="measured requests per level (default: %(default)s)")
    add("--warmup", type=at_least(int, 0), default=None, metavar="N",
        help="warm-up requests per level, excluded from the figures (default: one per slot)")
    add("--ramp", type=at_least(float, 0), default=0.0, metavar="S",
        help="closed loop: start the slots spread evenly over S seconds, not all at once (a "
             "server with steady timings otherwise keeps every round in lock-step); the level's "
             "duration, and so its throughput, includes the ramp (default: 0)")
    add("--rate", type=_rate_list, default=None, metavar="R[,R...]",
        help="open loop at R requests/s (sweep with a list); default: closed loop")
    add("--arrival", choices=("poisson", "constant"), default="poisson",
        help="inter-arrival times with --rate (default: %(default)s)")
    add("--timeout", type=at_least(float, 0.001), default=120.0, metavar="S",
        help="per-request timeout in seconds (default: %(default)s)")
    add("--max-error-rate", type=at_least(float, 0, maximum=1), default=DEFAULT_MAX_ERROR_RATE,
        metavar="R", help="fail (exit 1) when a level's share of failed requests is above R; a "
                          "level with no success always fails (default: %(default)s)")
    add("--max-retries", type=at_least(int, 0), default=3, metavar="N",
        help="retries of a retryable 429 (1302, 1305) (default: %(default)s)")
    add("--thinking", choices=("on", "off"), default="on",
        help="thinking for the latency levels (default: %(default)s)")
    add("--prompt", default=DEFAULT_PROMPT, help="prompt for the latency levels")
    add("--max-tokens", type=at_least(int, 1), default=None, metavar="N")
    add("--tasks", default="default", metavar="SET",
        help="task set in fixtures/tasks/ (or a .json path) for token efficiency; 'none' to skip")
    add("--task-thinking", choices=("both", "on", "off"), default="both",
        help="thinking modes for the task set (default: %(default)s)")
    add("--task-concurrency", type=at_least(int, 1), default=4, metavar="N")
    add("--task-repeats", type=at_least(int, 1), default=1, metavar="N")
    add("--seed", type=int, default=0, help="seed for Poisson arrivals, back-off jitter, bootstrap")
    add("--out", type=output_file(".json"), default=None, metavar="PATH",
        help="report path (.json); default reports/bench-<model>-<target>-<UTC time>.json")
    add("--no-progress", action="store_true", help="no progress bar")
    add("--workers", type=at_least(int, 1), default=None, metavar="N",
        help="split each latency level over N worker processes, each with its own event loop "
             "(default: the usable cores, capped by concurrency; 1 with the in-process twin)")
    add("--ray", default=None, metavar="ADDRESS",
        help="run the workers as Ray tasks on this cluster (host:port, ray://host:port or auto; "
             "needs glm-harness[distributed])")
    add("--ray-placement", choices=("cpu", "node"), default="cpu",
        help="with --ray: one worker per CPU of the cluster, or one per node (default: %(default)s)")
    twin = parser.add_argument_group("embedded twin (no --target, no --base-url)")
    twin.add_argument("--twin", choices=("respx", "http"), default="respx",
                      help="in-process (respx, default) or over loopback HTTP (uvicorn thread)")
    twin.add_argument("--ttft-ms", type=at_least(float, 0), default=None,
                      help=f"twin's time to first token (default {TWIN_DEFAULTS['ttft_ms']:g})")
    twin.add_argument("--itl-ms", type=at_least(float, 0), default=None,
                      help=f"twin's inter-token gap (default {TWIN_DEFAULTS['itl_ms']:g})")
    twin.add_argument("--jitter", type=at_least(float, 0), default=None,
                      help=f"twin's gap coefficient of variation (default {TWIN_DEFAULTS['jitter']:g})")
    twin.add_argument("--reply-tokens", type=at_least(int, 0), default=None)
    twin.add_argument("--reasoning-tokens", type=at_least(int, 0), default=None)
    return parser


def _default_out(model: str, target: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    # A model named like a path (zai-org/GLM-4.6) must not make a folder of its own.
    flat = re.sub(r"[^A-Za-z0-9._-]+", "_", model)
    return Path("reports") / f"bench-{flat}-{target}-{stamp}.json"


def bench_config(args: argparse.Namespace) -> BenchConfig:
    task_set = None if args.tasks.lower() == "none" else load_task_set(args.tasks)
    thinking = {"both": (True, False), "on": (True,), "off": (False,)}[args.task_thinking]
    return BenchConfig(
        concurrency=tuple(args.concurrency), requests=args.requests, warmup=args.warmup,
        ramp_s=args.ramp, rates=tuple(args.rate) if args.rate else (None,), arrival=args.arrival,
        timeout_s=args.timeout, retry=RetryPolicy(max_retries=args.max_retries),
        thinking=args.thinking == "on", prompt=args.prompt, max_tokens=args.max_tokens,
        task_set=task_set, task_thinking=thinking, task_concurrency=args.task_concurrency,
        task_repeats=args.task_repeats, seed=args.seed,
        progress=not args.no_progress and sys.stderr.isatty(),
        max_error_rate=args.max_error_rate,
    )


def _resolve_target(args: argparse.Namespace) -> tuple[Target | None, list[str]]:
    """The target, or None for the embedded twin; plus notes for the report."""
    embedded = args.target in (None, "mock") and args.base_url is None
    if not embedded:
        given = [f"--{n.replace('_', '-')}" for n in _TWIN_ONLY if getattr(args, n) is not None]
        if given:
            raise UsageError(f"{', '.join(given)} only apply to the embedded twin "
                             "(no --target live, no --base-url)")
    if embedded:
        return None, []
    surface = Surface(args.surface)
    if args.target == "mock":
        return mock_target(args.model, args.base_url, surface), [
            "target: a twin served at the base URL", *_surface_notes(surface)]
    target = live_target(args.base_url, args.model, args.api_key_env, args.profile, surface)
    notes = ([f"profile {args.profile}: every streamed request asks for usage "
              "(stream_options.include_usage)"] if args.profile != DEFAULT_PROFILE else [])
    notes += _surface_notes(surface)
    if not target.api_key:
        if args.base_url is None:
            raise UsageError(f"--target live needs an API key in ${args.api_key_env} "
                             "(or pass --base-url for a server that needs none)")
        notes.append(f"no key in ${args.api_key_env}: requests sent without Authorization")
    return target, notes


@contextlib.contextmanager
def _embedded_twin(args: argparse.Namespace) -> Iterator[tuple[Target, list[str]]]:
    from ..mock import GLMTwin, Style, Timing, TwinConfig, twin_router

    style = Style()
    timing = Timing(
        ttft_ms=args.ttft_ms if args.ttft_ms is not None else TWIN_DEFAULTS["ttft_ms"],
        itl_ms=args.itl_ms if args.itl_ms is not None else TWIN_DEFAULTS["itl_ms"],
        jitter=args.jitter if args.jitter is not None else TWIN_DEFAULTS["jitter"],
        seed=args.seed,
    )
    style = Style(
        reply_tokens=args.reply_tokens if args.reply_tokens is not None else style.reply_tokens,
        reasoning_tokens=(args.reasoning_tokens if args.reasoning_tokens is not None
                          else style.reasoning_tokens),
    )
    twin = GLMTwin(TwinConfig(timing=timing, style=style))
    described = (f"embedded twin ({args.twin}): ttft {timing.ttft_ms:g} ms, itl {timing.itl_ms:g} "
                 f"ms, jitter {timing.jitter:g}, {style.reasoning_tokens} reasoning + "
                 f"{style.reply_tokens} reply tokens")
    surface = Surface(args.surface)
    if args.twin == "http":
        from ..mock.server import running_twin

        with running_twin(twin) as running:
            url = running.anthropic_base_url if surface is Surface.ANTHROPIC else running.base_url
            yield mock_target(args.model, url, surface), [
                described + "; the twin's uvicorn thread shares this process (and its GIL)",
                *_surface_notes(surface)]
        return
    with twin_router(twin, base_url=MOCK_BASE_URL):  # the twin's host: both surfaces
        yield mock_target(args.model, surface=surface), [
            described + "; the twin runs in the client's event loop, so its work shows up as "
                        "client lateness and loop lag", *_surface_notes(surface)]


def _surface_notes(surface: Surface) -> list[str]:
    if surface is Surface.OPENAI:
        return []
    return ["surface anthropic: POST {base}/v1/messages, each job sent as a Messages request "
            "(harness/bench/messages.py); TTFT at the first content_block_delta carrying text, "
            "thinking or tool input; tokens from message_delta.usage (token_source usage), prompt = "
            "input_tokens + cache_read_input_tokens, cached = cache_read_input_tokens"]


def run_bench(args: argparse.Namespace) -> int:
    try:
        target, notes = _resolve_target(args)
        config = bench_config(args)
        _check_levels(config)
        out = args.out
    except UsageError as error:
        return _usage(BENCH_PROG, str(error))
    with contextlib.ExitStack() as stack:
        if target is None:
            target, notes = stack.enter_context(_embedded_twin(args))
        try:
            config, pool = _workers(args, config, stack)
        except UsageError as error:
            return _usage(BENCH_PROG, str(error))
        out = out or _default_out(args.model, target.kind)
        try:
            result = asyncio.run(run_session(target, config, out, notes, pool))
        except KeyboardInterrupt:  # a second Ctrl-C while the report was being written
            print(f"{BENCH_PROG}: interrupted; samples so far in "
                  f"{out.with_name(out.stem + '.samples.jsonl')}", file=sys.stderr)
            return EXIT_INTERRUPTED
    report = result.report
    print(f"report: {result.path} (+ {result.path.with_suffix('.md').name}, "
          f"{Path(report.sample_log or '').name})")
    for level in report.levels:
        ttft = level.summaries.get("ttft_ms")
        p50 = f"{ttft.p50:.1f} ms" if ttft and ttft.p50 is not None else "-"
        rate = f"{level.requests_per_s:.2f} req/s" if level.requests_per_s is not None else "- req/s"
        print(f"  {level.name}: {level.succeeded}/{level.completed} ok, p50 TTFT {p50}, {rate}, "
              f"{level_tokens_line(level)}"
              + (f" over {len(level.workers)} workers" if len(level.workers) > 1 else "")
              + ("  [client-bound]" if level.health and level.health.client_bound else ""))
        if level.health and level.health.client_bound:
            print("    " + _client_bound_line(level.health))
    if report.efficiency:
        for s in report.efficiency.sets:
            completion = "unknown (no usage)" if s.completion_tokens is None else s.completion_tokens
            print(f"  tasks thinking {'on' if s.thinking else 'off'}: {s.solved}/{s.tasks} solved, "
                  f"{completion} completion tokens")
    if report.stopped:
        stop = report.stopped
        print(f"{BENCH_PROG}: stopped: HTTP {stop.status} code {stop.code} ({stop.meaning}): "
              f"{stop.message}. Further requests would fail the same way; fix the account or "
              "key and run again.", file=sys.stderr)
    if not report.complete and not report.stopped:
        print(f"{BENCH_PROG}: interrupted; partial report written", file=sys.stderr)
    for reason in report.gate_failures:
        print(f"FAILED: {reason}")
    return result.exit_code


def _check_levels(config: BenchConfig) -> None:
    """A closed-loop level cannot keep more requests in flight than it sends: asking for it
    would open that many connections (and warm up as many requests) to measure a few."""
    if config.rates != (None,):
        if config.ramp_s:
            raise UsageError("--ramp spreads a closed loop's first requests; with --rate the "
                             "schedule decides when each starts")
        return
    too_many = [c for c in config.concurrency if c > config.requests]
    if too_many:
        raise UsageError(f"--concurrency {max(too_many)} is more than --requests "
                         f"{config.requests}: a level never has more requests in flight than "
                         "it sends; raise --requests or lower --concurrency")


def _workers(args: argparse.Namespace, config: BenchConfig,
             stack: contextlib.ExitStack) -> tuple[BenchConfig, Pool | None]:
    """How many workers each level gets, and the pool they run in (None: this process)."""
    in_process_twin = args.target in (None, "mock") and args.base_url is None and args.twin == "respx"
    if in_process_twin and ((args.workers or 1) > 1 or args.ray):
        raise UsageError("--workers above 1 and --ray need a server over the network: the in-process "
                         "twin lives in this process (pass --twin http or --base-url)")
    workers = args.workers or (1 if in_process_twin else usable_cores())
    config = dataclasses.replace(config, workers=workers, ray_address=args.ray,
                                 ray_placement=args.ray_placement)
    if args.ray:
        from .distributed import RayPool

        pool: Pool = stack.enter_context(contextlib.closing(
            RayPool(args.ray, placement=args.ray_placement, workers=args.workers)))
        return dataclasses.replace(config, workers=pool.size), pool
    size = min(workers, max(config.concurrency))
    if size <= 1:
        return config, None
    return config, stack.enter_context(contextlib.closing(LocalPool(size)))


def _client_bound_line(health: ClientHealth) -> str:
    said = f"client-bound ({'; '.join(health.reasons)}): latencies shown, not tested by compare; "
    needed = health.workers_needed
    if needed is None:
        return said + "the client was not busy: other processes on this machine held it back"
    more = (f", more than the {usable_cores()} usable cores here: spread it with --ray"
            if needed > usable_cores() else "")
    return said + f"it would have needed at least {needed} workers{more}"


def _usage(prog: str, message: str) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2


# -- calibrate -------------------------------------------------------------------------------------------
def add_calibrate_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add = parser.add_argument
    add("--concurrency", type=_int_list, default=[1, 64, 256], metavar="N[,N...]",
        help="concurrency levels (default: 1,64,256)")
    add("--requests", type=at_least(int, 1), default=None, metavar="N",
        help="measured requests per level (default: max(40, 3 x concurrency))")
    add("--ttft-ms", type=at_least(float, 0), default=150.0, help="twin's TTFT (the truth)")
    add("--itl-ms", type=at_least(float, 0), default=10.0, help="twin's inter-token gap (the truth)")
    add("--reply-tokens", type=at_least(int, 2), default=32, help="tokens per reply")
    add("--base-url", type=_url, default=None,
        help="use a twin already serving at this URL with the same --ttft-ms/--itl-ms and no "
             "jitter (default: start one in a process pinned to its own CPU)")
    add("--surface", choices=[s.value for s in Surface], default=Surface.OPENAI.value,
        help="the API to calibrate the readings of: openai (default) or anthropic (the Messages "
             "API: TTFT at the first content_block_delta, tokens from message_delta.usage)")
    add("--no-pin", action="store_true", help="do not pin the twin and the client to CPUs")
    add("--workers", type=at_least(int, 1), default=1, metavar="N",
        help="split each level over N client processes, as bench --workers does (unpinned; "
             "default: %(default)s)")
    add("--untraced", action="store_true",
        help="serve with `python -m harness.mock.server` (no server-side truth) instead of the "
             "traced twin")
    add("--out", type=output_file(".json"), default=None, metavar="PATH",
        help="also write the results as JSON")
    add("--timeout", type=at_least(float, 0.001), default=120.0, metavar="S",
        help="per-request timeout in seconds, against a twin that never answers "
             "(default: %(default)s)")
    add("--no-progress", action="store_true", help="no progress bar")
    return parser


def run_calibrate(args: argparse.Namespace) -> int:
    from .calibrate import CalibrationSettings, calibrate, format_table

    settings = CalibrationSettings(
        concurrency=tuple(args.concurrency), requests=args.requests, ttft_ms=args.ttft_ms,
        itl_ms=args.itl_ms, reply_tokens=args.reply_tokens, base_url=args.base_url,
        pin=not args.no_pin, progress=not args.no_progress and sys.stderr.isatty(),
        traced=not args.untraced and args.base_url is None, timeout_s=args.timeout,
        workers=args.workers, surface=args.surface,
    )
    try:
        result = calibrate(settings)
    except UsageError as error:
        return _usage(CALIBRATE_PROG, str(error))
    except KeyboardInterrupt:
        print(f"{CALIBRATE_PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(format_table(result))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
        print(f"results: {args.out}")
    return 0
