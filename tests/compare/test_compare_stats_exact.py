"""compare's proportion statistics against published figures, to four decimals (what mutation
testing of harness/compare/stats.py showed the tests of signs and orders let through)."""

from __future__ import annotations

import pytest

from harness.compare.stats import compare_proportions, newcombe_interval


@pytest.mark.parametrize(("k1", "n1", "k2", "n2", "expected"), [
    # Newcombe (1998), Statistics in Medicine 17:873-890, table II, method 10, at 95%
    (48, 80, 56, 70, (0.0524, 0.3339)),
    (3, 10, 9, 10, (0.1705, 0.8090)),
    (0, 10, 0, 10, (-0.2775, 0.2775)),
])
def test_newcombe_interval_matches_the_published_examples(k1: int, n1: int, k2: int, n2: int,
                                                          expected: tuple[float, float]) -> None:
    low, high = newcombe_interval(k1, n1, k2, n2, alpha=0.05)
    assert (round(low, 4), round(high, 4)) == expected


def test_newcombe_interval_is_clipped_to_the_possible_differences() -> None:
    assert newcombe_interval(5, 5, 0, 5, alpha=0.05)[0] == -1.0
    assert newcombe_interval(0, 5, 5, 5, alpha=0.05)[1] == 1.0
    assert round(newcombe_interval(0, 5, 5, 5, alpha=0.05)[0], 4) == 0.3855


def test_the_default_interval_is_at_99_percent() -> None:
    low, high = newcombe_interval(48, 80, 56, 70)
    assert (round(low, 4), round(high, 4)) == (0.0054, 0.3718)  # wider than the 95% (0.0524, 0.3339)


def test_proportions_give_both_rates_the_interval_and_fishers_p() -> None:
    result = compare_proportions(6, 20, 18, 20)
    assert (result.base, result.new, result.n_base, result.n_new) == (0.3, 0.9, 20, 20)
    assert result.test == "Fisher exact" and result.note == ""
    assert result.p is not None and round(result.p, 6) == 0.000244  # two-sided, 6/20 against 18/20
    assert result.ci is not None and tuple(round(x, 4) for x in result.ci) == (0.2016, 0.801)


@pytest.mark.parametrize(("k1", "n1", "k2", "n2", "base", "new"), [
    (0, 0, 3, 4, None, 0.75),
    (3, 4, 0, 0, 0.75, None),
])
def test_proportions_with_no_trials_on_one_side_are_not_tested(k1: int, n1: int, k2: int, n2: int,
                                                               base: float | None, new: float | None) -> None:
    result = compare_proportions(k1, n1, k2, n2)
    assert (result.base, result.new, result.ci, result.p, result.test) == (base, new, None, None, "-")
    assert (result.n_base, result.n_new, result.note) == (n1, n2, "not tested: no trials on one side")
