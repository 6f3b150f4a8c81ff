"""Levels split over workers: the shares, the merge, lost workers, health, and the CLI end to end."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from harness.bench import load_report, read_sample_log
from harness.bench.health import ClientHealth, WorkerHealth, combine, workers_needed
from harness.bench.metrics import Sample
from harness.bench.runner import LevelRun, LevelSpec
from harness.bench.stats import summarize
from harness.bench.workers import DoneMsg, Message, SampleMsg, Share, run_split_level, split
from harness.cli import main


# -- shares ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("concurrency", "requests", "workers", "expected"), [
    (8, 16, 2, [(4, 8), (4, 8)]),
    (5, 11, 2, [(3, 6), (2, 5)]),
    (3, 30, 4, [(1, 10), (1, 10), (1, 10)]),  # never more workers than slots
    (1, 5, 2, [(1, 5)]),
])
def test_split_shares_slots_and_requests_evenly(concurrency: int, requests: int, workers: int,
                                                 expected: list[tuple[int, int]]) -> None:
    parts = split(LevelSpec(concurrency=concurrency, requests=requests, warmup=concurrency), workers)
    assert [(p.concurrency, p.requests) for p in parts] == expected
    assert sum(p.warmup for p in parts) == concurrency
    assert {p.name for p in parts} == {f"c{concurrency}"}  # samples keep the level's name


def test_split_rate_sums_to_the_level_rate_and_constant_arrivals_interleave() -> None:
    spec = LevelSpec(concurrency=4, requests=8, rate=10.0, arrival="constant")
    parts = split(spec, 2)
    assert sum(p.rate or 0 for p in parts) == pytest.approx(10.0)
    assert [p.delay_s for p in parts] == [0.0, pytest.approx(0.1)]
    poisson = split(LevelSpec(concurrency=4, requests=8, rate=10.0), 2)
    assert [p.delay_s for p in poisson] == [0.0, 0.0]


def test_a_ramp_split_over_workers_interleaves_their_slots() -> None:
    parts = split(LevelSpec(concurrency=8, requests=16, ramp_s=0.8), 2)
    starts = sorted(p.delay_s + slot * p.ramp_s / p.concurrency for p in parts for slot in range(4))
    assert starts == pytest.approx([0.1 * k for k in range(8)])


# -- health -------------------------------------------------------------------------------------------
def _health(cpu: float, lag_p99: float = 1.0, bound: bool = False) -> ClientHealth:
    lag = summarize([lag_p99] * 10)
    return ClientHealth(cpu_percent=cpu, wall_s=1.0, loop_lag_ms=lag, lateness_ms=summarize([0.1]),
                        client_bound=bound, reasons=["loop lag"] if bound else [])


def _worker(k: int, health: ClientHealth | None, error: str | None = None) -> WorkerHealth:
    return WorkerHealth(worker=k, host="h", pid=k, concurrency=4, requests=8, completed=8,
                        health=health, error=error)


def test_workers_needed_is_summed_cpu_over_the_keep_up_share_and_at_least_one_more() -> None:
    assert workers_needed(2, [95.0, 95.0]) == 4  # 1.9 cores / 0.6
    assert workers_needed(2, [65.0, 20.0]) == 3  # one busy worker: one more at least
    assert workers_needed(2, [30.0, 30.0]) is None  # lagging while idle: the machine was busy


def test_a_split_level_is_client_bound_when_any_worker_was_and_says_which() -> None:
    healthy = combine([_worker(0, _health(40)), _worker(1, _health(50))], [0.1, 0.2])
    assert healthy is not None and not healthy.client_bound and healthy.workers_needed is None
    bound = combine([_worker(0, _health(40)), _worker(1, _health(97, 9, bound=True))], [0.1])
    assert bound is not None and bound.client_bound
    assert bound.reasons == ["worker 1: loop lag"] and bound.cpu_percent == 97
    assert bound.workers_needed == 3
    lost = combine([_worker(0, _health(40)), _worker(1, None, error="worker process exited")], [])
    assert lost is not None and lost.client_bound and lost.reasons == ["worker 1: worker process exited"]


# -- the merge --------------------------------------------------------------------------------------------
def _sample(index: int, worker: int, phase: str = "measure") -> Sample:
    return Sample(index=index, level="c4", phase=phase, scheduled_s=0.0, ready_s=0.0,  # type: ignore[arg-type]
                  sent_s=0.1 * index, lateness_ms=0.5, status=200, ok=True, worker=worker)


class FakePool:
    """Plays back scripted messages per worker; a worker with no DoneMsg has 'died'."""

    lead_s = 0.0

    def __init__(self, script: dict[int, list[Message]]) -> None:
        self.size = len(script)
        self.script = script
        self.started: list[Share] = []
        self._queue: list[Message] = []

    def start(self, shares: Sequence[Share]) -> None:
        self.started = list(shares)
        self._queue = [m for k in sorted(self.script) for m in self.script[k]]

    def receive(self, timeout_s: float) -> list[Message]:
        batch, self._queue = self._queue[:3], self._queue[3:]
        return batch

    def lost(self, workers: Sequence[int]) -> dict[int, str]:
        return {k: "worker process exited with status -9" for k in workers}

    def close(self) -> None:
        pass


def _share(worker: int, part: LevelSpec, start_wall: float) -> Share:
    from harness.bench.runner import RetryPolicy
    from harness.targets import mock_target

    return Share(worker, part, mock_target(), {}, True, 1.0, RetryPolicy(), 0, 0.0, start_wall)


def _run(pool: FakePool) -> tuple[LevelRun, list[Sample]]:
    run = LevelRun(LevelSpec(concurrency=4, requests=4, warmup=2))
    logged: list[Sample] = []
    counter = iter(range(100, 200))
    asyncio.run(run_split_level(pool, run, _share, on_sample=logged.append,
                                next_index=lambda: next(counter)))
    return run, logged


def test_samples_are_logged_as_they_come_renumbered_and_checked_by_their_worker() -> None:
    done0 = DoneMsg(_worker(0, _health(30)), violations={1: ["finish_reason.expected"]}, checked=[0, 1])
    done1 = DoneMsg(_worker(1, _health(35)), checked=[0, 1])
    pool = FakePool({
        0: [SampleMsg(0, [_sample(0, 0, "warmup")]), SampleMsg(0, [_sample(0, 0)]),
            SampleMsg(0, [_sample(1, 0)]), done0],
        1: [SampleMsg(1, [_sample(0, 1)]), SampleMsg(1, [_sample(1, 1)]), done1],
    })
    run, logged = _run(pool)
    assert [(s.concurrency, s.requests) for s in (sh.spec for sh in pool.started)] == [(2, 2), (2, 2)]
    assert [s.index for s in logged] == [100, 101, 102, 103, 104]  # one numbering, arrival order
    assert len(run.warmup) == 1 and len(run.outcomes) == 4
    assert all(o.checked for o in run.outcomes)
    broken = [(o.sample.worker, o.sample.violations) for o in run.outcomes if o.sample.violations]
    assert broken == [(0, ["finish_reason.expected"])]  # worker 0's local index 1, not worker 1's
    assert [w.worker for w in run.workers] == [0, 1]
    assert run.health is not None and not run.health.client_bound


def test_a_worker_that_dies_keeps_what_it_sent_and_marks_the_level() -> None:
    pool = FakePool({
        0: [SampleMsg(0, [_sample(0, 0)]), DoneMsg(_worker(0, _health(30)))],
        1: [SampleMsg(1, [_sample(0, 1)])],  # killed before its DoneMsg
    })
    run, logged = _run(pool)
    assert len(logged) == 2 and len(run.outcomes) == 2
    lost = run.workers[1]
    assert lost.error == "worker process exited with status -9" and lost.completed == 1
    assert run.health is not None and run.health.client_bound
    assert "worker 1: worker process exited" in run.health.reasons[0]


# -- end to end ------------------------------------------------------------------------------------------
FAST_TWIN = ["--ttft-ms", "5", "--itl-ms", "1", "--jitter", "0", "--reply-tokens", "4",
             "--reasoning-tokens", "2"]


def test_two_worker_processes_produce_one_merged_valid_report(tmp_path: Path) -> None:
    out = tmp_path / "w.json"
    code = main(["bench", "--twin", "http", *FAST_TWIN, "--concurrency", "1,4", "--requests", "8",
                 "--tasks", "none", "--workers", "2", "--no-progress", "--out", str(out)])
    assert code == 0
    report = load_report(out)
    c1, c4 = report.levels
    assert c1.workers == []  # one slot: measured in this process
    assert [(w.worker, w.concurrency, w.requests, w.completed) for w in c4.workers] == [
        (0, 2, 4, 4), (1, 2, 4, 4)]
    assert len({w.pid for w in c4.workers}) == 2
    assert c4.completed == 8 and c4.succeeded == 8 and c4.checked == 8
    measured = [s for s in report.samples if s.level == "c4" and s.phase == "measure"]
    assert {s.worker for s in measured} == {0, 1}
    assert len({s.index for s in report.samples}) == len(report.samples)
    _, logged = read_sample_log(tmp_path / "w.samples.jsonl")
    assert len(logged) == len(report.samples)
    assert "Split over 2 workers" in (tmp_path / "w.md").read_text()


def test_workers_with_the_in_process_twin_is_one_line_and_status_2(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--workers", "2", "--tasks", "none"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--twin http" in err


def test_ray_without_ray_installed_is_one_line_and_status_2(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    assert main(["bench", "--twin", "http", "--ray", "127.0.0.1:1", "--tasks", "none"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "glm-harness bench: error: --ray needs Ray: pip install 'glm-harness[distributed]'"


def test_an_unreachable_ray_cluster_is_one_line_and_status_2(
        capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("ray", reason="Ray is not installed (glm-harness[distributed])")
    assert main(["bench", "--twin", "http", "--ray", "127.0.0.1:1", "--tasks", "none"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cannot reach the Ray cluster at '127.0.0.1:1'" in err


def test_the_console_says_how_many_workers_a_client_bound_level_needed() -> None:
    from harness.bench.commands import _client_bound_line

    busy = _health(97, 9, bound=True).model_copy(update={"workers_needed": 5})
    line = _client_bound_line(busy)
    assert line.startswith("client-bound (loop lag): latencies shown, not tested by compare; ")
    assert "at least 5 workers" in line
    starved = _health(20, 9, bound=True)
    assert "other processes on this machine held it back" in _client_bound_line(starved)
