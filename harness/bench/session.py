"""One benchmark run from start to report: latency levels, then the task set, then the record.

The sample log is opened first and every sample goes to it as it finishes; the report is built
from whatever ran, so an interrupted run (SIGINT, SIGTERM) still ends with a valid report marked
`complete: false`, and a killed one (SIGKILL) leaves its JSONL.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .._files import check_output
from .._signals import EXIT_SIGINT, EXIT_SIGTERM
from ..targets import Target
from .clients import ShardedClient
from .efficiency import Efficiency, load_prices, run_efficiency
from .gate import DEFAULT_MAX_ERROR_RATE, gate_failures
from .progress import BenchProgress, LineProgress
from .report import (
    BenchReport,
    SampleLog,
    _utc_now,
    definitions,
    level_result,
    run_meta,
    sample_log_path,
    stop_record,
    task_set_ref,
    write_report,
)
from .runner import Arrival, Job, LevelRun, LevelSpec, LoadRunner, RetryPolicy
from .tasks import TaskSet
from .workers import Pool, Share, run_split_level, split

DEFAULT_PROMPT = "Explain in two short paragraphs how a hash map handles collisions."
EXIT_OK, EXIT_STOPPED, EXIT_GATE = 0, 1, 1
EXIT_LOG_FAILED = 2  # as any other output that could not be written
EXIT_INTERRUPTED, EXIT_TERMINATED = EXIT_SIGINT, EXIT_SIGTERM


@dataclass(frozen=True, slots=True)
class BenchConfig:
    concurrency: tuple[int, ...] = (1, 8)
    requests: int = 16
    warmup: int | None = None  # None: one request per slot (a full wave) before measuring
    ramp_s: float = 0.0  # closed loop: the slots start spread over this long
    rates: tuple[float | None, ...] = (None,)
    arrival: Arrival = "poisson"
    timeout_s: float = 120.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    thinking: bool = True
    prompt: str = DEFAULT_PROMPT
    max_tokens: int | None = None
    task_set: TaskSet | None = None
    task_thinking: tuple[bool, ...] = (True, False)
    task_concurrency: int = 4
    task_repeats: int = 1
    seed: int = 0
    progress: bool = True
    progress_lines: bool = False  # no bar (stderr is not a terminal): a line every few seconds
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    workers: int = 1  # latency levels split over this many workers (capped by concurrency)
    ray_address: str | None = None
    ray_placement: str = "cpu"  # one Ray worker per "cpu" or per "node"

    def levels(self) -> list[LevelSpec]:
        return [LevelSpec(concurrency=c, requests=self.requests,
                          warmup=c if self.warmup is None else self.warmup,
                          rate=rate, arrival=self.arrival, ramp_s=self.ramp_s)
                for c in self.concurrency for rate in self.rates]

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": [{"role": "user", "content": self.prompt}],
            "stream": True,
            "thinking": {"type": "enabled" if self.thinking else "disabled"},
        }
        if self.max_tokens:
            body["max_tokens"] = self.max_tokens
        return body

    def options(self) -> dict[str, Any]:
        """What the report records as the run's options (JSON-safe, no task bodies)."""
        data = asdict(self)
        data["task_set"] = self.task_set.name if self.task_set else None
        return data


@dataclass(slots=True)
class SessionResult:
    report: BenchReport
    path: Path
    exit_code: int
    log_failure: str | None = None  # the sample log stopped (a full disk): the run fails


async def run_session(target: Target, config: BenchConfig, out: Path,
                      extra_notes: Sequence[str] = (), pool: Pool | None = None,
                      *, named_out: bool = True) -> SessionResult:
    """`pool`: where latency levels of more than one share run (`bench --workers`, `--ray`);
    a level that splits into one share, and the task set, run in this process. `named_out`:
    the user gave `out` (a default name is never written through a link)."""
    check_output(out, named=named_out)  # before the run, not after it: a link planted at the
    check_output(out.with_suffix(".md"), named=False)  # .md would otherwise cost the whole run
    t0, t0_wall = time.perf_counter(), time.time()
    meta = run_meta(target, config.options())
    log = SampleLog(sample_log_path(out), header={"meta": meta.model_dump(mode="json"),
                                                  "task_set": config.task_set.ids if config.task_set else None})
    progress: BenchProgress | LineProgress | None = (
        BenchProgress() if config.progress else LineProgress() if config.progress_lines else None)
    efficiency: Efficiency | None = None
    interrupted = False
    runner: LoadRunner | None = None
    biggest = max([*config.concurrency, config.task_concurrency])
    terminated = _cancel_on_sigterm()
    try:
        timeout = httpx.Timeout(connect=10.0, read=config.timeout_s, write=30.0, pool=None)
        async with ShardedClient(target, slots=biggest, timeout=timeout) as client:
            runner = LoadRunner(client, run_t0=t0, timeout_s=config.timeout_s, retry=config.retry,
                                on_sample=log.write, progress=progress, seed=config.seed)
            body = config.body()

            def share_for(worker: int, part: LevelSpec, start_wall: float) -> Share:
                return Share(worker, part, target, body, config.thinking, config.timeout_s,
                             config.retry, config.seed, t0_wall, start_wall)

            for spec in config.levels():
                if pool is None or (len(split(spec, pool.size)) == 1 and not config.ray_address):
                    await runner.run_level(spec, lambda i: Job(body, thinking=config.thinking))
                else:
                    run = LevelRun(spec)
                    runner.runs.append(run)
                    await run_split_level(pool, run, share_for, on_sample=log.write,
                                          next_index=runner.next_index, progress=progress)
                    runner.stopped = runner.stopped or run.stopped
                if runner.stopped:
                    break
            if config.task_set is not None and not runner.stopped:
                efficiency, _ = await run_efficiency(
                    runner, config.task_set, target.model, config.task_thinking,
                    concurrency=config.task_concurrency, repeats=config.task_repeats,
                    prices=load_prices())
    except asyncio.CancelledError:
        interrupted = True
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
    finally:
        if progress is not None:
            progress.close()
        log.close()
    runs = runner.runs if runner is not None else []
    notes = list(extra_notes)
    if log.failure:
        notes.append(f"{log.failure}; this report holds every sample")
    report = build_report(meta, runs, config, efficiency, interrupted, t0, str(log.path), notes)
    write_report(report, out, named=named_out)
    if interrupted:
        code = EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    elif log.failure:
        code = EXIT_LOG_FAILED
    else:
        code = EXIT_STOPPED if report.stopped else EXIT_GATE if report.gate_failures else EXIT_OK
    return SessionResult(report, out, code, log.failure)


def build_report(meta: Any, runs: Sequence[LevelRun], config: BenchConfig,
                 efficiency: Efficiency | None, interrupted: bool, t0: float,
                 log_path: str | None, notes: list[str]) -> BenchReport:
    meta.ended_at = _utc_now()
    meta.duration_s = round(time.perf_counter() - t0, 3)
    levels = [level_result(run, seed=config.seed) for run in runs]
    stopped = next((run.stopped for run in runs if run.stopped), None)
    samples = sorted((o.sample for run in runs for o in (*run.warmup, *run.outcomes)),
                     key=lambda s: s.index)
    if interrupted:
        notes.append("interrupted: the levels and samples here are those finished before the "
                     "signal; requests in flight were dropped")
    return BenchReport(
        complete=not interrupted and stopped is None, meta=meta,
        task_set=task_set_ref(config.task_set) if config.task_set else None,
        definitions=definitions(), levels=levels, efficiency=efficiency,
        client_bound=any(level.health and level.health.client_bound for level in levels),
        stopped=stop_record(stopped), gate_failures=gate_failures(levels, config.max_error_rate),
        notes=notes, sample_log=log_path, samples=samples,
    )


def _cancel_on_sigterm() -> list[int]:
    """SIGTERM ends a run like Ctrl-C does: cancel, then write what was measured. The list
    returned gets an entry when SIGTERM arrived (the exit status tells the two apart)."""
    seen: list[int] = []
    task = asyncio.current_task()
    if task is None:
        return seen

    def cancel() -> None:
        if not seen:  # said at once: writing the report can take a second or two more
            print("glm-harness bench: terminated; writing the report of what was measured",
                  file=sys.stderr, flush=True)
        seen.append(signal.SIGTERM)
        task.cancel()

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, cancel)
    return seen
