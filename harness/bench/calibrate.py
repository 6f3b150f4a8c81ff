"""Calibration: the harness measures a server whose timings are known, and reports its own error.

The twin runs over real HTTP in its own process, pinned to one CPU, with no jitter: it sleeps
`ttft_ms` before the first chunk and `itl_ms` before each later one, one token per chunk, so the
truth per request is exact (TTFT, every gap, and usage.completion_tokens == chunks). The client
(this process's event loop) is pinned to another CPU, and measures as in any benchmark.

Error is measured minus nominal. It is the sum of what the client adds (request write, event-loop
delay before a chunk is stamped) and what the twin adds to its nominal sleeps (request parsing
and rendering before the first sleep, asyncio timer granularity, its own loop falling behind at
high concurrency). The twin cannot report its own lateness, so the two are not separated here;
the server's CPU share is printed beside the error: near 100% means the twin, not the client, is
late.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from pydantic import BaseModel, ConfigDict

from ..client import AsyncGLMClient
from ..contract import DEFAULT_MODEL
from ..errors import UsageError
from ..targets import mock_target
from .health import ClientHealth
from .progress import BenchProgress
from .report import git_sha, harness_version
from .runner import Job, LevelSpec, LoadRunner, RetryPolicy

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

    @property
    def request_s(self) -> float:
        """How long one request takes on the twin: TTFT, the other tokens, the last chunk and
        [DONE]; the closed loop's slots start spread over this so they never send in bursts."""
        return (self.ttft_ms + (self.reply_tokens + 1) * self.itl_ms) / 1000

    def requests_for(self, concurrency: int) -> int:
        return self.requests or max(40, 3 * concurrency)


class ErrorStats(BaseModel):
    model_config = ConfigDict(extra="forbid")

    truth_ms: float
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
    ttft: ErrorStats
    itl_chunk: ErrorStats
    itl_token: ErrorStats
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
    server_cpu: int | None
    client_cpu: int | None
    settings: dict[str, Any]
    levels: list[CalibrationLevel]
    notes: list[str]


def error_stats(values: Sequence[float], truth: float) -> ErrorStats:
    array = np.asarray([v for v in values if v is not None], dtype=float)
    if not array.size:
        return ErrorStats(truth_ms=truth, n=0, p50_ms=None, p99_ms=None, err_p50_ms=None,
                          err_p99_ms=None, err_mean_ms=None)
    p50, p99 = (float(x) for x in np.percentile(array, [50, 99]))
    return ErrorStats(truth_ms=truth, n=int(array.size), p50_ms=round(p50, 4), p99_ms=round(p99, 4),
                      err_p50_ms=round(p50 - truth, 4), err_p99_ms=round(p99 - truth, 4),
                      err_mean_ms=round(float(array.mean()) - truth, 4))


# -- the twin in its own process --------------------------------------------------------------------
def _cpus(pin: bool) -> tuple[int | None, int | None]:
    if not pin or not hasattr(os, "sched_getaffinity"):
        return None, None
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    return available[0], available[1]


def twin_command(settings: CalibrationSettings) -> list[str]:
    return [sys.executable, "-m", "harness.mock.server", "--port", "0",
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
                              preexec_fn=pin)  # noqa: PLW1509 - pinning needs it
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
CALIBRATION_BODY = {
    "messages": [{"role": "user", "content": "Calibration request: any answer will do."}],
    "stream": True,
    "thinking": {"type": "disabled"},
}


async def measure_levels(base_url: str, settings: CalibrationSettings,
                         server_pid: int | None) -> list[CalibrationLevel]:
    target = mock_target(settings.model, base_url)
    timeout = httpx.Timeout(connect=30.0, read=120.0, write=30.0, pool=None)
    levels = []
    progress = BenchProgress() if settings.progress else None
    try:
        async with AsyncGLMClient(target, timeout=timeout,
                                  max_connections=max(settings.concurrency)) as client:
            runner = LoadRunner(client, timeout_s=120.0, retry=RetryPolicy(max_retries=0),
                                progress=progress)
            for concurrency in settings.concurrency:
                spec = LevelSpec(concurrency=concurrency, requests=settings.requests_for(concurrency),
                                 warmup=concurrency, label=f"calibrate c{concurrency}",
                                 ramp_s=settings.request_s if concurrency > 1 else 0.0)
                cpu0, wall0 = (process_cpu_seconds(server_pid) if server_pid else None), 0.0
                wall0 = time.perf_counter()
                run = await runner.run_level(spec, lambda i: Job(CALIBRATION_BODY))
                cpu1 = process_cpu_seconds(server_pid) if server_pid else None
                wall = time.perf_counter() - wall0
                server_cpu = (round((cpu1 - cpu0) / wall * 100, 1)
                              if cpu0 is not None and cpu1 is not None and wall > 0 else None)
                levels.append(_level(settings, concurrency, run.samples, run.health, server_cpu))
    finally:
        if progress is not None:
            progress.close()
    return levels


def _level(settings: CalibrationSettings, concurrency: int, samples: Sequence[Any],
           health: ClientHealth | None, server_cpu: float | None) -> CalibrationLevel:
    good = [s for s in samples if s.ok]
    exact = bool(good) and all(
        s.completion_tokens == s.token_chunks == settings.reply_tokens for s in good)
    return CalibrationLevel(
        concurrency=concurrency, requests=len(samples), ok=len(good),
        failed=len(samples) - len(good),
        ttft=error_stats([s.ttft_ms for s in good], settings.ttft_ms),
        itl_chunk=error_stats([g for s in good for g in s.itl_chunk_ms()], settings.itl_ms),
        itl_token=error_stats([s.itl_token_ms for s in good], settings.itl_ms),
        tokens_exact=exact, client=health, server_cpu_percent=server_cpu,
    )


def calibrate(settings: CalibrationSettings) -> CalibrationResult:
    server_cpu, client_cpu = _cpus(settings.pin)
    notes = []
    if settings.pin and client_cpu is None:
        notes.append("fewer than 2 CPUs available: the twin and the client share a CPU")
    command: list[str] | None = None
    with contextlib.ExitStack() as stack:
        if settings.base_url is None:
            command = twin_command(settings)
            base_url, server = stack.enter_context(twin_process(command, server_cpu))
            pid: int | None = server.pid
        else:
            base_url, pid, server_cpu = settings.base_url, None, None
            notes.append("external twin: its timing must match --ttft-ms/--itl-ms, no jitter")
        with pinned(client_cpu):
            levels = asyncio.run(measure_levels(base_url, settings, pid))
    import platform

    return CalibrationResult(
        harness_version=harness_version(), git_sha=git_sha(),
        python=f"{platform.python_implementation()} {platform.python_version()}",
        cpu_count=os.cpu_count(), server_command=command, base_url=base_url,
        server_cpu=server_cpu, client_cpu=client_cpu,
        settings={k: getattr(settings, k) for k in settings.__dataclass_fields__},
        levels=levels, notes=notes,
    )


def _n(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def _v(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(result: CalibrationResult) -> str:
    s = result.settings
    lines = [
        f"calibration: twin at {result.base_url} (ttft {s['ttft_ms']:g} ms, itl {s['itl_ms']:g} ms, "
        f"{s['reply_tokens']} tokens, no jitter); server CPU {result.server_cpu}, client CPU "
        f"{result.client_cpu}",
        "error = measured - nominal, ms. TTFT per request; ITL/chunk every gap; ITL/token per "
        "request (decode span / (usage tokens - 1))",
        f"{'conc':>5} {'ok':>6} | {'TTFT p50':>9} {'p99':>8} {'err p50':>8} {'err p99':>8} | "
        f"{'ITL p50':>8} {'p99':>7} {'err p50':>8} {'err p99':>8} | {'ITL/tok err p50':>15} | "
        f"{'client CPU':>10} {'loop lag p99':>12} {'server CPU':>10} {'tokens':>6}",
    ]
    for level in result.levels:
        t, i, k = level.ttft, level.itl_chunk, level.itl_token
        health = level.client
        lines.append(
            f"{level.concurrency:>5} {level.ok:>3}/{level.requests:<3}| {_v(t.p50_ms):>9} "
            f"{_v(t.p99_ms):>8} {_n(t.err_p50_ms):>8} {_n(t.err_p99_ms):>8} | {_v(i.p50_ms):>8} "
            f"{_v(i.p99_ms):>7} {_n(i.err_p50_ms):>8} {_n(i.err_p99_ms):>8} | "
            f"{_n(k.err_p50_ms, 3):>15} | "
            f"{(f'{health.cpu_percent:.0f}%' if health else '-'):>10} "
            f"{(_v(health.loop_lag_ms.p99) if health else '-'):>12} "
            f"{(f'{level.server_cpu_percent:.0f}%' if level.server_cpu_percent is not None else '-'):>10} "
            f"{'exact' if level.tokens_exact else 'OFF':>6}")
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)
