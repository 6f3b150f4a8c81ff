"""The load generator's own health: was the client, not the server, the bottleneck?

Three signals, taken while a level runs:
* CPU: this process's CPU time over wall time. The event loop is one thread, so near 100% of a
  core means timestamps wait for the loop and measured latencies include the client's queueing.
* Event-loop lag: a ticker asks to wake every `interval_s` and records how late it woke. Every
  chunk timestamp can be that late.
* Schedule lateness: how long after a request was due (its scheduled time, or the moment a slot
  was free) it was actually sent.
The thresholds are judgement calls, stated in the verdict's reasons so a reader can weigh them.

The flag is set only when a signal is past its threshold by a margin (`MARGIN` times the
threshold; for CPU, `CPU_BOUND_CLEAR` of a core): a signal between the threshold and the margin
is reported as "near" and leaves the flag clear, so two identical runs that land on either side
of a threshold do not disagree. A level with no successful request is never called client-bound:
its timings measured nothing, and the bench gate fails it anyway.

A level split over workers (`bench --workers`) has one verdict per worker; the level is
client-bound when any of them was, and then says how many workers would have kept up: a worker
keeps up while its loop is busy at most `KEEP_UP_CPU` of a core (beyond that, timers and reads
queue behind each other and lag grows), so the level needs at least the workers' summed CPU over
that share, and always at least one more worker than it had. A level bound while no worker was
that busy was starved by other processes on the machine: no count of workers is given then.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from .stats import Summary, summarize

CPU_BOUND = 0.90  # share of one core
CPU_BOUND_CLEAR = 0.97  # the margin for CPU: a core cannot be used twice over
LOOP_LAG_P99_MS = 5.0
LATENESS_P90_MS = 10.0
MARGIN = 2.0  # a lag or lateness signal sets the flag at twice its threshold
KEEP_UP_CPU = 0.6  # share of one core a worker's loop can use and still stamp on time


class ClientHealth(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpu_percent: float
    wall_s: float
    loop_lag_ms: Summary
    lateness_ms: Summary
    client_bound: bool
    reasons: list[str]
    # client-bound levels only: the fewest workers that would have kept up (see KEEP_UP_CPU)
    workers_needed: int | None = None


class WorkerHealth(BaseModel):
    """One worker's part of a level: where it ran, what it carried, and its own health."""

    model_config = ConfigDict(extra="forbid")

    worker: int
    host: str
    node: str | None = None  # the Ray node id, when the worker ran on a Ray cluster
    pid: int
    concurrency: int
    requests: int
    completed: int
    health: ClientHealth | None
    error: str | None = None  # why the worker ended without reporting (killed, crashed)


class HealthMonitor:
    """`async with HealthMonitor() as h: ...; h.report(lateness)`."""

    def __init__(self, interval_s: float = 0.01) -> None:
        self.interval_s = interval_s
        self.lags_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._cpu0 = self._wall0 = 0.0
        self._cpu1 = self._wall1 = 0.0
        self.started = False

    async def __aenter__(self) -> HealthMonitor:
        self._cpu0, self._wall0 = time.process_time(), time.perf_counter()
        self._task = asyncio.create_task(self._tick(), name="bench-loop-lag")
        self.started = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cpu1, self._wall1 = time.process_time(), time.perf_counter()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _tick(self) -> None:
        while True:
            due = time.perf_counter() + self.interval_s
            await asyncio.sleep(self.interval_s)
            self.lags_ms.append(round((time.perf_counter() - due) * 1000, 4))

    def report(self, lateness_ms: Sequence[float], succeeded: int | None = None) -> ClientHealth:
        """The verdict; `succeeded` (the level's successful requests, when known) of 0 means
        nothing was measured, so nothing can have been client-bound."""
        wall1 = self._wall1 or time.perf_counter()
        cpu1 = self._cpu1 or time.process_time()
        wall = max(wall1 - self._wall0, 1e-9)
        cpu = (cpu1 - self._cpu0) / wall
        lag, late = summarize(self.lags_ms), summarize(lateness_ms)
        bound, near = verdict(cpu, lag.p99, late.p90)
        if succeeded == 0:
            bound, near = [], [*bound, *near]
        reasons = bound + [f"near: {reason}" for reason in near]
        return ClientHealth(cpu_percent=round(cpu * 100, 2), wall_s=round(wall, 4),
                            loop_lag_ms=lag, lateness_ms=late, client_bound=bool(bound),
                            reasons=reasons,
                            workers_needed=workers_needed(1, [cpu * 100]) if bound else None)


def verdict(cpu: float, lag_p99_ms: float | None, late_p90_ms: float | None) -> tuple[list[str], list[str]]:
    """(reasons that set the flag, reasons near a threshold but inside the margin)."""
    bound: list[str] = []
    near: list[str] = []

    def weigh(value: float | None, threshold: float, clear: float, text: str) -> None:
        if value is None or value <= threshold:
            return
        (bound if value >= clear else near).append(text)

    weigh(cpu, CPU_BOUND, CPU_BOUND_CLEAR,
          f"client CPU {cpu:.0%} of one core (flag at >= {CPU_BOUND_CLEAR:.0%})")
    weigh(lag_p99_ms, LOOP_LAG_P99_MS, LOOP_LAG_P99_MS * MARGIN,
          f"event-loop lag p99 {lag_p99_ms or 0:.1f} ms (flag at >= {LOOP_LAG_P99_MS * MARGIN:g} ms)")
    # p90, not p99: a closed loop's first wave is a burst the client can only send one by
    # one, so a few late starts are normal; most requests starting late is not.
    weigh(late_p90_ms, LATENESS_P90_MS, LATENESS_P90_MS * MARGIN,
          f"requests started {late_p90_ms or 0:.1f} ms late at p90 "
          f"(flag at >= {LATENESS_P90_MS * MARGIN:g} ms)")
    return bound, near


def combine(workers: Sequence[WorkerHealth], lateness_ms: Sequence[float]) -> ClientHealth | None:
    """A split level's health: the busiest worker's CPU and loop lag, every request's lateness,
    each worker's own verdict (a lost worker counts as bound: its share was not measured)."""
    healths = [w.health for w in workers if w.health is not None]
    if not healths:
        return None
    busiest = max(healths, key=lambda h: h.cpu_percent)
    laggiest = max(healths, key=lambda h: h.loop_lag_ms.p99 or 0.0)
    reasons = [f"worker {w.worker}: {reason}" for w in workers if w.health for reason in w.health.reasons]
    reasons += [f"worker {w.worker}: {w.error}" for w in workers if w.error]
    bound = any(w.error or (w.health is not None and w.health.client_bound) for w in workers)
    cpus = [h.cpu_percent for h in healths]
    return ClientHealth(
        cpu_percent=busiest.cpu_percent, wall_s=max(h.wall_s for h in healths),
        loop_lag_ms=laggiest.loop_lag_ms, lateness_ms=summarize(lateness_ms), client_bound=bound,
        reasons=reasons,
        workers_needed=workers_needed(len(workers), cpus) if bound else None,
    )


def workers_needed(workers: int, cpu_percents: Sequence[float]) -> int | None:
    """The fewest workers that would have kept up with the load these `workers` carried; None
    when no worker was busy past `KEEP_UP_CPU`: a loop that lags while its process is mostly
    idle waited for other processes on the machine, and more workers would not help."""
    if max(cpu_percents, default=0.0) / 100 < KEEP_UP_CPU:
        return None
    busy = sum(cpu_percents) / 100
    return max(workers + 1, math.ceil(busy / KEEP_UP_CPU))
