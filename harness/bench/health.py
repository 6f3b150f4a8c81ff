"""The load generator's own health: was the client, not the server, the bottleneck?

Three signals, taken while a level runs:
* CPU: this process's CPU time over wall time. The event loop is one thread, so near 100% of a
  core means timestamps wait for the loop and measured latencies include the client's queueing.
* Event-loop lag: a ticker asks to wake every `interval_s` and records how late it woke. Every
  chunk timestamp can be that late.
* Schedule lateness: how long after a request was due (its scheduled time, or the moment a slot
  was free) it was actually sent.
The thresholds are judgement calls, stated in the verdict's reasons so a reader can weigh them.

What the client itself was kept from, not the machine's load: on a machine shared with other
work (a first run in a fresh clone, next to a build), the loop wakes late because another
process holds the CPU while the client has nothing to do. Linux counts the time a thread waited,
runnable, for a CPU (`/proc/thread-self/schedstat`); each tick's lag less that wait, and at most
the CPU time the process used meanwhile, is the lag the client's own work caused
(`own_loop_lag_ms`), and that is what the lag signal weighs. Start lateness counts only when the
client was busy (its CPU over the time it was not kept waiting past `KEEP_UP_CPU`, or its own lag
past the lag threshold): an idle client's late starts waited for other processes or the network.
Either case is still said, as a reason prefixed `not client-bound:`, with the share of the level
the loop waited for a CPU (`starved_percent`). Where the kernel does not count waits, the lag
signal falls back to the whole lag.

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
    # the loop's lag less the time its thread waited for a CPU (None: not counted here)
    own_loop_lag_ms: Summary | None = None
    starved_percent: float | None = None  # share of the level the loop waited, runnable, for a CPU
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
        self.own_lags_ms: list[float] = []  # empty when the kernel does not count waits
        self.waited_s = 0.0  # time the loop's thread waited, runnable, for a CPU
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
            waited, cpu = runqueue_wait_s(), time.process_time()
            due = time.perf_counter() + self.interval_s
            await asyncio.sleep(self.interval_s)
            lag = time.perf_counter() - due
            self.lags_ms.append(round(lag * 1000, 4))
            after = runqueue_wait_s()
            if waited is not None and after is not None:
                self.waited_s += after - waited
                # Lag the process's own work can have caused: not the time the loop's thread
                # waited for a CPU, and no more than the CPU the process used meanwhile (a loop
                # waiting for the GIL of a thread that is itself kept from the CPU does no work).
                own = min(lag - (after - waited), time.process_time() - cpu)
                self.own_lags_ms.append(round(max(0.0, own) * 1000, 4))

    def report(self, lateness_ms: Sequence[float], succeeded: int | None = None) -> ClientHealth:
        """The verdict; `succeeded` (the level's successful requests, when known) of 0 means
        nothing was measured, so nothing can have been client-bound."""
        wall1 = self._wall1 or time.perf_counter()
        cpu1 = self._cpu1 or time.process_time()
        wall = max(wall1 - self._wall0, 1e-9)
        cpu = (cpu1 - self._cpu0) / wall
        lag, late = summarize(self.lags_ms), summarize(lateness_ms)
        own = summarize(self.own_lags_ms) if self.own_lags_ms else None
        starved = self.waited_s / wall if own is not None else None
        # how busy the client was while it could run: a starved client's CPU share understates it
        running = cpu / max(1.0 - starved, 0.05) if starved is not None else cpu
        bound, near, machine = weigh_signals(cpu, lag.p99, own.p99 if own else None, late.p90, starved, running)
        if succeeded == 0:
            bound, near = [], [*bound, *near]
        reasons = bound + [f"near: {reason}" for reason in near] + [f"not client-bound: {m}" for m in machine]
        return ClientHealth(cpu_percent=round(cpu * 100, 2), wall_s=round(wall, 4),
                            loop_lag_ms=lag, lateness_ms=late, client_bound=bool(bound),
                            reasons=reasons, own_loop_lag_ms=own,
                            starved_percent=round(starved * 100, 2) if starved is not None else None,
                            workers_needed=workers_needed(1, [running * 100]) if bound else None)


def runqueue_wait_s() -> float | None:
    """Seconds this thread has waited, runnable, for a CPU (Linux); None where not counted."""
    try:
        with open("/proc/thread-self/schedstat", "rb") as stat:
            return int(stat.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def weigh_signals(cpu: float, lag_p99_ms: float | None, own_lag_p99_ms: float | None,
                  late_p90_ms: float | None, starved: float | None, running: float | None = None,
                  ) -> tuple[list[str], list[str], list[str]]:
    """(reasons that set the flag, reasons near a threshold, reasons the machine's load and not
    the client explains). The lag weighed is the client's own where it was measured; `running`
    is the client's CPU share of the time it was not kept waiting (default: `cpu`)."""
    machine: list[str] = []
    held = f" (the loop waited for a CPU {starved:.0%} of the level)" if starved is not None else ""
    lag = lag_p99_ms
    if own_lag_p99_ms is not None:
        lag = own_lag_p99_ms
        if (lag_p99_ms or 0) >= LOOP_LAG_P99_MS * MARGIN > own_lag_p99_ms:
            machine.append(f"event-loop lag p99 {lag_p99_ms or 0:.1f} ms, of which the client's own work "
                           f"{own_lag_p99_ms:.1f} ms: other processes held the CPU{held}")
    busy = ((running if running is not None else cpu) >= KEEP_UP_CPU or own_lag_p99_ms is None
            or own_lag_p99_ms > LOOP_LAG_P99_MS)
    late = late_p90_ms if busy else None
    if not busy and (late_p90_ms or 0) >= LATENESS_P90_MS * MARGIN:
        machine.append(f"requests started {late_p90_ms or 0:.1f} ms late at p90 while the client was idle "
                       f"(CPU {cpu:.0%} of one core, its loop on time by its own work){held}")
    bound, near = verdict(cpu, lag, late, own=own_lag_p99_ms is not None)
    return bound, near, machine


def verdict(cpu: float, lag_p99_ms: float | None, late_p90_ms: float | None,
            own: bool = False) -> tuple[list[str], list[str]]:
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
          f"event-loop lag p99 {lag_p99_ms or 0:.1f} ms{' of its own work' if own else ''} "
          f"(flag at >= {LOOP_LAG_P99_MS * MARGIN:g} ms)")
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
