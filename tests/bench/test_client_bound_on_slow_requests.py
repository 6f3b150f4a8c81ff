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
