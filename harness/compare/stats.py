"""The statistics behind a comparison: one test per row, chosen for the data, and Holm over rows.

* Median of per-request values (TTFT, TPOT, E2E, per-request tokens/s): the Mann-Whitney U
  test (two-sided, scipy).
* Tail percentiles (p95, p99): Fisher's exact test of the share of each report's values above
  the pooled percentile (Mood's median test moved to the tail). It is exact, so it stays
  honest at the tiny p-values Holm asks for, where a bootstrap's normal approximation was
  measured to reject 3-5x too often. It only has the values above the pooled percentile to
  work with, so a tail is tested from n >= 100 per side (p95) or 500 (p99); below that the row
  is shown, with its interval, but not tested.
* Per-chunk inter-token latency: the gaps of one request are not independent of each other, so
  counting gaps as the units would overstate n. The units are requests: each request's share
  of gaps above the pooled percentile, compared with Mann-Whitney U.
* Every interval is a percentile bootstrap of new - base in that statistic (for ITL resampling
  whole requests), at 1 - alpha; it is descriptive and not Holm-adjusted.
* Proportions (pass rate, error rate): Fisher's exact test; Newcombe's hybrid score interval for
  the difference.
* Token efficiency ratios (tokens per task, per solved task, reasoning share, cost): a
  permutation test over tasks, paired by (task, thinking, repeat) when both reports ran the
  same task set (swapping a task's two runs; all 2^n swaps for up to 12 tasks). With a
  7-task set the smallest p-value is 2/128: few tasks cannot prove much, and the table says so.

False positives: a comparison tests 20 to 40 rows, so the p-values are adjusted with Holm's
step-down method, which keeps the family-wise error rate (the chance that ANY row of a
comparison is called different when nothing changed) at or below alpha under any dependence
between the rows. The default alpha is 0.01, not 0.05: a nightly compares three or more models
every night, and at 5% per comparison it would raise a false alarm about once a week.

Those tests take each request as an independent draw, but two runs of one setting also differ
as wholes (a busier machine, another network path). A row is therefore better or worse only
when its adjusted p-value is below alpha AND its relative change is at least `min_effect` (5%)
or, for p95 and p99, `min_effect_tail` (10%). Measured on 40 runs of the twin at one setting
(160 requests each, a shared 2-CPU VM), the run-to-run spread of a percentile exceeded its
within-run sampling error: coefficient of variation 2.4% vs 1.2% for ITL p95, 3.6% vs 1.2% for
ITL p99, 2.4% vs 1.4% for TPOT p95, under 2.6% for every p50. The floors are about two standard
deviations of the difference of two such runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_ALPHA = 0.01  # family-wise, per comparison: see the module docstring
DEFAULT_MIN_EFFECT = 0.05
DEFAULT_MIN_EFFECT_TAIL = 0.10
DEFAULT_RESAMPLES = 2000
# Values per side below which a percentile is shown but not tested. For a tail the exceedance
# test only has the values above the pooled percentile to work with (5 of 100 at p95): under
# these counts even the most lopsided split cannot get below alpha after Holm, so "no
# significant change" would be a foregone conclusion rather than a finding.
MIN_N = {50.0: 5, 90.0: 50, 95.0: 100, 99.0: 500}
_BLOCK = 250


def _scipy_stats() -> Any:
    """scipy.stats, imported on first use: it takes a second to import, and every process that
    imports `harness.compare` (the CLI, `plot`, each pytest worker) would pay it."""
    from scipy import stats

    return stats


@dataclass(frozen=True, slots=True)
class TestResult:
    """What a test says about new - base for one statistic."""

    base: float | None
    new: float | None
    ci: tuple[float, float] | None  # of new - base, at 1 - alpha
    p: float | None  # None: not tested
    test: str
    n_base: int
    n_new: int
    note: str = ""

    @property
    def delta(self) -> float | None:
        if self.base is None or self.new is None:
            return None
        return self.new - self.base


def _clean(values: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array[np.isfinite(array)]


def min_n(q: float) -> int:
    return MIN_N.get(float(q), 20 if q > 50 else 5)


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm-adjusted p-values (monotone, capped at 1); None stays None and is not counted."""
    tested = [(p, i) for i, p in enumerate(pvalues) if p is not None]
    adjusted: list[float | None] = [None] * len(pvalues)
    m = len(tested)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(tested)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def _interval(boot: np.ndarray, alpha: float) -> tuple[float, float] | None:
    boot = boot[np.isfinite(boot)]
    if boot.size < 2:
        return None
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _boot_percentiles(array: np.ndarray, qs: Sequence[float], resamples: int,
                      rng: np.random.Generator) -> np.ndarray:
    """(resamples, len(qs)) percentiles of i.i.d. resamples of `array`, in blocks."""
    out = []
    for start in range(0, resamples, _BLOCK):
        block = min(_BLOCK, resamples - start)
        draws = array[rng.integers(0, array.size, size=(block, array.size))]
        out.append(np.percentile(draws, qs, axis=1).T)
    return np.concatenate(out).reshape(resamples, len(qs))


def _percentiles_sorted(ordered: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """numpy's default (linear) percentiles of an already sorted 1-D array, without its overhead."""
    pos = (ordered.size - 1) * np.asarray(qs, dtype=float) / 100
    low = np.floor(pos).astype(int)
    high = np.minimum(low + 1, ordered.size - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _boot_cluster_percentiles(groups: Sequence[np.ndarray], qs: Sequence[float], resamples: int,
                              rng: np.random.Generator) -> np.ndarray:
    """Percentiles of resamples that draw whole groups (requests) with replacement."""
    out = np.empty((resamples, len(qs)))
    k = len(groups)
    for b in range(resamples):
        picked = np.concatenate([groups[i] for i in rng.integers(0, k, size=k)])
        picked.sort()
        out[b] = _percentiles_sorted(picked, qs) if picked.size else np.nan
    return out


def exceedance_p(base: np.ndarray, new: np.ndarray, q: float) -> float:
    """Two-sided p-value that the share of values above the pooled q-th percentile differs.

    Given the pooled values the threshold is fixed and, when both samples come from one
    distribution, which values are above it is a random draw: Fisher's exact test is then exact
    (the generalisation of Mood's median test to any quantile). No resampling, no normal
    approximation, so its small p-values can be trusted after Holm.
    """
    threshold = np.percentile(np.concatenate([base, new]), q)
    ka, kb = int((base > threshold).sum()), int((new > threshold).sum())
    table = [[kb, new.size - kb], [ka, base.size - ka]]
    return float(_scipy_stats().fisher_exact(table, alternative="two-sided").pvalue)


def grouped_exceedance_p(base: Sequence[np.ndarray], new: Sequence[np.ndarray], q: float) -> float:
    """As `exceedance_p`, for values grouped by request: each request's share of values above the
    pooled q-th percentile, compared across requests with Mann-Whitney U (requests are the
    independent units, the gaps within one are not)."""
    threshold = np.percentile(np.concatenate([*base, *new]), q)
    sa = np.array([float((g > threshold).mean()) for g in base])
    sb = np.array([float((g > threshold).mean()) for g in new])
    return _mannwhitney(sa, sb)


def _mannwhitney(base: np.ndarray, new: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        p = float(_scipy_stats().mannwhitneyu(new, base, alternative="two-sided").pvalue)
    return p if math.isfinite(p) else 1.0  # every value tied: no evidence of a difference


def compare_percentiles(base: Sequence[float], new: Sequence[float], qs: Sequence[float], *,
                        alpha: float = DEFAULT_ALPHA, resamples: int = DEFAULT_RESAMPLES,
                        seed: int = 0) -> list[TestResult]:
    """One result per percentile q of independent per-request values (ms, tokens/s)."""
    a, b = _clean(base), _clean(new)
    rng = np.random.default_rng(seed)
    results: list[TestResult] = []
    n = min(a.size, b.size)
    described = [q for q in qs if n >= min(min_n(q), 20)]  # an interval, even when not tested
    boots: dict[float, np.ndarray] = {}
    if described:
        ba = _boot_percentiles(a, described, resamples, rng)
        bb = _boot_percentiles(b, described, resamples, rng)
        boots = {q: bb[:, j] - ba[:, j] for j, q in enumerate(described)}
    for q in qs:
        va = float(np.percentile(a, q)) if a.size else None
        vb = float(np.percentile(b, q)) if b.size else None
        if n < min_n(q) or va is None or vb is None:
            results.append(TestResult(va, vb, _interval(boots[q], alpha) if q in boots else None,
                                      None, "-", int(a.size), int(b.size),
                                      note=f"not tested: p{q:g} needs n >= {min_n(q)} per side"))
            continue
        if q == 50:
            p, test = _mannwhitney(a, b), "Mann-Whitney U"
        else:
            p, test = exceedance_p(a, b, q), f"Fisher exact, share above pooled p{q:g}"
        results.append(TestResult(va, vb, _interval(boots[q], alpha), p, test, int(a.size),
                                  int(b.size)))
    return results


def compare_clustered(base: Sequence[Sequence[float]], new: Sequence[Sequence[float]],
                      qs: Sequence[float], *, alpha: float = DEFAULT_ALPHA,
                      resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> list[TestResult]:
    """Percentiles of values grouped by request (per-chunk ITL): requests are the units."""
    ga = [g for g in (_clean(x) for x in base) if g.size]
    gb = [g for g in (_clean(x) for x in new) if g.size]
    a = np.concatenate(ga) if ga else np.empty(0)
    b = np.concatenate(gb) if gb else np.empty(0)
    rng = np.random.default_rng(seed)
    # a percentile needs both enough values and enough requests
    testable = [q for q in qs if min(a.size, b.size) >= min_n(q) and min(len(ga), len(gb)) >= 10]
    boots: dict[float, np.ndarray] = {}
    if testable:
        ba = _boot_cluster_percentiles(ga, testable, resamples, rng)
        bb = _boot_cluster_percentiles(gb, testable, resamples, rng)
        boots = {q: bb[:, j] - ba[:, j] for j, q in enumerate(testable)}
    results = []
    for q in qs:
        va = float(np.percentile(a, q)) if a.size else None
        vb = float(np.percentile(b, q)) if b.size else None
        if q not in boots or va is None or vb is None:
            results.append(TestResult(va, vb, None, None, "-", int(a.size), int(b.size),
                                      note="not tested: too few values or requests"))
            continue
        results.append(TestResult(va, vb, _interval(boots[q], alpha),
                                  grouped_exceedance_p(ga, gb, q),
                                  f"Mann-Whitney U over requests, share above pooled p{q:g}",
                                  int(a.size), int(b.size)))
    return results


def newcombe_interval(k1: int, n1: int, k2: int, n2: int,
                      alpha: float = DEFAULT_ALPHA) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p2 - p1 (method 10), from Wilson intervals."""
    z = float(_scipy_stats().norm.isf(alpha / 2))

    def wilson(k: int, n: int) -> tuple[float, float]:
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return centre - half, centre + half

    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1)
    l2, u2 = wilson(k2, n2)
    d = p2 - p1
    low = d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    high = d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return max(-1.0, low), min(1.0, high)


def compare_proportions(k1: int, n1: int, k2: int, n2: int, *,
                        alpha: float = DEFAULT_ALPHA) -> TestResult:
    """Fisher's exact test of k1/n1 against k2/n2 (base, new)."""
    if n1 == 0 or n2 == 0:
        return TestResult(k1 / n1 if n1 else None, k2 / n2 if n2 else None, None, None, "-",
                          n1, n2, note="not tested: no trials on one side")
    table = [[k2, n2 - k2], [k1, n1 - k1]]
    p = float(_scipy_stats().fisher_exact(table, alternative="two-sided").pvalue)
    return TestResult(k1 / n1, k2 / n2, newcombe_interval(k1, n1, k2, n2, alpha), min(p, 1.0),
                      "Fisher exact", n1, n2)


Statistic = Callable[[np.ndarray], float]


def permutation_p(base: np.ndarray, new: np.ndarray, statistic: Statistic, *, paired: bool,
                  resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> float:
    """Two-sided permutation p-value of statistic(new) - statistic(base).

    Paired: each task's base and new rows may swap (every one of the 2^n swaps when n <= 12,
    else `resamples` random ones); unpaired: the rows are relabelled at random. Exact under "no
    difference", with no normal approximation; with few tasks the smallest possible p-value is
    large, which is the truth about few tasks.
    """
    observed = statistic(new) - statistic(base)
    if not math.isfinite(observed):
        return 1.0
    if observed == 0:
        return 1.0
    rng = np.random.default_rng(seed)
    tolerance = 1e-12 * max(1.0, abs(observed))
    extreme = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        if paired:
            n = len(base)
            exact = n <= 12
            if exact:
                masks = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(bool)
            else:
                masks = rng.random((resamples, n)) < 0.5
            for mask in masks:
                swapped_new = np.where(mask[:, None], base, new)
                swapped_base = np.where(mask[:, None], new, base)
                d = statistic(swapped_new) - statistic(swapped_base)
                extreme += not (abs(d) < abs(observed) - tolerance)  # NaN counts as extreme
            return extreme / len(masks) if exact else (extreme + 1) / (resamples + 1)
        pooled = np.concatenate([base, new])
        na = len(base)
        for _ in range(resamples):
            order = rng.permutation(len(pooled))
            d = statistic(pooled[order[na:]]) - statistic(pooled[order[:na]])
            extreme += not (abs(d) < abs(observed) - tolerance)
    return (extreme + 1) / (resamples + 1)


def compare_grouped(base: np.ndarray, new: np.ndarray, statistic: Statistic, *, paired: bool,
                    alpha: float = DEFAULT_ALPHA, resamples: int = DEFAULT_RESAMPLES,
                    seed: int = 0, test: str = "") -> TestResult:
    """A statistic of a table of rows (tasks x columns): permutation p-value, bootstrap interval.

    `paired`: row i of base and row i of new are the same task, resampled and permuted together
    (the difference then excludes how hard each task is).
    """
    rng = np.random.default_rng(seed)
    va, vb = statistic(base), statistic(new)
    na, nb = len(base), len(new)
    if min(na, nb) < 2 or not (math.isfinite(va) and math.isfinite(vb)):
        return TestResult(_finite(va), _finite(vb), None, None, "-", na, nb,
                          note="not tested: too few tasks or an undefined value")
    boot = np.empty(resamples)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(resamples):
            ia = rng.integers(0, na, size=na)
            ib = ia if paired else rng.integers(0, nb, size=nb)
            boot[i] = statistic(new[ib]) - statistic(base[ia])
    p = permutation_p(base, new, statistic, paired=paired, resamples=resamples, seed=seed + 1)
    kind = "paired permutation over tasks" if paired else "permutation over tasks"
    return TestResult(va, vb, _interval(boot, alpha), p, test or kind, na, nb)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def relative(base: float | None, new: float | None) -> float | None:
    if base is None or new is None or base == 0:
        return None
    return (new - base) / abs(base)
