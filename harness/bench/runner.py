"""The async load runner: one process, one event loop, N requests in flight.

A level is a concurrency (requests in flight at most) and either a closed loop (each slot sends
its next request as soon as the previous one ends) or an open loop at a request rate, constant
or Poisson, drawn from a seeded generator so a schedule can be replayed. Warm-up requests run
first at the same concurrency (connections opened, caches warm) and are kept out of the figures.

Nothing a server does crashes a run: every failure becomes a `Sample` with its error. The 429
policy follows the error catalogue: a retryable code (1302 rate limit, 1305 overload) waits for
`Retry-After` when the server sends one, else backs off exponentially, then retries; an
account-level code (1113 balance, auth, plan quota) stops the run, because every later request
would fail the same way and a benchmark of errors measures nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import gc
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from .._silence import HUNG_AFTER
from ..checks import Expect, check_exchange
from ..client import AsyncGLMClient, Exchange, TimedEvent
from ..contract import business_error, is_retryable
from ..surface import Surface
from .clients import ShardedClient
from .health import ClientHealth, HealthMonitor, WorkerHealth
from .messages import build_message_sample, messages_body
from .metrics import Phase, Sample, SampleError, build_sample
from .transport import BenchHTTPClient, ReadResponse

Arrival = Literal["constant", "poisson"]
Stamps = tuple[str, list[float]]  # a request_id, and when each data event of its answer came

# 1000-1004 auth, 1110-1113 and 1120 account, 1304 daily limit, 1308-1310 plan quota or expiry.
STOP_CODES = frozenset({"1000", "1001", "1002", "1003", "1004", "1110", "1111", "1112", "1113",
                        "1120", "1304", "1308", "1309", "1310"})


@dataclass(frozen=True, slots=True)
class Job:
    """One request to send. `keep` asks the runner to hand back the exchange (for grading)."""

    body: dict[str, Any]
    task_id: str | None = None
    thinking: bool | None = None
    keep: bool = False


@dataclass(frozen=True, slots=True)
class LevelSpec:
    concurrency: int
    requests: int
    warmup: int = 0
    rate: float | None = None  # requests/s; None = closed loop
    arrival: Arrival = "poisson"
    label: str = ""
    # Closed loop: slot k starts at k * ramp_s / concurrency instead of all at once. Against a
    # server with fixed timings a simultaneous start keeps every later wave in lock-step (bursts
    # of N sends); a ramp of about one request's duration spreads them evenly.
    ramp_s: float = 0.0
    # Open loop: the schedule starts this late (a worker's share of a constant rate interleaves).
    delay_s: float = 0.0

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        return f"c{self.concurrency}" + (f"-r{self.rate:g}-{self.arrival}" if self.rate else "")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 3
    base_s: float = 1.0
    max_wait_s: float = 60.0


@dataclass(frozen=True, slots=True)
class StopInfo:
    status: int | None
    code: str | None
    message: str
    meaning: str

    def explain(self) -> str:
        what = f"HTTP {self.status}" + (f" code {self.code}" if self.code else "")
        return f"{what} ({self.meaning}): {self.message}".rstrip(": ")


@dataclass(slots=True)
class Outcome:
    sample: Sample
    exchange: Exchange | None = None
    keep: bool = False  # hand the exchange back (grading); otherwise it is dropped once checked
    checked: bool = False
    # measured in a worker (calibration): the answer's request_id and its data events' stamps
    stamps: Stamps | None = None


# Answers checked against the contract per level: all of a typical level, bounded so that a long
# run does not hold every exchange in memory until its level ends.
CHECKED_PER_LEVEL = 256


@dataclass(slots=True)
class LevelRun:
    spec: LevelSpec
    outcomes: list[Outcome] = field(default_factory=list)
    warmup: list[Outcome] = field(default_factory=list)
    started_at: str = ""
    ended_at: str = ""
    health: ClientHealth | None = None
    workers: list[WorkerHealth] = field(default_factory=list)
    stopped: StopInfo | None = None
    interrupted: bool = False

    @property
    def samples(self) -> list[Sample]:
        return [o.sample for o in self.outcomes]


def schedule(requests: int, rate: float, arrival: Arrival, seed: int) -> list[float]:
    """Send offsets in seconds from the start of the level; the first request goes at 0."""
    if requests <= 0:
        return []
    if arrival == "constant":
        gaps = np.full(requests - 1, 1.0 / rate)
    else:
        gaps = np.random.default_rng(seed).exponential(1.0 / rate, size=requests - 1)
    return [0.0, *np.cumsum(gaps).tolist()]


def retry_after_s(headers: dict[str, str], now: datetime | None = None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or datetime.now(UTC)
    return max((when - now).total_seconds(), 0.0)


@contextlib.asynccontextmanager
async def _no_gc_pauses() -> AsyncIterator[None]:
    """Keep the cyclic garbage collector out of a measurement.

    A full collection walks every live object; with thousands of exchanges held it stalls the
    event loop for tens of milliseconds, and every chunk arriving meanwhile is stamped late.
    Objects from before the level are frozen out of collection and automatic collection is off
    while the level runs (reference counting still frees almost everything). After it, only the
    youngest generation is collected: with collection off nothing was promoted, so that is
    exactly what the level allocated, and a full collection of a big process (a test session)
    would cost more than the level.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.collect(0)
        if was_enabled:
            gc.enable()


def _utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LoadRunner:
    """Runs levels against one client; every sample goes to `on_sample` as soon as it is built."""

    def __init__(
        self,
        client: AsyncGLMClient | ShardedClient,
        *,
        run_t0: float | None = None,
        timeout_s: float = 120.0,
        retry: RetryPolicy | None = None,
        on_sample: Callable[[Sample], None] | None = None,
        progress: Any = None,
        seed: int = 0,
    ) -> None:
        self.client = client if isinstance(client, ShardedClient) else ShardedClient.single(client)
        self.run_t0 = run_t0 if run_t0 is not None else time.perf_counter()
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self.on_sample = on_sample
        self.progress = progress
        self.seed = seed
        self.stopped: StopInfo | None = None
        self.runs: list[LevelRun] = []  # every level started, finished or not
        self._index = 0
        self._checking = 0  # exchanges of this level kept for the contract checks
        self._jitter = random.Random(seed)
        self._timeouts_in_a_row = 0

    def next_index(self) -> int:
        """The next sample number; samples measured elsewhere (workers) are numbered here too."""
        index, self._index = self._index, self._index + 1
        return index

    # -- one level ---------------------------------------------------------------------------------
    async def run_level(self, spec: LevelSpec, job_for: Callable[[int], Job]) -> LevelRun:
        """Warm-up (excluded), then the measured requests; stops early only on a stop code."""
        run = LevelRun(spec, started_at=_utc())
        self.runs.append(run)
        self._checking = 0
        if self.stopped is not None:
            run.stopped = self.stopped
            return run
        monitor = HealthMonitor()
        try:
            if spec.warmup:
                warm = [job_for(i) for i in range(spec.warmup)]
                await self._closed_loop(spec, warm, "warmup", run.warmup, spec.name)
            for warm_outcome in run.warmup:  # not checked: warm-up answers are not part of the run
                warm_outcome.exchange = None
            self._checking = 0
            jobs = [job_for(i) for i in range(spec.requests)]
            phase: Phase = "task" if any(j.task_id for j in jobs) else "measure"
            if self.progress is not None:
                self.progress.start_level(spec.name, len(jobs))
            async with monitor, _no_gc_pauses():
                if spec.rate is None:
                    await self._closed_loop(spec, jobs, phase, run.outcomes, spec.name)
                else:
                    await self._open_loop(spec, jobs, phase, run.outcomes, spec.name)
        except asyncio.CancelledError:
            run.interrupted = True
            raise
        finally:
            run.ended_at = _utc()
            run.stopped = self.stopped
            if monitor.started:
                run.health = monitor.report([s.lateness_ms for s in run.samples],
                                            succeeded=sum(s.ok for s in run.samples))
            if self.progress is not None:
                self.progress.end_level()
            # interrupted, the run ends now: the checks (tens of ms an answer) are not waited for
            _check_answers(run.outcomes, check=not run.interrupted)
        return run

    async def _closed_loop(self, spec: LevelSpec, jobs: Sequence[Job], phase: Phase,
                           out: list[Outcome], level: str) -> None:
        """Each slot sends its next request when its last one ends. Lateness counts from that
        end (the client stamped it), so a slow start and loop backlog both show."""
        pending = iter(jobs)
        start = time.perf_counter() + spec.delay_s

        slots = min(spec.concurrency, len(jobs))

        async def worker(slot: int) -> None:
            free_at = start + slot * spec.ramp_s / max(slots, 1)
            if free_at > time.perf_counter():
                await asyncio.sleep(free_at - time.perf_counter())
            for job in pending:
                if self.stopped is not None:
                    return
                free_at = await self._one(job, phase, level, slot, scheduled_at=free_at,
                                          ready_at=free_at, out=out, finisher=finisher)

        async with _Finisher() as finisher:
            await self._gather([worker(k) for k in range(slots)])

    async def _open_loop(self, spec: LevelSpec, jobs: Sequence[Job], phase: Phase,
                         out: list[Outcome], level: str) -> None:
        assert spec.rate is not None
        offsets = schedule(len(jobs), spec.rate, spec.arrival, self.seed)
        # Free slot numbers, not a bare semaphore: the slot picks the connection-pool shard.
        free: asyncio.Queue[int] = asyncio.Queue()
        for slot in range(spec.concurrency):
            free.put_nowait(slot)
        tasks: list[asyncio.Task[None]] = []

        async def send(job: Job, slot: int, scheduled_at: float, ready_at: float,
                       finisher: _Finisher) -> None:
            try:
                await self._one(job, phase, level, slot, scheduled_at=scheduled_at,
                                ready_at=ready_at, out=out, finisher=finisher)
            finally:
                free.put_nowait(slot)

        start = time.perf_counter() + spec.delay_s
        try:
            async with _Finisher() as finisher:
                for job, offset in zip(jobs, offsets, strict=True):
                    due = start + offset
                    delay = due - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    if self.stopped is not None:
                        break
                    # A full house is the server's doing, not the client's: lateness then
                    # counts from the moment a slot came free.
                    waited = free.empty()
                    slot = await free.get()
                    ready = time.perf_counter() if waited else due
                    tasks.append(asyncio.create_task(send(job, slot, due, ready, finisher)))
                await self._gather(tasks)
        finally:
            for task in tasks:
                task.cancel()

    async def _gather(self, coroutines: Sequence[Any]) -> None:
        tasks = [asyncio.ensure_future(c) for c in coroutines]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- one request --------------------------------------------------------------------------------
    async def _one(self, job: Job, phase: Phase, level: str, slot: int, *, scheduled_at: float,
                   ready_at: float, out: list[Outcome], finisher: _Finisher) -> float:
        """Send `job`, retried as the policy says; returns when its answer has ended, with the
        time it ended. An answer read whole with status 200 is never retried nor a reason to
        stop, so its outcome is left to the finisher: the slot's next request goes first."""
        index = self.next_index()
        first_sent: float | None = None
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            tried = await self._try(job, slot)
            build = functools.partial(
                self._outcome, tried, job, phase=phase, level=level, index=index,
                scheduled_at=scheduled_at, ready_at=ready_at, attempt=attempt, waited=waited,
                first_sent=first_sent)
            if tried.answered:
                finisher.defer(build, lambda outcome: self._finish(outcome, job, out))
                return tried.ended_at
            outcome = build()
            first_sent = first_sent if first_sent is not None else tried.sent_at
            wait = self._retry_wait(outcome.sample, outcome.exchange, attempt)
            if wait is None or self.stopped is not None:
                break
            await asyncio.sleep(wait)
            waited += wait
        self._finish(outcome, job, out)
        return tried.ended_at

    async def _try(self, job: Job, slot: int) -> _Try:
        tried = _Try(sent_at=time.perf_counter())
        client = self.client.for_slot(slot)
        # The jobs are written in chat-completions terms; the Messages surface gets them said its way.
        body = messages_body(job.body) if self.client.target.surface is Surface.ANTHROPIC else job.body
        try:
            async with asyncio.timeout(self.timeout_s):
                if isinstance(client, BenchHTTPClient):
                    tried.answer = await client.answer(body)
                else:
                    async for item in client.iter_events(body):
                        if isinstance(item, Exchange):
                            tried.answer = ReadResponse(item)
                        else:
                            tried.events.append(item)
        except TimeoutError:
            tried.error = SampleError(kind="timeout", message=f"no complete response in {self.timeout_s:g} s")
        except asyncio.CancelledError:
            raise
        except Exception as failure:  # a bug or an odd transport must not end the run
            message = self.client.target.redact(f"{type(failure).__name__}: {failure}")
            tried.error = SampleError(kind="client", message=message[:300])
        head = tried.answer.head if tried.answer is not None else None
        if head is not None:
            tried.sent_at = head.written_at or head.sent_at
        tried.ended_at = (head.ended_at if head is not None else None) or time.perf_counter()
        return tried

    def _outcome(self, tried: _Try, job: Job, *, phase: Phase, level: str, index: int,
                 scheduled_at: float, ready_at: float, attempt: int, waited: float,
                 first_sent: float | None) -> Outcome:
        exchange = tried.answer.exchange() if tried.answer is not None else None
        build = build_message_sample if self.client.target.surface is Surface.ANTHROPIC else build_sample
        sample = build(
            exchange.events if exchange is not None else tried.events, tried.sent_at,
            run_t0=self.run_t0, index=index, level=level, phase=phase, scheduled_at=scheduled_at,
            ready_at=ready_at, exchange=exchange,
            ended_at=tried.ended_at if exchange is None else None, error=tried.error,
            task_id=job.task_id, thinking=job.thinking, attempts=attempt, retry_wait_s=waited,
            first_sent_at=first_sent,
        )
        return Outcome(sample, exchange)

    def _finish(self, outcome: Outcome, job: Job, out: list[Outcome]) -> None:
        """A finished request: checked for a stop, reported, kept for the contract checks."""
        sample = outcome.sample
        self._check_stop(sample)
        if self.on_sample is not None:
            self.on_sample(sample)
        if self.progress is not None:
            self.progress.advance(sample)
        outcome.keep = job.keep
        if not job.keep and self._checking >= CHECKED_PER_LEVEL:
            outcome.exchange = None
        self._checking += outcome.exchange is not None
        out.append(outcome)

    def _retry_wait(self, sample: Sample, exchange: Exchange | None, attempt: int) -> float | None:
        """Seconds to wait before another try, or None: only retryable 429s are retried."""
        error = sample.error
        if error is None or error.kind != "http" or sample.status != 429:
            return None
        if error.code in STOP_CODES or not is_retryable(429, error.code):
            return None
        if attempt > self.retry.max_retries:
            return None
        told = retry_after_s(exchange.headers) if exchange is not None else None
        if told is not None:
            return min(told, self.retry.max_wait_s)
        backoff = self.retry.base_s * 2 ** (attempt - 1)
        return min(backoff * (0.5 + self._jitter.random() / 2), self.retry.max_wait_s)

    def _check_stop(self, sample: Sample) -> None:
        error = sample.error
        # the suites' hung-target rule: a target that let requests time out this many times in
        # a row is not waited on again (each would cost a whole --timeout)
        self._timeouts_in_a_row = self._timeouts_in_a_row + 1 if error and error.kind == "timeout" else 0
        if self._timeouts_in_a_row >= HUNG_AFTER and self.stopped is None:
            self.stopped = StopInfo(None, None, f"{self.client.target.base_url} has not answered "
                                    f"{HUNG_AFTER} requests in a row within {self.timeout_s:g} s "
                                    "(--timeout)", "taken as hung")
        if error is None or error.kind != "http" or self.stopped is not None:
            return
        if error.code in STOP_CODES or (error.code is None and sample.status == 401):
            known = business_error(error.code) if error.code else None
            meaning = known.meaning if known else "authentication failed"
            self.stopped = StopInfo(sample.status, error.code, error.message, meaning)


@dataclass(slots=True)
class _Try:
    """One attempt at a request, as it came: the answer (not yet decoded), or why none came."""

    sent_at: float  # when its bytes were written, once known
    ended_at: float = 0.0
    answer: ReadResponse | None = None
    events: list[TimedEvent] = field(default_factory=list)  # a partial stream, if it timed out
    error: SampleError | None = None

    @property
    def answered(self) -> bool:
        """A 200 answer read whole: no retry and no stop can follow from it."""
        head = self.answer.head if self.answer is not None else None
        return (self.error is None and head is not None and head.status == 200
                and head.transport_error is None)


class _Finisher:
    """Builds outcomes after their answers ended, one per turn of the event loop.

    With fixed server timings a closed loop's streams end together; building each sample (SSE
    decoding, reading every chunk's JSON) before its slot's next request would start the last
    slot a whole round's work late, and stamp every chunk landing meanwhile as late. Deferred,
    the requests go first, and each turn of the loop stamps what landed before the next build.
    Past `BACKLOG` waiting (a loop too busy to keep up, flagged client-bound anyway) a build runs
    at once, so the answers held undecoded stay bounded. Whatever is left when the level is
    cancelled is built at once: nothing measured is lost to an interruption. A build that
    raises is reported when the level ends.
    """

    BACKLOG = 512

    def __init__(self) -> None:
        self._steps: asyncio.Queue[tuple[Callable[[], Outcome], Callable[[Outcome], None]]] = (
            asyncio.Queue())
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    def defer(self, build: Callable[[], Outcome], then: Callable[[Outcome], None]) -> None:
        if self._steps.qsize() < self.BACKLOG:
            self._steps.put_nowait((build, then))
        else:
            then(build())

    async def __aenter__(self) -> _Finisher:
        self._task = asyncio.create_task(self._run(), name="bench-finisher")
        return self

    async def __aexit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        try:
            if kind is None:
                await self._steps.join()
        finally:
            if self._task is not None:
                self._task.cancel()
            while not self._steps.empty():
                self._step(self._steps.get_nowait())
        if self._failure is not None and kind is None:
            raise self._failure

    async def _run(self) -> None:
        while True:
            self._step(await self._steps.get())
            await asyncio.sleep(0)

    def _step(self, step: tuple[Callable[[], Outcome], Callable[[Outcome], None]]) -> None:
        build, then = step
        try:
            then(build())
        except Exception as failure:  # surfaced when the level ends; the rest still build
            self._failure = self._failure or failure
        finally:
            self._steps.task_done()


def stamps_of(exchange: Exchange) -> Stamps:
    return str(exchange.request.get("request_id")), [e.at for e in exchange.data_events()]


def _check_answers(outcomes: Sequence[Outcome], check: bool = True) -> None:
    """The suites' checks on every kept 200 answer, run once the level's clock has stopped."""
    for outcome in outcomes:
        exchange = outcome.exchange
        if check and exchange is not None and exchange.status == 200 and exchange.transport_error is None:
            found = check_exchange(exchange, Expect(), profile=exchange.target.profile).violations
            outcome.sample.violations = sorted({f"{v.check}.{v.rule}" for v in found})
            outcome.checked = True
        if not outcome.keep:
            outcome.exchange = None
