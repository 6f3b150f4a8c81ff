"""The load runner against the in-process twin: errors recorded, 429 policy, warm-up, schedules."""

from __future__ import annotations

import asyncio
import gc
import itertools
import weakref
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from harness.bench.clients import ShardedClient
from harness.bench.report import level_result
from harness.bench.runner import (
    Job,
    LevelRun,
    LevelSpec,
    LoadRunner,
    RetryPolicy,
    _Finisher,
    _no_gc_pauses,
    retry_after_s,
    schedule,
)
from harness.client import AsyncGLMClient
from harness.mock import (
    EMPTY_BALANCE_KEY,
    Fault,
    FaultSpec,
    GLMTwin,
    Limits,
    Style,
    Timing,
    TwinConfig,
    twin_router,
)
from harness.targets import MOCK_BASE_URL, Secret, Target, mock_target

BODY = {"messages": [{"role": "user", "content": "hello"}], "stream": True,
        "thinking": {"type": "disabled"}}
FAST = Timing(ttft_ms=2, itl_ms=0.2)
# Sample times are rounded to the microsecond, so a gap between two of them is off by up to 1 µs
# plus float error.
ROUNDED_GAP = 1.5e-6


def twin(**config: Any) -> GLMTwin:
    config.setdefault("timing", FAST)
    config.setdefault("style", Style(reply_tokens=6, reasoning_tokens=3))
    return GLMTwin(TwinConfig(**config))


def run_levels(the_twin: GLMTwin, *specs: LevelSpec, target: Target | None = None,
               body: dict[str, Any] = BODY, **runner_kw: Any) -> tuple[LoadRunner, list[LevelRun]]:
    runner_kw.setdefault("retry", RetryPolicy(max_retries=3, base_s=0.001, max_wait_s=0.05))

    async def go() -> tuple[LoadRunner, list[LevelRun]]:
        async with AsyncGLMClient(target or mock_target()) as client:
            runner = LoadRunner(client, **runner_kw)
            runs = [await runner.run_level(spec, lambda i: Job(body)) for spec in specs]
            return runner, runs

    with twin_router(the_twin, base_url=MOCK_BASE_URL):
        return asyncio.run(go())


def test_all_requests_succeed_and_concurrency_is_respected() -> None:
    _, (run,) = run_levels(twin(timing=Timing(ttft_ms=20, itl_ms=1)), LevelSpec(3, 9))
    samples = run.samples
    assert len(samples) == 9 and all(s.ok for s in samples)
    assert all(s.completion_tokens == 6 and s.token_chunks == 6 for s in samples)
    intervals = sorted((s.sent_s, s.sent_s + s.e2e_ms / 1000) for s in samples)  # type: ignore[operator]
    most = max(sum(a <= t < b for a, b in intervals) for t, _ in intervals)
    assert most <= 3


def test_errors_are_recorded_not_raised() -> None:
    faults = (FaultSpec(Fault.SERVER_ERROR_BURST, times=2),)
    _, (run,) = run_levels(twin(faults=faults), LevelSpec(1, 5))
    failed = [s for s in run.samples if not s.ok]
    assert len(run.samples) == 5 and len(failed) == 2
    assert {(s.status, s.error.kind, s.error.code) for s in failed} == {(500, "http", "500")}  # type: ignore[union-attr]
    assert level_result(run).errors == {"http 500 code 500": 2}


def test_transport_failures_and_timeouts_are_recorded() -> None:
    reset = (FaultSpec(Fault.RESET_MID_STREAM, times=1),)
    _, (run,) = run_levels(twin(faults=reset), LevelSpec(1, 2))
    assert [s.error.kind if s.error else None for s in run.samples] == ["transport", None]

    stall = (FaultSpec(Fault.STALL, times=1, after_chunks=2, stall_s=5.0),)
    _, (run,) = run_levels(twin(faults=stall), LevelSpec(1, 2), timeout_s=0.3)
    first = run.samples[0]
    assert first.error is not None and first.error.kind == "timeout"
    assert first.token_chunks == 2  # the stamps before the stall are kept
    assert run.samples[1].ok


def test_balance_error_1113_stops_the_run_with_a_clear_reason() -> None:
    empty = Target("mock", MOCK_BASE_URL, "glm-4.6", Secret(EMPTY_BALANCE_KEY))
    runner, runs = run_levels(twin(), LevelSpec(2, 10), LevelSpec(4, 10), target=empty)
    assert runner.stopped is not None
    assert (runner.stopped.status, runner.stopped.code) == (429, "1113")
    assert "balance" in runner.stopped.explain() and "1113" in runner.stopped.explain()
    assert 1 <= len(runs[0].samples) <= 2  # what was in flight when it came back
    assert all(s.error and s.error.code == "1113" and s.attempts == 1 for s in runs[0].samples)
    assert runs[1].samples == [] and runs[1].stopped is runner.stopped  # the next level never ran


def test_rate_limit_1302_is_retried_with_backoff() -> None:
    faults = (FaultSpec(Fault.RATE_LIMIT_BURST, times=2),)
    _, (run,) = run_levels(twin(faults=faults), LevelSpec(1, 2))
    first, second = run.samples
    assert first.ok and first.attempts == 3 and first.retry_wait_s > 0
    assert second.ok and second.attempts == 1


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    faults = (FaultSpec(Fault.RATE_LIMIT_BURST, times=1),)
    limited = twin(faults=faults, limits=Limits(retry_after=True))  # sends Retry-After: 1
    _, (run,) = run_levels(limited, LevelSpec(1, 1),
                           retry=RetryPolicy(max_retries=2, base_s=0.001, max_wait_s=0.05))
    assert run.samples[0].ok and run.samples[0].retry_wait_s == pytest.approx(0.05)


def test_retries_give_up_and_record_the_429() -> None:
    faults = (FaultSpec(Fault.RATE_LIMIT_BURST, times=10),)
    runner, (run,) = run_levels(twin(faults=faults), LevelSpec(1, 1),
                                retry=RetryPolicy(max_retries=2, base_s=0.001, max_wait_s=0.01))
    sample = run.samples[0]
    assert not sample.ok and sample.attempts == 3
    assert sample.error is not None and (sample.status, sample.error.code) == (429, "1302")
    assert runner.stopped is None  # a rate limit is not a reason to stop


def test_warmup_requests_are_run_and_excluded() -> None:
    _, (run,) = run_levels(twin(), LevelSpec(2, 4, warmup=3))
    assert [o.sample.phase for o in run.warmup] == ["warmup"] * 3
    assert [s.phase for s in run.samples] == ["measure"] * 4
    result = level_result(run)
    assert (result.warmup, result.completed, result.summaries["ttft_ms"].n) == (3, 4, 4)
    assert min(s.index for s in run.samples) > max(o.sample.index for o in run.warmup)


def test_a_closed_loop_ramp_spreads_the_slots_first_starts() -> None:
    slow = twin(timing=Timing(ttft_ms=100, itl_ms=0.2))  # no slot is free before the last starts
    _, (run,) = run_levels(slow, LevelSpec(4, 4, ramp_s=0.06))
    starts = sorted(s.scheduled_s for s in run.samples)
    assert [b - a for a, b in itertools.pairwise(starts)] == pytest.approx([0.015] * 3, abs=ROUNDED_GAP)
    assert all(s.sent_s >= s.scheduled_s for s in run.samples)


def test_a_slot_sends_its_next_request_before_the_last_answer_is_read() -> None:
    the_twin = twin()
    sent_when_reported: list[int] = []
    run_levels(the_twin, LevelSpec(1, 3),
               on_sample=lambda sample: sent_when_reported.append(len(the_twin.requests)))
    assert sent_when_reported == [2, 3, 3]


def test_the_collector_is_off_during_a_level_and_its_cycles_are_freed_after() -> None:
    class Node:
        pass

    async def level() -> weakref.ref[Node]:
        async with _no_gc_pauses():
            assert not gc.isenabled() and gc.get_freeze_count() > 0
            cycle = Node()
            cycle.self = cycle  # type: ignore[attr-defined]
            ref = weakref.ref(cycle)
            del cycle
        return ref

    gc.enable()
    ref = asyncio.run(level())
    assert gc.isenabled() and gc.get_freeze_count() == 0 and ref() is None


def test_past_its_backlog_the_finisher_builds_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_Finisher, "BACKLOG", 2)
    built: list[int] = []

    async def level() -> list[int]:
        async with _Finisher() as finisher:
            for k in range(3):  # no turn of the loop between them: only the third is built now
                finisher.defer(lambda k=k: k, built.append)  # type: ignore[misc]
            at_once = list(built)
        return at_once

    assert asyncio.run(level()) == [2]
    assert sorted(built) == [0, 1, 2]


def test_poisson_schedule_is_reproducible_with_a_seed() -> None:
    a = schedule(50, 20.0, "poisson", seed=7)
    assert a == schedule(50, 20.0, "poisson", seed=7)
    assert a != schedule(50, 20.0, "poisson", seed=8)
    assert a[0] == 0 and all(y > x for x, y in itertools.pairwise(a))
    assert schedule(4, 2.0, "constant", seed=0) == [0.0, 0.5, 1.0, 1.5]
    many = schedule(4001, 10.0, "poisson", seed=1)
    assert many[-1] / 4000 == pytest.approx(0.1, rel=0.05)  # mean gap 1/rate (seeded draw)


def test_open_loop_sends_on_schedule() -> None:
    spec = LevelSpec(4, 6, rate=50.0, arrival="constant")
    _, (run,) = run_levels(twin(), spec, seed=3)
    samples = sorted(run.samples, key=lambda s: s.scheduled_s)
    offsets = [s.scheduled_s - samples[0].scheduled_s for s in samples]
    assert offsets == pytest.approx([i / 50 for i in range(6)], abs=ROUNDED_GAP)
    assert all(s.sent_s >= s.scheduled_s for s in samples)
    assert level_result(run).name == "c4-r50-constant"


def test_shards_keep_each_slot_on_its_own_pool() -> None:
    sharded = ShardedClient(mock_target(), slots=40, timeout=5, shard_size=16)
    assert sharded.for_slot(0) is sharded.for_slot(15)
    assert sharded.for_slot(15) is not sharded.for_slot(16)
    assert sharded.for_slot(39) is sharded.for_slot(32)
    asyncio.run(sharded.aclose())


@pytest.mark.parametrize(("header", "expected"), [("2", 2.0), ("0.5", 0.5), ("-3", 0.0),
                                                  ("soon", None)])
def test_retry_after_parsing(header: str, expected: float | None) -> None:
    assert retry_after_s({"retry-after": header}) == expected


def test_retry_after_as_http_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_s({"retry-after": header}, now=now) == pytest.approx(30)
    assert retry_after_s({}) is None
