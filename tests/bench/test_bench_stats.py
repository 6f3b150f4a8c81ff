"""Summary statistics: the same percentiles as numpy/vLLM, and intervals that cover the truth."""

from __future__ import annotations

import numpy as np
import pytest

from harness.bench.health import ClientHealth, HealthMonitor
from harness.bench.stats import BOOTSTRAP_MAX_N, bootstrap_ci, percentile, summarize


def test_percentiles_and_moments_match_numpy() -> None:
    values = [5.0, 1.0, 3.0, 2.0, 4.0, None, 100.0]
    s = summarize(values)
    clean = np.array([5, 1, 3, 2, 4, 100], dtype=float)
    assert s.n == 6
    assert s.mean == pytest.approx(clean.mean()) and s.std == pytest.approx(clean.std())
    for q in (50, 90, 95, 99):
        assert getattr(s, f"p{q}") == pytest.approx(np.percentile(clean, q))
    assert (s.min, s.max) == (1.0, 100.0)
    assert percentile(values, 50) == pytest.approx(3.5)


def test_empty_and_single_values() -> None:
    assert summarize([]).n == 0 and summarize([]).p50 is None
    one = summarize([7.0])
    assert one.p99 == 7.0 and one.ci95_mean is None


def test_bootstrap_interval_covers_the_true_mean_seeded() -> None:
    rng = np.random.default_rng(12345)
    sample = rng.normal(10.0, 2.0, size=400)
    low, high = summarize(sample, seed=7).ci95_mean  # type: ignore[misc]
    assert low < 10.0 < high
    # and it is a 95% interval: over many seeded samples it covers the mean about 95% of the time
    covered = 0
    trials = 200
    for trial in range(trials):
        draws = np.random.default_rng(trial).exponential(3.0, size=80)  # skewed, like latencies
        lo, hi = bootstrap_ci(draws, "mean", seed=trial, resamples=400)
        covered += lo <= 3.0 <= hi
    assert 0.88 <= covered / trials <= 0.99


def test_bootstrap_is_reproducible_with_a_seed() -> None:
    data = np.random.default_rng(1).normal(size=100)
    assert bootstrap_ci(data, "median", seed=3) == bootstrap_ci(data, "median", seed=3)
    assert bootstrap_ci(data, "median", seed=3) != bootstrap_ci(data, "median", seed=4)


def test_large_inputs_use_closed_form_intervals() -> None:
    data = np.random.default_rng(2).normal(5.0, 1.0, size=BOOTSTRAP_MAX_N + 1)
    s = summarize(data)
    assert s.ci_method is not None and "normal approximation" in s.ci_method
    assert s.ci95_mean[0] < 5.0 < s.ci95_mean[1]  # type: ignore[index]
    assert s.ci95_p50[0] <= s.p50 <= s.ci95_p50[1]  # type: ignore[index,operator]


def test_health_monitor_reports_loop_lag_and_lateness() -> None:
    import asyncio
    import time

    async def run() -> HealthMonitor:
        async with HealthMonitor(interval_s=0.002) as monitor:
            await asyncio.sleep(0.02)
            busy_until = time.process_time() + 0.03
            while time.process_time() < busy_until:  # 30 ms of the loop's own work: the next tick is late
                pass
            await asyncio.sleep(0.01)
        return monitor

    health = asyncio.run(run()).report([0.1, 0.2, 50.0, 60.0])
    assert isinstance(health, ClientHealth)
    assert health.loop_lag_ms.max is not None and health.loop_lag_ms.max >= 20
    assert health.lateness_ms.n == 4
    assert health.client_bound and any("late" in r or "lag" in r for r in health.reasons)
