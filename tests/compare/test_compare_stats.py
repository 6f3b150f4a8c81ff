"""The statistics: each test on its own, then whole comparisons of reports with known differences.

Every random draw is seeded, so each assertion about "at the stated confidence" is a fixed
outcome, not a flaky one; the repetition counts are small enough to keep the file quick.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.compare.load import Loaded
from harness.compare.rows import BETTER, NOT_TESTED, SAME, WORSE, CompareSettings, _row, compare, decide
from harness.compare.stats import (
    compare_clustered,
    compare_grouped,
    compare_percentiles,
    compare_proportions,
    exceedance_p,
    holm,
    newcombe_interval,
    permutation_p,
    relative,
)

from .conftest import make_report

FAST = CompareSettings(resamples=300)


def _gamma(seed: int, mean: float, n: int, cv: float = 0.3) -> np.ndarray:
    shape = 1 / cv**2
    return np.random.default_rng(seed).gamma(shape, mean / shape, n)


def _bench(report) -> Loaded:  # type: ignore[no-untyped-def]
    return Loaded(Path("x.json"), "bench", bench=report)


# -- single tests ------------------------------------------------------------------------------------
def test_holm_matches_the_textbook_example() -> None:
    adjusted = holm([0.01, 0.04, 0.03, None, 0.005])
    assert adjusted[3] is None
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, None, 0.02])


def test_holm_is_monotone_and_capped() -> None:
    adjusted = holm([0.5, 0.9, 0.01, 0.011])
    assert all(a is not None and 0 <= a <= 1 for a in adjusted)
    assert adjusted[2] <= adjusted[3] <= adjusted[0] <= adjusted[1]  # type: ignore[operator]


def test_shifted_latency_is_found_by_every_percentile_test() -> None:
    base, new = _gamma(1, 120, 600), _gamma(2, 150, 600)
    results = compare_percentiles(base, new, (50, 95, 99), resamples=300)
    assert [r.test.split(",")[0] for r in results] == ["Mann-Whitney U", "Fisher exact", "Fisher exact"]
    assert results[0].p < 1e-10 and results[1].p < 1e-4  # type: ignore[operator]
    low, high = results[0].ci  # type: ignore[misc]
    assert 0 < low < 30 < high  # the interval of the median's change covers the true +30 ms


def test_same_distribution_is_not_found() -> None:
    results = compare_percentiles(_gamma(3, 120, 600), _gamma(4, 120, 600), (50, 95, 99),
                                  resamples=300)
    assert all(r.p is not None and r.p > 0.01 for r in results)
    assert all(r.ci is not None and r.ci[0] < 0 < r.ci[1] for r in results)


def test_a_tail_needs_enough_values_to_be_tested() -> None:
    # 60 values a side: at most 6 above the pooled p95, too few for any split to be
    # significant, so the row is described (value, interval) but not tested
    results = compare_percentiles(_gamma(5, 120, 60), _gamma(6, 150, 60), (50, 95, 99))
    assert results[0].p is not None
    assert results[1].p is None and "n >= 100" in results[1].note and results[1].ci is not None
    assert results[2].p is None and "n >= 500" in results[2].note
    assert compare_percentiles(_gamma(5, 120, 10), _gamma(6, 120, 10), (95,))[0].ci is None


def test_exceedance_test_is_exact_for_identical_samples() -> None:
    values = _gamma(7, 10, 200)
    assert exceedance_p(values, values.copy(), 95) == 1.0


def test_clustered_itl_counts_requests_not_gaps() -> None:
    base = [_gamma(100 + i, 8, 50) for i in range(40)]
    # 8 of 40 requests stalled (every gap doubled): 400 slow gaps, but only 8 slow requests
    few = [_gamma(200 + i, 16 if i < 8 else 8, 50) for i in range(40)]
    tail = compare_clustered(base, few, (95,), resamples=200)[0]
    assert "over requests" in tail.test and tail.delta > 0  # type: ignore[operator]
    naive = exceedance_p(np.concatenate(base), np.concatenate(few), 95)
    assert naive < 1e-6 < 1e-3 < tail.p  # type: ignore[operator]  # gaps as units overstate n
    # most requests slower: the requests themselves show it
    many = [_gamma(300 + i, 12 if i < 30 else 8, 50) for i in range(40)]
    assert compare_clustered(base, many, (95,), resamples=200)[0].p < 1e-4  # type: ignore[operator]
    same = compare_clustered(base, [_gamma(400 + i, 8, 50) for i in range(40)], (50, 95),
                             resamples=200)
    assert all(r.p is not None and r.p > 0.01 for r in same)


def test_proportions_use_fisher_and_newcombe() -> None:
    result = compare_proportions(18, 20, 6, 20)
    assert result.test == "Fisher exact"
    assert result.p is not None and result.p < 0.001
    low, high = result.ci  # type: ignore[misc]
    assert -1 <= low < -0.6 < high < 0
    assert newcombe_interval(10, 10, 10, 10)[0] < 0 < newcombe_interval(10, 10, 10, 10)[1]
    assert compare_proportions(3, 7, 3, 7).p == 1.0


def test_paired_permutation_over_tasks_is_exact() -> None:
    base = np.array([[100.0, 1.0]] * 8) * np.arange(1, 9)[:, None] ** 0
    new = base * np.array([[1.5, 1.0]])
    mean_tokens = lambda t: float(t[:, 0].mean())  # noqa: E731
    # all 2^8 swaps; only "none swapped" and "all swapped" are as extreme as observed
    assert permutation_p(base, new, mean_tokens, paired=True) == pytest.approx(2 / 256)
    assert permutation_p(base, base.copy(), mean_tokens, paired=True) == 1.0
    result = compare_grouped(base, new, mean_tokens, paired=True, resamples=200)
    assert result.delta == pytest.approx(50.0)
    assert result.test == "paired permutation over tasks"


def test_relative_change() -> None:
    assert relative(100.0, 110.0) == pytest.approx(0.1)
    assert relative(0.0, 5.0) is None
    assert relative(None, 5.0) is None


# -- whole comparisons --------------------------------------------------------------------------------
def test_shifted_ttft_is_flagged_worse() -> None:
    base = make_report(1, n=120, efficiency=False)
    new = make_report(2, n=120, ttft_ms=150, efficiency=False)
    comparison = compare(_bench(base), _bench(new), FAST)
    verdicts = {(r.metric, r.scope): r.verdict for r in comparison.rows}
    assert verdicts[("ttft.p50", "c1")] == WORSE
    assert verdicts[("ttft.p50", "c8")] == WORSE
    assert verdicts[("output_tps.p50", "c8")] == WORSE  # slower start, fewer tokens per second
    assert verdicts[("itl.p50", "c8")] == SAME  # the gaps did not change
    assert comparison.count(BETTER) == 0


def test_noise_of_one_distribution_is_not_flagged_at_the_stated_confidence() -> None:
    """20 pairs of reports drawn from one distribution, all rows tested (minimum effects 0, so
    the statistics alone decide): at family-wise alpha 0.01 at most 1 of 20 may show any change."""
    flagged = []
    for rep in range(20):
        base = make_report(1000 + 2 * rep, n=100, levels=(4,), efficiency=False)
        new = make_report(1001 + 2 * rep, n=100, levels=(4,), efficiency=False)
        comparison = compare(_bench(base), _bench(new), CompareSettings(
            resamples=100, min_effect=0.0, min_effect_tail=0.0, seed=rep))
        assert comparison.tested >= 10
        if comparison.count(WORSE) or comparison.count(BETTER):
            flagged.append(rep)
    assert len(flagged) <= 1, f"false alarms in repetitions {flagged}"


def test_a_shift_is_found_in_every_repetition() -> None:
    found = 0
    for rep in range(10):
        base = make_report(2000 + 2 * rep, n=100, levels=(4,), efficiency=False)
        new = make_report(2001 + 2 * rep, n=100, levels=(4,), efficiency=False, ttft_ms=150)
        rows = {r.metric: r for r in compare(_bench(base), _bench(new),
                                             CompareSettings(resamples=100, seed=rep)).rows}
        found += rows["ttft.p50"].verdict == WORSE
    assert found == 10


def test_significant_but_tiny_change_is_not_called() -> None:
    """Thousands of requests make a 2% shift significant; under the 5% minimum effect it is no
    change anyone should act on. The same data at a 1% minimum effect is worse."""
    result = compare_percentiles(_gamma(5, 120, 4000, cv=0.1), _gamma(6, 122.4, 4000, cv=0.1),
                                 (50,), resamples=200)[0]
    for min_effect, verdict in ((0.05, SAME), (0.01, WORSE)):
        row = _row("ttft.p50", "c8", result)
        decide([row], CompareSettings(min_effect=min_effect))
        assert row.p_adj is not None and row.p_adj < 1e-6
        assert row.verdict == verdict
    assert "under the 5% minimum effect" in _decided(result, 0.05).note


def _decided(result, min_effect):  # type: ignore[no-untyped-def]
    row = _row("ttft.p50", "c8", result)
    decide([row], CompareSettings(min_effect=min_effect))
    return row


def test_efficiency_rows_pass_rate_and_tokens() -> None:
    base = make_report(7, n=30, levels=(1,), passed=[True] * 8)
    fewer = make_report(8, n=30, levels=(1,), passed=[False] * 8)
    rows = {(r.metric, r.scope): r for r in compare(_bench(base), _bench(fewer), FAST).rows}
    pass_on = rows[("pass_rate", "thinking on")]
    assert pass_on.base == 1.0 and pass_on.new == 0.0 and pass_on.test == "Fisher exact"
    assert pass_on.verdict == WORSE
    assert rows[("tokens_per_solved_task", "thinking on")].new is None  # nothing solved
    assert rows[("tokens_per_solved_task", "thinking on")].verdict == NOT_TESTED
    verbose = make_report(9, n=30, levels=(1,), passed=[True] * 8, token_scale=2.0)
    rows = {(r.metric, r.scope): r for r in compare(_bench(base), _bench(verbose), FAST).rows}
    tokens = rows[("tokens_per_task", "thinking off")]
    assert tokens.rel == pytest.approx(1.0, abs=0.01)
    # 8 paired tasks: the exact permutation p-value cannot go under 2/256, so after Holm over
    # every row it is not significant: few tasks cannot prove much, and the row says so
    assert tokens.p == pytest.approx(2 / 256) and tokens.verdict == SAME
    assert tokens.ci is not None and tokens.ci[0] > 0
    assert rows[("cost_per_task", "thinking on")].delta > 0  # type: ignore[operator]
