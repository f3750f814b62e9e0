"""The fixed-effects design: R's rank decision, taken without dqrdc2 where it is clear."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from pylmer import RankDeficiencyWarning
from pylmer.design.fixed import CLEAR_RANK_MARGIN, check_rank, clearly_full_rank
from pylmer.formula.linpack import dqrdc2


def _designs():
    """Designs from well conditioned to exactly collinear: the second-last column is the
    first plus ``eps`` times noise, for eps from 1 down to 0; zero columns; fewer rows than
    columns."""
    rng = np.random.default_rng(5)
    for n, p in [(6, 2), (40, 3), (200, 5)]:
        for eps in [1.0, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-10, 0.0]:
            X = np.column_stack([np.ones(n), rng.normal(size=(n, p - 1))])
            X[:, -1] = X[:, 0] * 3.0 + eps * rng.normal(size=n)
            yield X
    yield np.column_stack([np.ones(10), np.zeros(10)])
    yield rng.normal(size=(2, 4))


@pytest.mark.parametrize("X", list(_designs()))
def test_clearly_full_rank_only_where_dqrdc2_keeps_every_column_in_place(X):
    """Where the shortcut answers, dqrdc2 has rank p and the identity pivot; check_rank's
    result is dqrdc2's either way."""
    p = X.shape[1]
    _, _, rank, pivot = dqrdc2(X, 1e-7)
    if clearly_full_rank(X):
        assert rank == p
        np.testing.assert_array_equal(pivot, np.arange(p))
    names = [f"x{j}" for j in range(p)]
    if rank == p:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            kept = check_rank(X, names, "message+drop.cols")
        np.testing.assert_array_equal(kept, np.arange(p))
    else:
        with pytest.warns(RankDeficiencyWarning):
            kept = check_rank(X, names, "message+drop.cols")
        np.testing.assert_array_equal(kept, np.sort(pivot[:rank]))


def test_clearly_full_rank_answers_for_ordinary_designs():
    """The shortcut is taken for well-conditioned designs (an intercept, a covariate, a
    factor's dummies), and declines near the threshold, where dqrdc2's rounding decides."""
    rng = np.random.default_rng(6)
    n = 300
    g = rng.integers(0, 4, n)
    X = np.column_stack([np.ones(n), rng.normal(size=n)] + [(g == k).astype(float)
                                                             for k in (1, 2, 3)])
    assert clearly_full_rank(X)
    near = X.copy()
    near[:, 1] = near[:, 0] + 1e-7 * CLEAR_RANK_MARGIN / 10 * rng.normal(size=n)
    assert not clearly_full_rank(near)

