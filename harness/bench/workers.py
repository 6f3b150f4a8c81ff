"""A latency level split over workers, each with its own event loop: all cores, or a Ray cluster.

One event loop stamps every chunk of every stream it carries; past a few hundred streams it is
busy enough that stamps wait for it, and the client's queueing reads as server latency. So a
level's concurrency (or request rate) is split into shares, one per worker, and every worker
runs its share with the same `LoadRunner` the single-process bench uses (`run_share`). A worker
is a spawned local process (`LocalPool`) or a Ray task (`harness.bench.distributed.RayPool`);
both hand the parent the same messages, and `run_split_level` merges them into one `LevelRun`:
each sample is written to the sample log the moment it reaches the parent. A worker ships its
samples in batches, at most `SHIP_S` after each ended (a message per sample kept the parent and
each worker's queue thread busy enough to hold back the workers' loops), so a worker killed
mid-level loses its requests in flight and the samples of its last `SHIP_S`. Each worker
checks its own answers against the contract after its level and sends the rules broken, so the
report counts them as before.

Every worker puts its times on the run's axis through the wall clock the parent started at
(`run_t0_wall`); latencies are differences of one worker's own monotonic stamps and never mix
clocks.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import queue
import signal
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import httpx

from ..errors import UsageError
from ..targets import Target
from .clients import ShardedClient
from .health import WorkerHealth, combine
from .metrics import Sample
from .runner import Job, LevelRun, LevelSpec, LoadRunner, Outcome, RetryPolicy, Stamps, StopInfo, _utc, stamps_of

# How long the parent waits for a message before it looks whether its workers are still alive.
_POLL_S = 0.25
SHIP_S = 0.05
_READY_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class Share:
    """One worker's part of a level: its own concurrency, requests, warm-up and rate."""

    worker: int
    spec: LevelSpec  # labelled with the level's name, so the samples carry it
    target: Target
    body: dict[str, Any]
    thinking: bool
    timeout_s: float
    retry: RetryPolicy
    seed: int
    run_t0_wall: float  # time.time() when the run started: the one axis all workers share
    start_wall: float = 0.0  # time.time() at which every worker of the level begins at once
    # calibration: each request carries request_id "<this>-<worker>-<n>", and the worker sends
    # back its answers' stamps, to be lined up with the server's (same machine, same clock)
    request_ids: str | None = None


@dataclass(frozen=True, slots=True)
class SampleMsg:
    worker: int
    samples: list[Sample]


@dataclass(slots=True)
class DoneMsg:
    """A worker's share is over: its health, the rules its answers broke, why it stopped."""

    worker: WorkerHealth
    violations: dict[int, list[str]] = field(default_factory=dict)  # local index -> rules
    checked: list[int] = field(default_factory=list)  # local indexes of answers checked
    stopped: StopInfo | None = None
    stamps: dict[int, Stamps] = field(default_factory=dict)  # local index -> (Share.request_ids)


Message = SampleMsg | DoneMsg
Emit = Callable[[Message], None]


def drain(inbox: Any, timeout_s: float) -> list[Message]:
    """What has arrived in `inbox` (waiting up to `timeout_s` for the first): one thread hop per
    batch. `inbox` is a queue.Queue or a multiprocessing queue; both raise queue.Empty."""
    messages: list[Message] = []
    try:
        messages.append(inbox.get(timeout=timeout_s))
        while True:
            messages.append(inbox.get_nowait())
    except queue.Empty:
        return messages


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def split(spec: LevelSpec, workers: int) -> list[LevelSpec]:
    """`workers` shares of a level, as even as whole numbers allow; none is empty."""
    workers = max(1, min(workers, spec.concurrency, max(spec.requests, 1)))

    def part(total: int, k: int) -> int:
        return total // workers + (k < total % workers)

    return [replace(spec, concurrency=part(spec.concurrency, k), requests=part(spec.requests, k),
                    warmup=part(spec.warmup, k), label=spec.name,
                    rate=spec.rate * part(spec.concurrency, k) / spec.concurrency if spec.rate else None,
                    delay_s=_offset(spec, k))
            for k in range(workers)]


def _offset(spec: LevelSpec, k: int) -> float:
    """How long after worker 0 worker k starts: constant arrivals and a closed loop's ramp
    interleave (worker k's slots start between worker 0's), not start in step."""
    if spec.rate:
        return k / spec.rate if spec.arrival == "constant" else 0.0
    return k * spec.ramp_s / spec.concurrency


# -- the worker -----------------------------------------------------------------------------------
async def run_share(share: Share, emit: Emit, node: str | None = None) -> None:
    """Run one share of a level; its samples go to `emit` in batches (`SHIP_S`), then one
    `DoneMsg`."""
    run_t0 = time.perf_counter() - (time.time() - share.run_t0_wall)
    spec = share.spec
    me = WorkerHealth(worker=share.worker, host=socket.gethostname(), node=node, pid=os.getpid(),
                      concurrency=spec.concurrency, requests=spec.requests, completed=0, health=None)
    done = DoneMsg(me)
    timeout = httpx.Timeout(connect=10.0, read=share.timeout_s, write=30.0, pool=None)

    shipper = _Shipper(share.worker, emit)
    try:
        async with ShardedClient(share.target, slots=spec.concurrency, timeout=timeout) as client:
            await asyncio.sleep(max(share.start_wall - time.time(), 0.0))
            runner = LoadRunner(client, run_t0=run_t0, timeout_s=share.timeout_s,
                                retry=share.retry, on_sample=shipper.add,
                                seed=share.seed + share.worker)
            run = await runner.run_level(spec, _jobs(share))
        me.health, me.completed, done.stopped = run.health, len(run.outcomes), run.stopped
        done.violations = {o.sample.index: o.sample.violations for o in run.outcomes
                           if o.sample.violations}
        done.checked = [o.sample.index for o in run.outcomes if o.checked]
        done.stamps = {o.sample.index: stamps_of(o.exchange) for o in run.outcomes
                       if o.exchange is not None and share.request_ids}
    except Exception as failure:  # reported to the parent, which marks the level
        me.error = share.target.redact(f"{type(failure).__name__}: {failure}")[:300]
    shipper.flush()
    emit(done)


def _jobs(share: Share) -> Callable[[int], Job]:
    if share.request_ids is None:
        return lambda _: Job(share.body, thinking=share.thinking)
    numbers = itertools.count()  # warm-up and measured requests alike: every id is new
    return lambda _: Job({**share.body, "request_id": f"{share.request_ids}-{share.worker}-{next(numbers)}"},
                         thinking=share.thinking, keep=True)


class _Shipper:
    """A worker's samples to the parent, in one message per `SHIP_S`."""

    def __init__(self, worker: int, emit: Emit) -> None:
        self.worker, self.emit = worker, emit
        self.batch: list[Sample] = []
        self.due: asyncio.TimerHandle | None = None

    def add(self, sample: Sample) -> None:
        sample.worker = self.worker
        self.batch.append(sample)
        if self.due is None:
            self.due = asyncio.get_running_loop().call_later(SHIP_S, self.flush)

    def flush(self) -> None:
        if self.due is not None:
            self.due.cancel()
            self.due = None
        if self.batch:
            self.emit(SampleMsg(self.worker, self.batch))
            self.batch = []


def _process_main(worker: int, commands: Any, results: Any) -> None:
    """A local worker process: say it is ready, then run each share it is given until None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    results.put(worker)
    while (share := commands.get()) is not None:
        asyncio.run(run_share(share, results.put))


# -- where workers run ---------------------------------------------------------------------------------
class Pool(Protocol):
    """Somewhere shares run: `start` them, then `receive` their messages until each is done."""

    size: int
    lead_s: float  # how far ahead of its start a level's shares are sent

    def start(self, shares: Sequence[Share]) -> None: ...

    def receive(self, timeout_s: float) -> list[Message]: ...

    def lost(self, workers: Sequence[int]) -> dict[int, str]: ...

    def close(self) -> None: ...


class LocalPool:
    """`size` spawned processes, started once (each ready, its imports done) and reused level
    after level."""

    lead_s = 0.2

    def __init__(self, size: int) -> None:
        self.size = size
        context = multiprocessing.get_context("spawn")  # no forked event loop or open sockets
        self._results: Any = context.Queue()
        self._commands = [context.Queue() for _ in range(size)]
        self._processes = [context.Process(target=_process_main, args=(k, c, self._results),
                                           name=f"bench-worker-{k}", daemon=True)
                           for k, c in enumerate(self._commands)]
        for process in self._processes:
            process.start()
        for _ in self._processes:
            try:
                self._results.get(timeout=_READY_TIMEOUT_S)
            except queue.Empty:
                self.close()
                raise UsageError(f"bench worker processes not ready in {_READY_TIMEOUT_S:g} s") from None

    def start(self, shares: Sequence[Share]) -> None:
        for share in shares:
            self._commands[share.worker].put(share)

    def receive(self, timeout_s: float) -> list[Message]:
        return drain(self._results, timeout_s)

    def lost(self, workers: Sequence[int]) -> dict[int, str]:
        return {k: f"worker process exited with status {self._processes[k].exitcode}"
                for k in workers if not self._processes[k].is_alive()}

    def close(self) -> None:
        for command in self._commands:
            command.put(None)
        # An idle worker exits at once; one still busy with a share (the run was interrupted)
        # is terminated rather than waited on: SIGTERM and Ctrl-C end a run within a second.
        deadline = time.monotonic() + 0.2
        for process in self._processes:
            process.join(timeout=max(deadline - time.monotonic(), 0.1))
            if process.is_alive():
                process.terminate()
                process.join(timeout=2)


# -- the parent ------------------------------------------------------------------------------------
async def run_split_level(pool: Pool, run: LevelRun, share_for: Callable[[int, LevelSpec, float], Share],
                          *, on_sample: Callable[[Sample], None], next_index: Callable[[], int],
                          progress: Any = None) -> None:
    """`run`'s level over the pool's workers, merged into `run` as if one runner had measured it
    (filled as messages come, so an interrupted level keeps what was measured)."""
    spec = run.spec
    parts = split(spec, pool.size)
    run.started_at = _utc()
    by_local: dict[tuple[int, int], Outcome] = {}
    reports: dict[int, WorkerHealth] = {}
    if progress is not None:
        progress.start_level(spec.name, spec.requests)
    start_wall = time.time() + pool.lead_s
    pool.start([share_for(k, part, start_wall) for k, part in enumerate(parts)])
    try:
        while len(reports) < len(parts):
            messages = await asyncio.to_thread(pool.receive, _POLL_S)
            for message in messages:
                if isinstance(message, SampleMsg):
                    for sample in message.samples:
                        _take_sample(run, message.worker, sample, by_local, next_index, on_sample,
                                     progress)
                else:
                    reports[message.worker.worker] = message.worker
                    _apply_checks(message, by_local)
                    run.stopped = run.stopped or message.stopped
            if not messages:
                waiting = [k for k in range(len(parts)) if k not in reports]
                for k, why in pool.lost(waiting).items():
                    reports[k] = _lost(k, parts[k], why, by_local)
    except asyncio.CancelledError:
        run.interrupted = True
        raise
    finally:
        run.ended_at = _utc()
        for k, part in enumerate(parts):
            if k not in reports:  # interrupted: the worker's share is cut short
                reports[k] = _lost(k, part, "interrupted before it reported", by_local)
        run.workers = [reports[k] for k in sorted(reports)]
        run.health = combine(run.workers, [s.lateness_ms for s in run.samples])
        if progress is not None:
            progress.end_level()


def _take_sample(run: LevelRun, worker: int, sample: Sample,
                 by_local: dict[tuple[int, int], Outcome], next_index: Callable[[], int],
                 on_sample: Callable[[Sample], None], progress: Any) -> None:
    outcome = Outcome(sample)
    by_local[worker, sample.index] = outcome
    sample.index = next_index()  # one numbering for the whole run, in the order samples came
    (run.warmup if sample.phase == "warmup" else run.outcomes).append(outcome)
    on_sample(sample)
    if progress is not None and sample.phase != "warmup":
        progress.advance(sample)


def _apply_checks(done: DoneMsg, by_local: dict[tuple[int, int], Outcome]) -> None:
    worker = done.worker.worker
    for local in done.checked:
        if (outcome := by_local.get((worker, local))) is not None:
            outcome.checked = True
    for local, stamps in done.stamps.items():
        if (outcome := by_local.get((worker, local))) is not None:
            outcome.stamps = stamps
    for local, rules in done.violations.items():
        if (outcome := by_local.get((worker, local))) is not None:
            outcome.sample.violations = rules


def _lost(worker: int, part: LevelSpec, why: str,
          by_local: dict[tuple[int, int], Outcome]) -> WorkerHealth:
    completed = sum(1 for (k, _), o in by_local.items() if k == worker and o.sample.phase != "warmup")
    return WorkerHealth(worker=worker, host=socket.gethostname(), pid=-1,
                        concurrency=part.concurrency, requests=part.requests, completed=completed,
                        health=None, error=why)
