"""Spearman's rho on mid-ranks: monotone, reversed, a hand-computed tie case, and scipy on random ties."""

import math

import numpy as np
import pytest
from scipy import stats

from speechrep.analysis.ranking import average_ranks, spearman


def test_monotone_is_one_and_reversed_is_minus_one():
    x = np.random.default_rng(0).standard_normal(50)
    assert spearman(x, np.exp(3 * x)) == pytest.approx(1.0, abs=1e-12)  # any increasing map
    assert spearman(x, -(x**3)) == pytest.approx(-1.0, abs=1e-12)


def test_hand_computed_ties():
    # ranks (1, 2.5, 2.5, 4) and (1, 3, 2, 4); centred: (-1.5, 0, 0, 1.5), (-1.5, .5, -.5, 1.5)
    # rho = 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10)
    assert average_ranks([10, 20, 20, 30]).tolist() == [1.0, 2.5, 2.5, 4.0]
    assert spearman([10, 20, 20, 30], [1, 3, 2, 4]) == pytest.approx(3 / math.sqrt(10), abs=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_matches_scipy_on_random_data_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 200))
    a = rng.integers(0, 7, n).astype(float)  # many ties
    b = rng.integers(0, 4, n) + 0.1 * a
    np.testing.assert_array_equal(average_ranks(a), stats.rankdata(a, method="average"))
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
    c = rng.standard_normal(n)  # no ties
    assert spearman(c, b) == pytest.approx(stats.spearmanr(c, b).statistic, abs=1e-12)


def test_undefined_cases_give_nan_and_bad_shapes_raise():
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))  # constant side
    assert math.isnan(spearman([1.0], [2.0]))
    assert math.isnan(spearman([1.0, np.nan, 3.0], [1, 2, 3]))
    with pytest.raises(ValueError, match="one length"):
        spearman([1, 2, 3], [1, 2])
