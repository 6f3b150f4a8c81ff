"""[client-bound] is about the load generator, not the server's speed: a level of slow requests
(32 s each) with an idle client (5% of a core, an event loop that wakes on time, requests sent
when due) is not client-bound."""

from __future__ import annotations

from harness.bench.health import HealthMonitor, verdict


def test_slow_requests_with_an_idle_client_are_not_client_bound() -> None:
    monitor = HealthMonitor()
    monitor._wall0, monitor._wall1 = 0.0, 32.0  # one 32-second request
    monitor._cpu0, monitor._cpu1 = 0.0, 32.0 * 0.05  # the client at 5% of a core
    monitor.lags_ms = [0.3, 0.5, 1.1, 0.8] * 800  # a ticker every 10 ms that wakes on time
    health = monitor.report([0.4, 0.6, 0.9], succeeded=1)
    assert (health.client_bound, health.reasons, health.cpu_percent) == (False, [], 5.0)


def test_the_flag_still_fires_for_a_busy_client() -> None:
    bound, _ = verdict(0.99, 0.5, 0.5)
    assert bound and "client CPU 99%" in bound[0]


# -- a shared machine: the loop late because other processes held the CPU (issue 21) ----------------
def _monitor(cpu_share: float, lags: list[float], own: list[float], waited_s: float) -> HealthMonitor:
    monitor = HealthMonitor()
    monitor._wall0, monitor._wall1 = 0.0, 10.0
    monitor._cpu0, monitor._cpu1 = 0.0, 10.0 * cpu_share
    monitor.lags_ms, monitor.own_lags_ms, monitor.waited_s = lags * 250, own * 250, waited_s
    return monitor


def test_a_loop_late_because_other_processes_held_the_cpu_is_not_client_bound() -> None:
    """A first run in a fresh clone next to other work: every tick late by tens of ms, all of it
    spent waiting for a CPU; the client itself idle. Said, but not flagged."""
    monitor = _monitor(0.08, lags=[2.0, 30.0, 45.0, 60.0], own=[0.3, 0.5, 0.4, 0.6], waited_s=3.5)
    health = monitor.report([5.0, 40.0, 60.0, 80.0] * 10, succeeded=40)
    assert not health.client_bound, health.reasons
    assert health.starved_percent == 35.0 and health.own_loop_lag_ms is not None
    assert health.loop_lag_ms.p99 == 60.0 and health.own_loop_lag_ms.p99 == 0.6
    machine = [r for r in health.reasons if r.startswith("not client-bound:")]
    assert len(machine) == 2, health.reasons
    assert ("event-loop lag p99 60.0 ms, of which the client's own work 0.6 ms: other processes held the CPU"
            in machine[0])
    assert "requests started 80.0 ms late at p90 while the client was idle" in machine[1]


def test_a_loop_late_by_its_own_work_is_client_bound_and_says_which_signal() -> None:
    monitor = _monitor(0.55, lags=[2.0, 30.0, 45.0, 60.0], own=[2.0, 29.0, 44.0, 58.0], waited_s=0.05)
    health = monitor.report([1.0] * 40, succeeded=40)
    assert health.client_bound
    assert health.reasons == ["event-loop lag p99 58.0 ms of its own work (flag at >= 10 ms)"]


def test_late_starts_of_a_busy_client_still_flag() -> None:
    monitor = _monitor(0.75, lags=[0.5], own=[0.5], waited_s=0.0)
    health = monitor.report([30.0, 40.0, 50.0] * 10, succeeded=30)
    assert health.client_bound and health.reasons == ["requests started 50.0 ms late at p90 (flag at >= 20 ms)"]


def test_without_the_kernel_counting_waits_the_whole_lag_is_weighed() -> None:
    monitor = _monitor(0.08, lags=[2.0, 30.0, 45.0, 60.0], own=[], waited_s=0.0)
    health = monitor.report([1.0] * 40, succeeded=40)
    assert health.client_bound and health.own_loop_lag_ms is None and health.starved_percent is None
    assert health.reasons == ["event-loop lag p99 60.0 ms (flag at >= 10 ms)"]


def test_the_loop_thread_wait_is_read_from_the_kernel_where_it_counts_it() -> None:
    from pathlib import Path

    from harness.bench.health import runqueue_wait_s

    waited = runqueue_wait_s()
    if not Path("/proc/thread-self/schedstat").exists():
        assert waited is None
    else:
        assert waited is not None and waited >= 0


def test_a_starved_client_busy_whenever_it_ran_is_busy() -> None:
    """40% of a core, while kept waiting for a CPU 55% of the level: busy 89% of the time it ran.
    Its late starts are its own, and it says how many workers would have kept up."""
    monitor = _monitor(0.40, lags=[0.5], own=[0.5], waited_s=5.5)
    health = monitor.report([30.0, 40.0, 50.0] * 10, succeeded=30)
    assert health.client_bound and health.reasons == ["requests started 50.0 ms late at p90 (flag at >= 20 ms)"]
    assert health.workers_needed == 2
