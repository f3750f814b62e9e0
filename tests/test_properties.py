"""Invariants of the random-effects structure, over random small data (hypothesis)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pylmer import LmerControl, lFormula
from pylmer.design import covariance

RELAXED = LmerControl(check_nobs_vs_nlev="ignore", check_nlev_gtr_1="ignore",
                      check_nobs_vs_nRE="ignore")


@st.composite
def small_data(draw):
    n = draw(st.integers(min_value=4, max_value=40))
    n_g = draw(st.integers(min_value=2, max_value=6))
    n_h = draw(st.integers(min_value=2, max_value=5))
    g = draw(st.lists(st.integers(0, n_g - 1), min_size=n, max_size=n))
    h = draw(st.lists(st.integers(0, n_h - 1), min_size=n, max_size=n))
    x = draw(st.lists(st.floats(-5, 5, allow_nan=False).filter(lambda v: v != 0),
                      min_size=n, max_size=n))
    y = draw(st.lists(st.floats(-100, 100, allow_nan=False), min_size=n, max_size=n))
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{k}" for k in g], "h": h})


@settings(max_examples=60, deadline=None)
@given(small_data())
def test_scalar_terms_put_one_nonzero_per_row_of_Z(data):
    lf = lFormula("y ~ x + (1 | g) + (1 | h) + (0 + x | g)", data, control=RELAXED)
    Z = lf.reTrms.Zt.T.tocsr()
    for (grp, cols), lo, hi in zip(lf.reTrms.cnms, lf.reTrms.Gp[:-1], lf.reTrms.Gp[1:]):
        block = Z[:, lo:hi]
        assert (np.diff(block.indptr) == 1).all(), grp
        # the non-zero sits in the column of the row's level
        factor = lf.reTrms.flist[grp]
        np.testing.assert_array_equal(block.indices, np.asarray(factor.codes))
        expected = np.ones(len(data)) if cols == ["(Intercept)"] else data["x"].to_numpy()
        np.testing.assert_array_equal(block.data, expected)


@pytest.mark.filterwarnings("ignore::pylmer.RankDeficiencyWarning")  # x may be constant
@settings(max_examples=60, deadline=None)
@given(small_data())
def test_vector_term_columns_per_level_match_its_lhs(data):
    lf = lFormula("y ~ x + (x | g)", data, control=RELAXED)
    Z = lf.reTrms.Zt.T.toarray()
    codes = np.asarray(lf.reTrms.flist["g"].codes)
    nl = len(lf.reTrms.flist["g"].categories)
    assert Z.shape[1] == 2 * nl
    for i, level in enumerate(codes):
        expected = np.zeros(2 * nl)
        expected[2 * level: 2 * level + 2] = [1.0, data["x"].iloc[i]]
        np.testing.assert_array_equal(Z[i], expected)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.data())
def test_theta_lambda_theta_round_trip(ncs, draw):
    nls = [draw.draw(st.integers(1, 4)) for _ in ncs]
    Lambdat, Lind = covariance.lambdat_template(ncs, nls)
    nth = sum(covariance.n_theta(nc) for nc in ncs)
    theta = np.array(draw.draw(st.lists(st.floats(-3, 3, allow_nan=False), min_size=nth,
                                        max_size=nth)))
    Lambdat.data = theta[Lind]
    # every theta appears, and reading Lambdat back through Lind recovers theta
    recovered = np.full(nth, np.nan)
    recovered[Lind] = Lambdat.data
    np.testing.assert_array_equal(recovered, theta)
    # Lambdat is upper triangular (Lambda lower) and block diagonal by level
    dense = Lambdat.toarray()
    np.testing.assert_array_equal(np.tril(dense, -1), 0)
    off = 0
    th_off = 0
    for nc, nl in zip(ncs, nls):
        block = covariance.theta_to_block(theta[th_off: th_off + covariance.n_theta(nc)], nc)
        np.testing.assert_array_equal(covariance.block_to_theta(block),
                                      theta[th_off: th_off + covariance.n_theta(nc)])
        for level in range(nl):
            s = off + level * nc
            np.testing.assert_array_equal(dense[s: s + nc, s: s + nc], block.T)
        off += nc * nl
        th_off += covariance.n_theta(nc)


@settings(max_examples=40, deadline=None)
@given(small_data(), st.randoms(use_true_random=False))
def test_permuting_rows_permutes_X_and_columns_of_Zt(data, rnd):
    order = list(range(len(data)))
    rnd.shuffle(order)
    shuffled = data.iloc[order].reset_index(drop=True)
    a = lFormula("y ~ x + (x | g) + (1 | h)", data, control=RELAXED)
    b = lFormula("y ~ x + (x | g) + (1 | h)", shuffled, control=RELAXED)
    np.testing.assert_array_equal(b.X, a.X[order])
    np.testing.assert_array_equal(b.reTrms.Zt.toarray(), a.reTrms.Zt.toarray()[:, order])
