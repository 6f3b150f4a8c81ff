"""Summary statistics with the conventions vLLM and aiperf use, plus bootstrap 95% intervals.

Percentiles are numpy's default (linear interpolation between order statistics, as vLLM's
`np.percentile`); the standard deviation is the population one (ddof=0, as vLLM's `np.std`).
Intervals: a seeded percentile bootstrap of the mean and the median; above `BOOTSTRAP_MAX_N`
values (per-chunk ITL arrays grow large) the resampling would dominate the run, so the mean's
interval is the normal approximation and the median's the distribution-free binomial
order-statistic one. `ci_method` says which was used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from pydantic import BaseModel, ConfigDict

PERCENTILES = (50, 90, 95, 99)
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_MAX_N = 20_000
_BLOCK = 100  # resamples drawn at a time, to bound memory on large inputs


class Summary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    ci95_mean: tuple[float, float] | None = None
    ci95_p50: tuple[float, float] | None = None
    ci_method: str | None = None


def _clean(values: Iterable[float | None]) -> np.ndarray:
    array = np.asarray([v for v in values if v is not None], dtype=float)
    return array[np.isfinite(array)]


def percentile(values: Iterable[float | None], q: float) -> float | None:
    array = _clean(values)
    return float(np.percentile(array, q)) if array.size else None


def bootstrap_ci(array: np.ndarray, statistic: str, *, seed: int = 0,
                 resamples: int = BOOTSTRAP_RESAMPLES, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean or median of `array`."""
    rng = np.random.default_rng(seed)
    func = np.mean if statistic == "mean" else np.median
    estimates = []
    for start in range(0, resamples, _BLOCK):
        block = min(_BLOCK, resamples - start)
        draws = rng.integers(0, array.size, size=(block, array.size))
        estimates.append(func(array[draws], axis=1))
    alpha = (1 - level) / 2
    low, high = np.quantile(np.concatenate(estimates), [alpha, 1 - alpha])
    return float(low), float(high)


def _order_statistic_ci(array: np.ndarray, q: float, level: float = 0.95) -> tuple[float, float]:
    """Distribution-free interval for the q-quantile from binomial order statistics."""
    ordered = np.sort(array)
    n = ordered.size
    alpha = (1 - level) / 2
    low = binom_ppf(alpha, n, q)
    high = binom_ppf(1 - alpha, n, q)
    return float(ordered[max(low - 1, 0)]), float(ordered[min(high, n - 1)])


def binom_ppf(prob: float, n: int, p: float) -> int:
    """The smallest k with P(Binomial(n, p) <= k) >= prob, as scipy.stats.binom.ppf gives it.

    Here rather than scipy's: importing scipy.stats takes 1-2 s, paid in the report of every level
    past BOOTSTRAP_MAX_N values, after the run, so also between a SIGTERM and the exit. The mass
    outside mean +/- 40 sd is below 1e-300, so the pmf is summed over that window only, built
    from its first term by the ratio pmf(k+1)/pmf(k) = (n-k)/(k+1) * p/(1-p), in logs."""
    if not 0 < p < 1:
        return 0 if p <= 0 else n
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    first, last = max(0, math.floor(mean - 40 * sd)), min(n, math.ceil(mean + 40 * sd))
    k = np.arange(first, last, dtype=np.float64)
    log_first = (math.lgamma(n + 1) - math.lgamma(first + 1) - math.lgamma(n - first + 1)
                 + first * math.log(p) + (n - first) * math.log1p(-p))
    steps = np.log((n - k) / (k + 1)) + math.log(p) - math.log1p(-p)
    cdf = np.cumsum(np.exp(log_first + np.concatenate(([0.0], np.cumsum(steps)))))
    return first + int(np.searchsorted(cdf, prob))


def summarize(values: Iterable[float | None], *, seed: int = 0,
              resamples: int = BOOTSTRAP_RESAMPLES) -> Summary:
    array = _clean(values)
    if not array.size:
        return Summary(n=0)
    p50, p90, p95, p99 = (float(x) for x in np.percentile(array, PERCENTILES))
    summary = Summary(
        n=int(array.size), mean=float(array.mean()), std=float(array.std()),
        min=float(array.min()), max=float(array.max()), p50=p50, p90=p90, p95=p95, p99=p99,
    )
    if array.size < 2:
        return summary
    if array.size <= BOOTSTRAP_MAX_N:
        summary.ci95_mean = bootstrap_ci(array, "mean", seed=seed, resamples=resamples)
        summary.ci95_p50 = bootstrap_ci(array, "median", seed=seed + 1, resamples=resamples)
        summary.ci_method = f"percentile bootstrap, {resamples} resamples, seed {seed}"
    else:
        half = 1.959964 * float(array.std(ddof=1)) / np.sqrt(array.size)
        summary.ci95_mean = (summary.mean - half, summary.mean + half)  # type: ignore[operator]
        summary.ci95_p50 = _order_statistic_ci(array, 0.5)
        summary.ci_method = "normal approximation (mean), binomial order statistics (p50)"
    return summary
