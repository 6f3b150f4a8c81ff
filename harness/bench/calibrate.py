"""Calibration: the harness measures a server whose timings are known, and reports its own error.

The twin runs over real HTTP in its own process, pinned to one CPU, with no jitter: it sleeps
`ttft_ms` before the first chunk and `itl_ms` before each later one, one token per chunk, so the
nominal truth per request is exact (TTFT, every gap, and usage.completion_tokens == chunks). The
client (this process's event loop) is pinned to another CPU and measures as in any benchmark;
with `workers` above 1 a level is split over that many worker processes as `bench --workers`
splits it, unpinned (every core, the twin's too), and each worker sends back its answers' stamps.

Two truths are reported. Against the nominal sleeps, the error is what the client adds plus what
the twin adds (request parsing and rendering before the first sleep, asyncio timers firing up
to a millisecond late, its loop falling behind at high concurrency). By default the twin is
served by `harness.bench.traced_twin`, the unchanged twin app behind a passive ASGI trace that
stamps, on the machine-wide monotonic clock, when each request arrived and each chunk was
written; against those stamps the error is the client's own (plus loopback), and the twin's
lateness is shown separately. The server's CPU share is printed too: near 100% means the twin,
not the client, is late.

Both servers bind their listening socket as IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted
sockets only then, and without it Nagle's algorithm holds a chunk written less than ~40 ms after
the headers until the client's delayed ACK (a 5 ms TTFT would measure ~44 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from pydantic import BaseModel, ConfigDict

from ..client import tls_context
from ..contract import DEFAULT_MODEL
from ..errors import UsageError
from ..mock.messages import ANTHROPIC_BASE_PATH
from ..surface import Surface
from ..targets import mock_target
from .clients import ShardedClient
from .health import ClientHealth
from .progress import BenchProgress
from .report import git_sha, harness_version
from .runner import Job, LevelRun, LevelSpec, LoadRunner, Outcome, RetryPolicy, stamps_of
from .traced_twin import TRACE_PATH
from .workers import LocalPool, Pool, Share, run_split_level, split

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_START_TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True)
class CalibrationSettings:
    concurrency: tuple[int, ...] = (1, 64, 256)
    requests: int | None = None
    ttft_ms: float = 150.0
    itl_ms: float = 10.0
    reply_tokens: int = 32
    base_url: str | None = None
    pin: bool = True
    progress: bool = False
    model: str = DEFAULT_MODEL
    traced: bool = True  # serve with harness.bench.traced_twin (else harness.mock.server)
    timeout_s: float = 120.0  # per request; a twin that never answers is given up on after it
    workers: int = 1  # client processes a level is split over (harness.bench.workers)
    surface: str = "openai"  # or "anthropic": calibrate the Messages API's readings

    @property
    def request_s(self) -> float:
        """How long one request takes on the twin: TTFT, the other tokens, the last chunk and
        [DONE]; the closed loop's slots start spread over this so they never send in bursts."""
        return (self.ttft_ms + (self.reply_tokens + 1) * self.itl_ms) / 1000

    def requests_for(self, concurrency: int) -> int:
        return self.requests or max(40, 3 * concurrency)


class ErrorStats(BaseModel):
    """Values and their error against a truth (a constant, or per-value truths)."""

    model_config = ConfigDict(extra="forbid")

    truth_ms: float | None
    n: int
    p50_ms: float | None
    p99_ms: float | None
    err_p50_ms: float | None
    err_p99_ms: float | None
    err_mean_ms: float | None


class CalibrationLevel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    concurrency: int
    requests: int
    ok: int
    failed: int
    # measured by the harness, error against the twin's nominal timings
    ttft: ErrorStats
    itl_chunk: ErrorStats
    itl_token: ErrorStats
    # the traced twin's own view (None when the server is not traced)
    server_ttft: ErrorStats | None = None  # request's first bytes in -> first chunk written
    server_itl: ErrorStats | None = None  # gaps between token chunks written
    ttft_vs_server: ErrorStats | None = None  # client TTFT - server TTFT, per request
    itl_vs_server: ErrorStats | None = None  # client gap - server gap, per gap
    stamp_delay: ErrorStats | None = None  # client stamp - server write, per token chunk
    tokens_exact: bool
    client: ClientHealth | None
    server_cpu_percent: float | None


class CalibrationResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    harness_version: str
    git_sha: str | None
    python: str
    cpu_count: int | None
    server_command: list[str] | None
    base_url: str
    traced: bool
    server_cpu: int | None
    client_cpu: int | None
    settings: dict[str, Any]
    levels: list[CalibrationLevel]
    notes: list[str]


def error_stats(values: Sequence[float | None], truth: float | Sequence[float]) -> ErrorStats:
    """Percentiles of `values` and of their errors (value - truth; truth per value or one)."""
    pairs = [(v, truth if isinstance(truth, int | float) else truth[i])
             for i, v in enumerate(values) if v is not None]
    if not pairs:
        return ErrorStats(truth_ms=truth if isinstance(truth, int | float) else None, n=0,
                          p50_ms=None, p99_ms=None, err_p50_ms=None, err_p99_ms=None,
                          err_mean_ms=None)
    array = np.asarray([v for v, _ in pairs], dtype=float)
    errors = array - np.asarray([t for _, t in pairs], dtype=float)
    p50, p99 = (float(x) for x in np.percentile(array, [50, 99]))
    e50, e99 = (float(x) for x in np.percentile(errors, [50, 99]))
    return ErrorStats(truth_ms=float(truth) if isinstance(truth, int | float) else None,
                      n=int(array.size), p50_ms=round(p50, 4), p99_ms=round(p99, 4),
                      err_p50_ms=round(e50, 4), err_p99_ms=round(e99, 4),
                      err_mean_ms=round(float(errors.mean()), 4))


# -- the twin in its own process --------------------------------------------------------------------
def _cpus(pin: bool) -> tuple[int | None, int | None]:
    if not pin or not hasattr(os, "sched_getaffinity"):
        return None, None
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    return available[0], available[1]


def twin_command(settings: CalibrationSettings) -> list[str]:
    module = "harness.bench.traced_twin" if settings.traced else "harness.mock.server"
    return [sys.executable, "-m", module, "--port", "0",
            "--ttft-ms", f"{settings.ttft_ms:g}", "--itl-ms", f"{settings.itl_ms:g}",
            "--jitter", "0", "--reply-tokens", str(settings.reply_tokens),
            "--reasoning-tokens", "0"]


@contextlib.contextmanager
def twin_process(command: list[str], cpu: int | None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start `python -m harness.mock.server`, pinned to `cpu`; yield its base URL."""
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              preexec_fn=pin)
    try:
        assert server.stdout is not None
        line = _read_line(server, _START_TIMEOUT_S)
        match = re.search(r"(http://\S+)", line)
        if match is None:
            error = server.stderr.read().decode(errors="replace") if server.poll() is not None and server.stderr else ""
            raise UsageError(f"the twin did not start: {(line or error).strip()[:200]}")
        yield match.group(1), server
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _read_line(server: subprocess.Popen[bytes], timeout_s: float) -> str:
    import selectors

    assert server.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(server.stdout, selectors.EVENT_READ)
        if not selector.select(timeout_s):
            return ""
    return server.stdout.readline().decode(errors="replace")


def process_cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


@contextlib.contextmanager
def pinned(cpu: int | None) -> Iterator[None]:
    """Pin this thread (the event loop's) and the threads it starts to `cpu`."""
    if cpu is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


# -- measuring -----------------------------------------------------------------------------------------
def calibration_body(request_id: str) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": "Calibration request: any answer will do."}],
        "stream": True,
        "thinking": {"type": "disabled"},
        "request_id": request_id,
    }


async def fetch_traces(base_url: str) -> dict[str, dict[str, Any]]:
    origin = httpx.URL(base_url).copy_with(path=TRACE_PATH, query=None)
    async with httpx.AsyncClient(timeout=30, verify=tls_context()) as http:
        response = await http.get(origin)
        response.raise_for_status()
        traces: dict[str, dict[str, Any]] = response.json()["traces"]
        return traces


async def measure_levels(base_url: str, settings: CalibrationSettings,
                         server_pid: int | None, pool: Pool | None = None) -> list[CalibrationLevel]:
    target = mock_target(settings.model, base_url, Surface(settings.surface))
    limit = settings.timeout_s
    timeout = httpx.Timeout(connect=min(30.0, limit), read=limit, write=min(30.0, limit), pool=None)
    levels = []
    progress = BenchProgress() if settings.progress else None
    try:
        async with ShardedClient(target, slots=max(settings.concurrency), timeout=timeout) as client:
            runner = LoadRunner(client, timeout_s=limit, retry=RetryPolicy(max_retries=0),
                                progress=progress)
            await _probe(runner, base_url, limit)
            for concurrency in settings.concurrency:
                spec = LevelSpec(concurrency=concurrency, requests=settings.requests_for(concurrency),
                                 warmup=concurrency, label=f"calibrate c{concurrency}",
                                 ramp_s=settings.request_s if concurrency > 1 else 0.0)
                prefix = f"cal-c{concurrency}-{uuid.uuid4().hex[:8]}"
                if settings.traced:
                    await fetch_traces(base_url)  # drop earlier levels' stamps
                cpu0 = process_cpu_seconds(server_pid) if server_pid else None
                wall0 = time.perf_counter()
                run = await _run_level(runner, pool, spec, settings, prefix)
                cpu1 = process_cpu_seconds(server_pid) if server_pid else None
                wall = time.perf_counter() - wall0
                server_cpu = (round((cpu1 - cpu0) / wall * 100, 1)
                              if cpu0 is not None and cpu1 is not None and wall > 0 else None)
                traces = await fetch_traces(base_url) if settings.traced else None
                levels.append(_level(settings, concurrency, run.outcomes, run.health, server_cpu,
                                     traces))
    finally:
        if progress is not None:
            progress.close()
    return levels


async def _run_level(runner: LoadRunner, pool: Pool | None, spec: LevelSpec,
                     settings: CalibrationSettings, prefix: str) -> LevelRun:
    if pool is None or len(split(spec, pool.size)) == 1:
        return await runner.run_level(spec, lambda i: Job(
            calibration_body(f"{prefix}-{i}-{uuid.uuid4().hex[:6]}"), keep=True))
    run = LevelRun(spec)
    t0_wall = time.time() - (time.perf_counter() - runner.run_t0)

    def share_for(worker: int, part: LevelSpec, start_wall: float) -> Share:
        return Share(worker=worker, spec=part, target=runner.client.target,
                     body=calibration_body("each worker's own"), thinking=False,
                     timeout_s=settings.timeout_s, retry=RetryPolicy(max_retries=0), seed=0,
                     run_t0_wall=t0_wall, start_wall=start_wall, request_ids=prefix)

    await run_split_level(pool, run, share_for, on_sample=lambda _: None,
                          next_index=runner.next_index, progress=runner.progress)
    return run


async def _probe(runner: LoadRunner, base_url: str, timeout_s: float) -> None:
    """One request first: a twin that does not answer is one error, not hundreds of timeouts."""
    spec = LevelSpec(concurrency=1, requests=1, warmup=0, label="calibrate probe")
    run = await runner.run_level(spec, lambda i: Job(calibration_body(f"probe-{uuid.uuid4().hex[:8]}")))
    sample = run.outcomes[0].sample if run.outcomes else None
    if sample is None or not sample.ok:
        why = sample.error.message if sample is not None and sample.error else "no answer"
        raise UsageError(f"the twin at {base_url} did not answer a first request within "
                         f"{timeout_s:g} s: {why}")


def _level(settings: CalibrationSettings, concurrency: int, outcomes: Sequence[Outcome],
           health: ClientHealth | None, server_cpu: float | None,
           traces: dict[str, dict[str, Any]] | None) -> CalibrationLevel:
    good = [o for o in outcomes if o.sample.ok]
    samples = [o.sample for o in good]
    exact = bool(good) and all(
        s.completion_tokens == s.token_chunks == settings.reply_tokens for s in samples)
    level = CalibrationLevel(
        concurrency=concurrency, requests=len(outcomes), ok=len(good),
        failed=len(outcomes) - len(good),
        ttft=error_stats([s.ttft_ms for s in samples], settings.ttft_ms),
        itl_chunk=error_stats([g for s in samples for g in s.itl_chunk_ms()], settings.itl_ms),
        itl_token=error_stats([s.itl_token_ms for s in samples], settings.itl_ms),
        tokens_exact=exact, client=health, server_cpu_percent=server_cpu,
    )
    if traces is not None:
        _add_server_view(level, settings, good, traces)
    return level


def _add_server_view(level: CalibrationLevel, settings: CalibrationSettings,
                     good: Sequence[Outcome], traces: dict[str, dict[str, Any]]) -> None:
    """Line each request's client stamps up with the traced twin's, chunk by chunk."""
    server_ttft: list[float] = []
    client_ttft: list[float] = []
    server_gaps: list[float] = []
    client_gaps: list[float] = []
    delays: list[float] = []
    for outcome in good:
        stamps = stamps_of(outcome.exchange) if outcome.exchange is not None else outcome.stamps
        trace = traces.get(stamps[0]) if stamps is not None else None
        start = trace.get("first_bytes") or trace.get("arrived") if trace else None
        if stamps is None or trace is None or start is None:
            continue
        tokens, lead = settings.reply_tokens, _LEAD[Surface(settings.surface)]
        server = trace["sends"][lead:lead + tokens]
        client = stamps[1][lead:lead + tokens]
        if len(server) < tokens or len(client) < tokens or outcome.sample.ttft_ms is None:
            continue
        server_ttft.append((server[0] - start) * 1000)
        client_ttft.append(outcome.sample.ttft_ms)
        server_gaps += [(b - a) * 1000 for a, b in itertools.pairwise(server)]
        client_gaps += [(b - a) * 1000 for a, b in itertools.pairwise(client)]
        delays += [(c - s) * 1000 for c, s in zip(client, server, strict=True)]
    level.server_ttft = error_stats(server_ttft, settings.ttft_ms)
    level.server_itl = error_stats(server_gaps, settings.itl_ms)
    level.ttft_vs_server = error_stats(client_ttft, server_ttft)
    level.itl_vs_server = error_stats(client_gaps, server_gaps)
    level.stamp_delay = error_stats(delays, 0.0)


# Events before the first token, on both sides alike (one event, one write): none in a chat
# stream; message_start, ping and content_block_start in the Messages stream of the calibration
# answer (text only, no thinking).
_LEAD = {Surface.OPENAI: 0, Surface.ANTHROPIC: 3}


def _surface_url(base_url: str, surface: Surface) -> str:
    """The twin's base URL for the surface (the served twin announces the chat one)."""
    if surface is Surface.OPENAI or base_url.rstrip("/").endswith(ANTHROPIC_BASE_PATH):
        return base_url
    return str(httpx.URL(base_url).copy_with(path=ANTHROPIC_BASE_PATH, query=None))


def calibrate(settings: CalibrationSettings) -> CalibrationResult:
    server_cpu, client_cpu = _cpus(settings.pin)
    notes = []
    if settings.pin and client_cpu is None:
        notes.append("fewer than 2 CPUs available: the twin and the client share a CPU")
    if settings.workers > 1:
        # the workers use every core; a level left whole (c1) runs in this process, unpinned
        # too, so that every level of the run is measured the same way
        client_cpu = None
        notes.append(f"client split over {settings.workers} worker processes, not pinned")
    command: list[str] | None = None
    with contextlib.ExitStack() as stack:
        if settings.base_url is None:
            command = twin_command(settings)
            base_url, server = stack.enter_context(twin_process(command, server_cpu))
            pid: int | None = server.pid
        else:
            base_url, pid, server_cpu = settings.base_url, None, None
            notes.append("external twin: its timing must match --ttft-ms/--itl-ms, no jitter")
        base_url = _surface_url(base_url, Surface(settings.surface))
        pool = (stack.enter_context(contextlib.closing(LocalPool(settings.workers)))
                if settings.workers > 1 else None)
        with pinned(client_cpu):
            levels = asyncio.run(measure_levels(base_url, settings, pid, pool))
    import platform

    return CalibrationResult(
        harness_version=harness_version(), git_sha=git_sha(),
        python=f"{platform.python_implementation()} {platform.python_version()}",
        cpu_count=os.cpu_count(), server_command=command, base_url=base_url,
        traced=settings.traced, server_cpu=server_cpu, client_cpu=client_cpu,
        settings={k: getattr(settings, k) for k in settings.__dataclass_fields__},
        levels=levels, notes=notes,
    )


def _n(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def _v(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(result: CalibrationResult) -> str:
    s = result.settings
    out = [
        f"calibration: twin at {result.base_url} (ttft {s['ttft_ms']:g} ms, itl {s['itl_ms']:g} ms, "
        f"{s['reply_tokens']} tokens/reply, no jitter, {'traced' if result.traced else 'untraced'}); "
        f"twin on CPU {result.server_cpu}, client "
        + (f"on CPU {result.client_cpu}" if s.get("workers", 1) == 1 else f"in {s['workers']} workers"),
        "all in ms; err = measured - truth, as p50 / p99. 'nominal': truth = the twin's "
        "configured sleeps; 'server': truth = the traced twin's own write times (same clock)",
        "",
        f"{'conc':>5} {'ok':>8} | {'TTFT p50':>8} {'err nominal':>15} {'err server':>13} | "
        f"{'ITL p50':>7} {'err nominal':>13} {'err server':>13} | {'stamp delay':>13} | "
        f"{'twin late TTFT':>15} {'twin late ITL':>13} | {'client':>6} {'lag p99':>7} {'twin':>5} {'tok':>5}",
    ]

    def pair(stats: ErrorStats | None, digits: int = 2) -> str:
        if stats is None or stats.n == 0:
            return "-"
        return f"{_n(stats.err_p50_ms, digits)}/{_n(stats.err_p99_ms, digits)}"

    for level in result.levels:
        health = level.client
        out.append(
            f"{level.concurrency:>5} {f'{level.ok}/{level.requests}':>8} | "
            f"{_v(level.ttft.p50_ms):>8} {pair(level.ttft):>15} {pair(level.ttft_vs_server):>13} | "
            f"{_v(level.itl_chunk.p50_ms):>7} {pair(level.itl_chunk):>13} "
            f"{pair(level.itl_vs_server):>13} | {pair(level.stamp_delay):>13} | "
            f"{pair(level.server_ttft):>15} {pair(level.server_itl):>13} | "
            f"{(f'{health.cpu_percent:.0f}%' if health else '-'):>6} "
            f"{(_v(health.loop_lag_ms.p99, 1) if health else '-'):>7} "
            f"{(f'{level.server_cpu_percent:.0f}%' if level.server_cpu_percent is not None else '-'):>5} "
            f"{'exact' if level.tokens_exact else 'OFF':>5}")
    out += [f"note: {n}" for n in result.notes]
    out += [_bound_line(level) for level in result.levels if level.client and level.client.client_bound]
    return "\n".join(out)


def _bound_line(level: CalibrationLevel) -> str:
    """The bench's own rule (harness.bench.health): at such a level the error is the client's."""
    reasons = "; ".join(level.client.reasons) if level.client else ""
    return (f"client-bound at c{level.concurrency} ({reasons}): its errors measure this client, "
            "not the server; spread the load (bench --workers) or lower the concurrency")
